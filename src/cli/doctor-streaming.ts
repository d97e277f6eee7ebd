/**
 * `alertbridge doctor` for a `defender_streaming` source: the Event Hub answers with the source's credentials
 * (`getEventHubProperties`), and the consumer group can be read — a receiver on one partition, opened at the latest
 * position and closed once it has waited a second: nothing is consumed, no checkpoint or ownership is written, and
 * a running alertbridge's readers (which hold an owner level) are never displaced.
 */
import { EventHubConsumerClient, latestEventPosition } from '@azure/event-hubs';
import type { ProbeResult } from '../../sinks/types.js';
import type { Config } from '../config/schema.js';
import { createCredential } from '../entra/credential.js';
import { withTimeout } from '../util/timeout.js';
import { firstLine } from './doctor-sources.js';

type StreamingConfig = Extract<Config['sources'][number], { type: 'defender_streaming' }>;

/** `defender_streaming`: the hub's properties, then a brief read of one partition as the consumer group (latest). */
export async function streamingChecks(
  s: StreamingConfig,
  config: Readonly<Config>,
  timeoutMs: number,
): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  const graph = config.sources.filter((g) => g.type === 'graph_security');
  if (s.graph_source && !graph.some((g) => g.name === s.graph_source))
    out.push({
      check: 'graph_source',
      status: 'fail',
      detail: `no graph_security source named ${s.graph_source}`,
      fix: 'set graph_source to a graph_security source of this config',
    });
  const options = { retryOptions: { maxRetries: 0, timeoutInMs: timeoutMs }, userAgent: 'alertbridge-doctor' };
  const client = s.fully_qualified_namespace
    ? new EventHubConsumerClient(
        s.consumer_group,
        s.fully_qualified_namespace,
        s.event_hub_name,
        createCredential({ ...s, auth: s.auth!, authority_url: s.authority_url! }),
        options,
      )
    : new EventHubConsumerClient(s.consumer_group, s.connection_string ?? '', s.event_hub_name, options);
  const redact = (m: string) => firstLine(m.replace(/(SharedAccessKey|SharedAccessSignature)=[^;"\s]*/gi, '$1=***'));
  try {
    let partition: string;
    try {
      const props = await withTimeout(client.getEventHubProperties(), timeoutMs, 'getEventHubProperties');
      partition = props.partitionIds[0] ?? '0';
      out.push({
        check: 'event hub',
        status: 'pass',
        detail: `${props.name}: ${props.partitionIds.length} partition(s), credentials accepted`,
      });
    } catch (err) {
      const e = err as Error & { code?: string };
      out.push({
        check: 'event hub',
        status: 'fail',
        detail: `${redact(e.message)}${e.code ? ` [${e.code}]` : ''}`,
        fix:
          e.code === 'UnauthorizedError'
            ? 'use a connection string of a policy with Listen on the hub, or grant the app the role Azure Event Hubs Data Receiver'
            : e.code === 'MessagingEntityNotFoundError'
              ? `event hub ${s.event_hub_name} does not exist: check event_hub_name and the Streaming API's target hub`
              : 'check the namespace host and the network path (port 5671)',
      });
      return out;
    }
    out.push(await consumerGroupCheck(client, s, partition, timeoutMs, redact));
    return out;
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function consumerGroupCheck(
  client: EventHubConsumerClient,
  s: StreamingConfig,
  partition: string,
  timeoutMs: number,
  redact: (m: string) => string,
): Promise<ProbeResult> {
  const check = `consumer group ${s.consumer_group}`;
  let settle!: (r: ProbeResult) => void;
  const result = new Promise<ProbeResult>((resolve) => (settle = resolve));
  // processEvents is called (with no events) once the receiver link is open and maxWaitTimeInSeconds passed.
  const sub = client.subscribe(
    partition,
    {
      processEvents: async () =>
        settle({
          check,
          status: 'pass',
          detail: `partition ${partition} can be read (nothing was consumed or checkpointed)`,
        }),
      processError: async (err) => {
        const e = err as Error & { code?: string };
        if (e.code === 'ReceiverDisconnectedError')
          return settle({ check, status: 'pass', detail: 'readable; a running alertbridge holds the partition' });
        settle({
          check,
          status: 'fail',
          detail: `${redact(e.message)}${e.code ? ` [${e.code}]` : ''}`,
          fix:
            e.code === 'MessagingEntityNotFoundError'
              ? `create consumer group ${s.consumer_group} on hub ${s.event_hub_name} (Azure portal → Event Hubs → the hub → Consumer groups)`
              : 'the credentials need Listen on the hub (or the role Azure Event Hubs Data Receiver)',
        });
      },
    },
    { startPosition: latestEventPosition, maxWaitTimeInSeconds: 1, maxBatchSize: 1 },
  );
  try {
    return await withTimeout(result, timeoutMs, `reading as consumer group ${s.consumer_group}`).catch(
      (err: unknown): ProbeResult => ({
        check,
        status: 'fail',
        detail: (err as Error).message,
        fix: 'check the network path to the namespace',
      }),
    );
  } finally {
    await sub.close().catch(() => undefined);
  }
}
