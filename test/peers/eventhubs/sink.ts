/** Test helpers around the Event Hubs peer: a sink pointed at it, and identities of what it holds. */
import type { Logger } from 'pino';
import { EventHubsSinkSchema, type EventHubsSinkInput } from '../../../sinks/azure-event-hubs/config.js';
import {
  createEventHubsSink,
  type EventHubsSink,
  type EventHubsTuning,
} from '../../../sinks/azure-event-hubs/index.js';
import { sinkFormat } from '../../../src/record/format.js';
import { silentLogger } from '../../helpers/pipeline.js';
import type { EventHubsPeer, ReceivedEvent } from './server.js';

/** A sink on the peer's default hub, with test timings: short SDK timeout and retry delay. */
export function eventHubsSink(
  peer: EventHubsPeer | undefined,
  config: Partial<EventHubsSinkInput> & EventHubsTuning = {},
  logger: Logger = silentLogger,
): EventHubsSink {
  return createEventHubsSink({
    config: eventHubsConfig({
      name: 'eventhubs',
      connection_string: peer?.connectionString(),
      request_timeout_ms: 5000,
      retry_delay_ms: 50,
      ...config,
    }),
    logger,
    ...sinkFormat('envelope'),
  });
}

/** `key@revision` of a stored event, from its application properties. */
export const identOf = (e: ReceivedEvent): string =>
  `${String(e.properties['alertbridge-key'])}@${String(e.properties['alertbridge-revision'])}`;

export const ident = (r: { key: string; revision: string }): string => `${r.key}@${r.revision}`;

/** The sink's config as the loader builds it (defaults applied), plus the SDK knobs tests shorten. */
export function eventHubsConfig(
  input: Partial<EventHubsSinkInput> & EventHubsTuning & { name: string },
): ReturnType<typeof EventHubsSinkSchema.parse> & EventHubsTuning {
  const { request_timeout_ms, retry_delay_ms, tls_ca, fully_qualified_namespace: fqns, ...config } = input;
  // Tests point the namespace at a local port, which the schema (host names only) refuses: validated as a host name.
  const parsed = EventHubsSinkSchema.parse({
    type: 'azure_event_hubs',
    ...config,
    ...(fqns !== undefined && { fully_qualified_namespace: fqns.replace(/:\d+$/, '') }),
  });
  return {
    ...parsed,
    ...(fqns !== undefined && { fully_qualified_namespace: fqns }),
    ...(request_timeout_ms !== undefined && { request_timeout_ms }),
    ...(retry_delay_ms !== undefined && { retry_delay_ms }),
    ...(tls_ca !== undefined && { tls_ca }),
  };
}
