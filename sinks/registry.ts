/**
 * The sink registry: the only way the app reaches a sink, and the one place a sink's type meets the config. Adding a
 * sink is one new folder (sinks/<type>/: config.ts, the sink, its client) and one line in SINKS (docs/adding-a-sink.md).
 *
 * A sink's config schema (its small config.ts) is imported here eagerly: the config union is built from it. Its
 * module (and its client library: kafkajs, @azure/event-hubs, …) is loaded only when a configured sink of that type
 * starts: a daemon that writes to Splunk does not carry Kafka's client in its memory (each SDK costs 15–30 MiB of
 * RSS loaded).
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Encoder, Formatter } from '../src/record/format.js';
import type { ProbeResult, ProbeSample, SendResult, Sink, SinkFactory, SinkProbe } from './types.js';

/** A sink type: its config schema (with a `type` literal) and the lazy loader of its factory. */
interface SinkEntry<S extends z.ZodType> {
  schema: S;
  load: () => Promise<SinkFactory<z.output<S>>>;
  /** Its `alertbridge doctor` checks (sinks/<type>/probe.ts), loaded only by the doctor. */
  probe?: () => Promise<SinkProbe<z.output<S>>>;
}

/**
 * One sink folder: its config.ts (loaded now: the config union needs its schema) exports `schema`; its index.ts
 * (loaded when a sink of the type starts) exports `create`.
 */
function sink<S extends z.ZodType>(
  config: { schema: S },
  load: () => Promise<{ create: SinkFactory<z.output<S>> }>,
  probe?: () => Promise<{ probe: SinkProbe<z.output<S>> }>,
): SinkEntry<S> {
  return {
    schema: config.schema,
    load: async () => (await load()).create,
    ...(probe ? { probe: async () => (await probe()).probe } : {}),
  };
}

/** One line per sink type, in the order of the config reference. */
export const SINKS = {
  file: sink(
    await import('./file/config.js'),
    () => import('./file/index.js'),
    () => import('./file/probe.js'),
  ),
  splunk_hec: sink(
    await import('./splunk-hec/config.js'),
    () => import('./splunk-hec/index.js'),
    () => import('./splunk-hec/probe.js'),
  ),
  kafka: sink(
    await import('./kafka/config.js'),
    () => import('./kafka/index.js'),
    () => import('./kafka/probe.js'),
  ),
  azure_event_hubs: sink(
    await import('./azure-event-hubs/config.js'),
    () => import('./azure-event-hubs/index.js'),
    () => import('./azure-event-hubs/probe.js'),
  ),
};

type Entries = (typeof SINKS)[keyof typeof SINKS];

/** The sinks' schemas, for the config union (src/config/sinks.ts). */
export const SINK_SCHEMAS = Object.values(SINKS).map((e) => e.schema) as unknown as [
  Entries['schema'],
  ...Entries['schema'][],
];

export class UnknownSinkTypeError extends Error {
  override name = 'UnknownSinkTypeError';
}

export function sinkTypes(): string[] {
  return Object.keys(SINKS).sort();
}

export function createSink(
  config: { name: string; type: string },
  logger: Logger,
  { format, encode }: { format: Formatter; encode: Encoder },
): Sink {
  const load = (SINKS as Record<string, SinkEntry<z.ZodType> | undefined>)[config.type]?.load;
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
    notReadyReason: () => sink?.notReadyReason?.(),
  };
}

/** `alertbridge doctor`'s checks of one configured sink (a type without probes says so). */
export async function probeSink(
  config: { name: string; type: string },
  logger: Logger,
  o: { timeoutMs: number; samples: readonly ProbeSample[] },
): Promise<ProbeResult[]> {
  const entry = (SINKS as Record<string, SinkEntry<z.ZodType> | undefined>)[config.type];
  if (!entry?.probe) return [{ check: 'checks', status: 'skip', detail: `no checks for sinks of type ${config.type}` }];
  const probe = await entry.probe();
  return probe({ config, logger: logger.child({ component: 'doctor', sink: config.name }), ...o });
}
