/**
 * `alertbridge doctor` for an `azure_event_hubs` sink: `getEventHubProperties` on the hub with the sink's credentials
 * and transport — it connects, authenticates (CBS) and reads the hub's partitions, and sends no event.
 */
import { EventHubProducerClient, type EventHubClientOptions } from '@azure/event-hubs';
import { WebSocket } from 'undici';
import {
  createCredential,
  EVENT_HUB_NAME,
  probeNames,
  httpDispatcher,
  readSecretFile,
  redactUrlsIn,
  withTimeout,
  type ProbeResult,
  type SinkProbe,
} from '../kit.js';
import type { EventHubsSinkConfig } from './config.js';

/** The key of a connection string or a SAS never reaches a doctor line. */
const redact = (s: string): string =>
  redactUrlsIn(s.replace(/(SharedAccessKey|SharedAccessSignature)=[^;"\s]*/gi, '$1=***'));

export const probe: SinkProbe<EventHubsSinkConfig> = async ({ config, timeoutMs, samples }): Promise<ProbeResult[]> => {
  if (config.event_hub_name === undefined) return probeHub(config, undefined, timeoutMs);
  const names = probeNames(config.event_hub_name, EVENT_HUB_NAME, samples);
  if ('skip' in names) return [{ check: 'hub', status: 'skip', detail: names.skip }];
  const out: ProbeResult[] = names.invalid.map((reason) => ({
    check: 'hub',
    status: 'fail',
    detail: reason,
    fix: "change event_hub_name so that every source's records name a valid event hub",
  }));
  for (const hub of names.names) out.push(...(await probeHub(config, hub, timeoutMs)));
  return out;
};

/** `getEventHubProperties` of one hub (undefined: the connection string's EntityPath). */
async function probeHub(
  config: EventHubsSinkConfig,
  hub: string | undefined,
  timeoutMs: number,
): Promise<ProbeResult[]> {
  // One line per hub when the name is a template; else just `hub`.
  const check = hub !== undefined && config.event_hub_name?.includes('{') ? `hub ${hub}` : 'hub';
  let options: EventHubClientOptions = {
    retryOptions: { maxRetries: 0, timeoutInMs: timeoutMs },
    userAgent: 'alertbridge',
  };
  if (config.transport === 'websocket') {
    const dispatcher = httpDispatcher({ proxyUrl: config.proxy_url });
    class ProxiedWebSocket extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, { protocols: protocols ?? [], dispatcher });
      }
    }
    options = { ...options, webSocketOptions: { webSocket: ProxiedWebSocket as never } };
  }
  let client: EventHubProducerClient;
  try {
    if (config.fully_qualified_namespace) {
      const credential = createCredential({ ...config, auth: config.auth!, authority_url: config.authority_url! });
      client = new EventHubProducerClient(config.fully_qualified_namespace, hub ?? '', credential, options);
    } else {
      const cs = readSecretFile(config.connection_string_file)?.trim() || config.connection_string || '';
      client = hub ? new EventHubProducerClient(cs, hub, options) : new EventHubProducerClient(cs, options);
    }
  } catch (err) {
    return [
      {
        check,
        status: 'fail',
        detail: `cannot use the connection settings: ${redact((err as Error).message)}`,
        fix: 'connection_string must be Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=<hub>]',
      },
    ];
  }
  const abort = new AbortController();
  try {
    const props = await withTimeout(
      client.getEventHubProperties({ abortSignal: abort.signal }),
      timeoutMs,
      'getEventHubProperties',
    );
    return [
      {
        check,
        status: 'pass',
        detail: `${props.name}: ${props.partitionIds.length} partition(s), credentials accepted`,
      },
    ];
  } catch (err) {
    return [eventHubsFailure(err, client.eventHubName, check)];
  } finally {
    abort.abort();
    await client.close().catch(() => undefined);
  }
}

function eventHubsFailure(err: unknown, hub: string, check: string): ProbeResult {
  const e = err as Error & { code?: string };
  const detail = `${redact(e.message)}${e.code ? ` [${e.code}]` : ''}`;
  if (e.code === 'UnauthorizedError')
    return {
      check,
      status: 'fail',
      detail: `the namespace refuses the credentials: ${detail}`,
      fix: 'use a connection string of a policy with Send on this hub (or namespace), or grant the Entra ID app the role Azure Event Hubs Data Sender',
    };
  if (e.code === 'MessagingEntityNotFoundError')
    return {
      check,
      status: 'fail',
      detail: `event hub ${hub} does not exist: ${detail}`,
      fix: `create event hub ${hub} in the namespace, or fix event_hub_name (EntityPath)`,
    };
  return {
    check,
    status: 'fail',
    detail,
    fix: 'check the namespace host, port 5671 (amqp) or 443 (websocket, with proxy_url) and the network path',
  };
}
