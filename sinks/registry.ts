/**
 * The sink registry: the only way the app reaches a sink. Adding a sink is one new file and one line here.
 */
import type { Logger } from 'pino';
import { createEventHubsSink } from './azure-event-hubs.js';
import { createFileSink } from './file.js';
import { createKafkaSink } from './kafka.js';
import { createSplunkHecSink } from './splunk-hec.js';
import type { Sink, SinkFactory } from './types.js';
import type { Encoder, Formatter } from '../src/record/format.js';

// Each factory takes its own config section; the registry is keyed by the config's `type`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const FACTORIES: Record<string, SinkFactory<any>> = {
  azure_event_hubs: createEventHubsSink,
  file: createFileSink,
  kafka: createKafkaSink,
  splunk_hec: createSplunkHecSink,
};

export class UnknownSinkTypeError extends Error {
  override name = 'UnknownSinkTypeError';
}

export function sinkTypes(): string[] {
  return Object.keys(FACTORIES);
}

export function createSink(config: { name: string; type: string }, logger: Logger, { format, encode }: { format: Formatter; encode: Encoder }): Sink {
  const factory = FACTORIES[config.type];
  if (!factory) {
    throw new UnknownSinkTypeError(`sink '${config.name}': type "${config.type}" is not available in this version (available: ${sinkTypes().join(', ')})`);
  }
  return factory({ config, logger: logger.child({ component: 'sink', sink: config.name }), format, encode });
}
