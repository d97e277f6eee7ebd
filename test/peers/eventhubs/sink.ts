/** Test helpers around the Event Hubs peer: a sink pointed at it, and identities of what it holds. */
import type { Logger } from 'pino';
import {
  createEventHubsSink,
  type EventHubsSink,
  type EventHubsSinkOptions,
} from '../../../sinks/azure-event-hubs/index.js';
import { sinkFormat } from '../../../src/record/format.js';
import { silentLogger } from '../../helpers/pipeline.js';
import type { EventHubsPeer, ReceivedEvent } from './server.js';

/** A sink on the peer's default hub, with test timings: short SDK timeout and retry delay. */
export function eventHubsSink(
  peer: EventHubsPeer | undefined,
  config: Partial<EventHubsSinkOptions> = {},
  logger: Logger = silentLogger,
): EventHubsSink {
  return createEventHubsSink({
    config: {
      name: 'eventhubs',
      connection_string: peer?.connectionString(),
      request_timeout_ms: 5000,
      retry_delay_ms: 50,
      ...config,
    },
    logger,
    ...sinkFormat('envelope'),
  });
}

/** `key@revision` of a stored event, from its application properties. */
export const identOf = (e: ReceivedEvent): string =>
  `${String(e.properties['alertbridge-key'])}@${String(e.properties['alertbridge-revision'])}`;

export const ident = (r: { key: string; revision: string }): string => `${r.key}@${r.revision}`;
