/**
 * The sink registry: the only way the app reaches a sink. Adding a sink is one new file and one line here.
 *
 * A sink's module (and its client library: kafkajs, @azure/event-hubs, …) is loaded when a configured sink of
 * that type starts, not when alertbridge does: a daemon that writes to Splunk does not carry Kafka's client in its
 * memory (each SDK costs 15–30 MiB of RSS loaded).
 */
import type { Logger } from 'pino';
import type { Encoder, Formatter } from '../src/record/format.js';
import type { SendResult, Sink, SinkFactory } from './types.js';

// Each factory takes its own config section; the registry is keyed by the config's `type`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loader = () => Promise<SinkFactory<any>>;
const FACTORIES: Record<string, Loader> = {
  azure_event_hubs: async () => (await import('./azure-event-hubs.js')).createEventHubsSink,
  file: async () => (await import('./file.js')).createFileSink,
  kafka: async () => (await import('./kafka.js')).createKafkaSink,
  splunk_hec: async () => (await import('./splunk-hec.js')).createSplunkHecSink,
};

export class UnknownSinkTypeError extends Error {
  override name = 'UnknownSinkTypeError';
}

export function sinkTypes(): string[] {
  return Object.keys(FACTORIES);
}

export function createSink(
  config: { name: string; type: string },
  logger: Logger,
  { format, encode }: { format: Formatter; encode: Encoder },
): Sink {
  const load = FACTORIES[config.type];
  if (!load) {
    throw new UnknownSinkTypeError(
      `sink '${config.name}': type "${config.type}" is not available in this version (available: ${sinkTypes().join(', ')})`,
    );
  }
  let sink: Sink | undefined;
  let loading: Promise<Sink> | undefined;
  const get = (): Promise<Sink> =>
    (loading ??= load().then(
      (factory) =>
        (sink = factory({ config, logger: logger.child({ component: 'sink', sink: config.name }), format, encode })),
    ));
  return {
    name: config.name,
    type: config.type,
    async start() {
      await (await get()).start();
    },
    async send(records): Promise<void | SendResult> {
      return (await get()).send(records);
    },
    async close() {
      if (loading) await (await loading).close();
    },
    ready: () => sink?.ready?.() ?? true,
  };
}
