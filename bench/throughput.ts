/**
 * End-to-end throughput, ingest (`pipeline.emit`) to sink acknowledgement, for each sink beside a raw-client
 * baseline on the same records and the same peer:
 *
 * | sink | pipeline | raw baseline |
 * |---|---|---|
 * | file | file sink | `appendFile` of pre-encoded NDJSON, 500 lines a write |
 * | kafka (real broker) | kafka sink | kafkajs `sendBatch` of pre-encoded messages, 500 a call, same producer settings |
 * | splunk_hec (HEC peer) | splunk_hec sink | plain HTTP POSTs of pre-encoded HEC bodies cut as the sink cuts them |
 * | azure_event_hubs (AMQP peer) | azure_event_hubs sink | `EventHubProducerClient` batch sends of pre-encoded events |
 *
 * Both sides use the product defaults: deliveries of 500 records, one in flight. The peers run in processes of
 * their own (Kafka is a JVM), so the pipeline's one thread is measured, not the peer's.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHubProducerClient, type EventData } from '@azure/event-hubs';
import kafkajs from 'kafkajs';
import { toEvent } from '../sinks/azure-event-hubs/wire.js';
import { EventHubsSinkSchema } from '../sinks/azure-event-hubs/config.js';
import { createEventHubsSink } from '../sinks/azure-event-hubs/index.js';
import { FileSinkSchema } from '../sinks/file/config.js';
import { createFileSink } from '../sinks/file/index.js';
import { KafkaSinkSchema } from '../sinks/kafka/config.js';
import { createKafkaSink } from '../sinks/kafka/index.js';
import { SplunkHecSinkSchema } from '../sinks/splunk-hec/config.js';
import { createSplunkHecSink } from '../sinks/splunk-hec/index.js';
import type { Sink } from '../sinks/types.js';
import { sinkFormat } from '../src/record/format.js';
import type { AlertRecord } from '../src/record/types.js';
import { startKafkaBroker } from '../test/peers/kafka/broker.js';
import { createTopics, highWatermarks } from '../test/peers/kafka/reader.js';
import { forkPeer } from './lib/peer-child.js';
import { benchLogger, runPipeline } from './lib/pipeline.js';
import { CpuMeter } from './lib/proc.js';
import type { BenchRedis } from './lib/redis.js';
import { MiB } from './lib/stats.js';

const { CompressionTypes, Kafka, logLevel } = kafkajs;
const formats = sinkFormat('envelope');
const { format } = formats;
const BATCH = 500;

export const THROUGHPUT_SINKS = ['file', 'kafka', 'hec', 'eventhubs'] as const;
export type ThroughputSink = (typeof THROUGHPUT_SINKS)[number];

export interface ThroughputRow {
  sink: ThroughputSink;
  /** `pipeline` (emit → sink ack), `raw` (the client alone), or an informational variant. */
  mode: string;
  records: number;
  seconds: number;
  records_per_s: number;
  mib_per_s: number;
  /** Percent of one core per process over the run: `self` is the process running the pipeline or the raw client. */
  cpu: Record<string, number>;
  note?: string;
}

export interface ThroughputResult {
  rows: ThroughputRow[];
  /** pipeline records/s ÷ raw records/s, per sink. */
  ratios: Partial<Record<ThroughputSink, number>>;
  /** Records/s of `emit` alone (dedup + staging into Redis), measured in the pipeline runs. */
  emit_per_s: Partial<Record<ThroughputSink, number>>;
}

interface Ctx {
  redis: BenchRedis;
  records: readonly AlertRecord[];
  bytes: number;
  log: (line: string) => void;
}

function row(
  ctx: Ctx,
  sink: ThroughputSink,
  mode: string,
  ms: number,
  cpu: Record<string, number>,
  note?: string,
): ThroughputRow {
  const n = ctx.records.length;
  const r: ThroughputRow = {
    sink,
    mode,
    records: n,
    seconds: Math.round(ms) / 1000,
    records_per_s: Math.round(n / (ms / 1000)),
    mib_per_s: Math.round((ctx.bytes / MiB / (ms / 1000)) * 10) / 10,
    cpu,
    ...(note ? { note } : {}),
  };
  ctx.log(
    `  ${sink} ${mode}: ${r.records_per_s.toLocaleString('en-US')} records/s, ${r.mib_per_s} MiB/s (${r.seconds} s; CPU % ${JSON.stringify(cpu)})${note ? `; ${note}` : ''}`,
  );
  return r;
}

/** Runs the pipeline over the records with `sink`, after a short warm-up under another prefix. */
async function pipelineRow(
  ctx: Ctx,
  sinkName: ThroughputSink,
  make: (label: string) => Sink,
  pids: Record<string, number | undefined>,
  warm: readonly AlertRecord[],
  mode = 'pipeline',
  notePrefix = '',
  concurrency = 1,
) {
  const warmSink = make('warm');
  await warmSink.start();
  await runPipeline({ redisUrl: ctx.redis.url, prefix: `bench:${sinkName}:warm`, sink: warmSink, records: warm });
  await warmSink.close();
  await ctx.redis.flush();
  const sink = make('pipe');
  await sink.start();
  const meter = new CpuMeter({ self: undefined, redis: ctx.redis.pid(), ...pids });
  const run = await runPipeline({
    redisUrl: ctx.redis.url,
    prefix: `bench:${sinkName}`,
    sink,
    records: ctx.records,
    concurrency,
  });
  const cpu = meter.stop();
  await sink.close();
  await ctx.redis.flush();
  const emitRate = Math.round(ctx.records.length / (run.emitMs / 1000));
  return {
    row: row(
      ctx,
      sinkName,
      mode,
      run.ms,
      cpu,
      `${notePrefix}emit alone ${emitRate.toLocaleString('en-US')} records/s; dead letters ${run.deadLetters}`,
    ),
    emitRate,
  };
}

async function timed(
  fn: () => Promise<void>,
  pids: Record<string, number | undefined>,
): Promise<{ ms: number; cpu: Record<string, number> }> {
  const meter = new CpuMeter({ self: undefined, ...pids });
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  return { ms, cpu: meter.stop() };
}

const chunks = <T>(list: readonly T[], size = BATCH): T[][] =>
  Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));

async function fileBench(ctx: Ctx, warm: readonly AlertRecord[]): Promise<{ rows: ThroughputRow[]; emitRate: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-bench-file-'));
  try {
    // Raw: the same NDJSON the sink writes, encoded beforehand, appended 500 lines a write.
    const bodies = chunks(ctx.records).map((c) => c.map((r) => JSON.stringify(format(r))).join('\n') + '\n');
    const handle = await open(join(dir, 'raw.ndjson'), 'a');
    const raw = await timed(async () => {
      for (const b of bodies) await handle.appendFile(b, 'utf8');
    }, {});
    await handle.close();
    const rawRow = row(ctx, 'file', 'raw', raw.ms, raw.cpu);
    const pipe = await pipelineRow(
      ctx,
      'file',
      (label) =>
        createFileSink({
          config: FileSinkSchema.parse({ type: 'file', name: 'file', path: join(dir, `${label}.ndjson`) }),
          logger: benchLogger,
          ...formats,
        }),
      {},
      warm,
    );
    return { rows: [rawRow, pipe.row], emitRate: pipe.emitRate };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function kafkaBench(
  ctx: Ctx,
  warm: readonly AlertRecord[],
): Promise<{ rows: ThroughputRow[]; emitRate: number }> {
  const broker = await startKafkaBroker();
  const jvm =
    Number(spawnSync('pgrep', ['-f', broker.dir], { encoding: 'utf8' }).stdout.trim().split('\n')[0]) || undefined;
  try {
    const topics = ['bench-raw', 'bench-raw-none', 'bench-pipe', 'bench-pipe-none', 'bench-warm'];
    await createTopics(broker.brokers, topics, 3);
    // Raw: kafkajs with the sink's producer settings (idempotent, one request in flight, acks=all, gzip).
    const kafka = new Kafka({ clientId: 'bench-raw', brokers: broker.brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const encode = (r: AlertRecord) => ({
      key: r.key,
      value: Buffer.from(JSON.stringify(format(r))),
      headers: {
        'alertbridge-key': r.key,
        'alertbridge-revision': r.revision,
        'alertbridge-resource': r.resource,
        'alertbridge-provider': r.provider,
        'alertbridge-tenant': r.tenant_id,
      },
    });
    for (const c of chunks(warm))
      await producer.sendBatch({
        topicMessages: [{ topic: 'bench-warm', messages: c.map(encode) }],
        acks: -1,
        compression: CompressionTypes.GZIP,
      });
    const batches = chunks(ctx.records).map((c) => c.map(encode));
    const raw = await timed(
      async () => {
        for (const messages of batches)
          await producer.sendBatch({
            topicMessages: [{ topic: 'bench-raw', messages }],
            acks: -1,
            compression: CompressionTypes.GZIP,
          });
      },
      { kafka: jvm },
    );
    const rawRow = row(ctx, 'kafka', 'raw', raw.ms, raw.cpu, 'gzip (the sink default)');
    // The same without compression (information: how much of the raw figure is gzip).
    const rawNone = await timed(
      async () => {
        for (const messages of batches)
          await producer.sendBatch({
            topicMessages: [{ topic: 'bench-raw-none', messages }],
            acks: -1,
            compression: CompressionTypes.None,
          });
      },
      { kafka: jvm },
    );
    await producer.disconnect();
    const rawNoneRow = row(ctx, 'kafka', 'raw, no compression', rawNone.ms, rawNone.cpu, 'information only');
    const sinkFor = (topic: string, compression: 'gzip' | 'none') => (label: string) =>
      createKafkaSink({
        config: KafkaSinkSchema.parse({
          type: 'kafka',
          name: 'kafka',
          brokers: broker.brokers,
          topic: label === 'warm' ? 'bench-warm' : topic,
          compression,
        }),
        logger: benchLogger,
        ...formats,
      });
    const pipe = await pipelineRow(ctx, 'kafka', sinkFor('bench-pipe', 'gzip'), { kafka: jvm }, warm);
    const pipeNone = await pipelineRow(
      ctx,
      'kafka',
      sinkFor('bench-pipe-none', 'none'),
      { kafka: jvm },
      warm,
      'pipeline, no compression',
      'information only; ',
    );
    // The broker holds what each side sent (high watermarks: no read-back needed).
    const all = ['bench-raw', 'bench-raw-none', 'bench-pipe', 'bench-pipe-none'];
    const marks = await highWatermarks(broker.brokers, all);
    const held = (t: string) => [...marks].filter(([k]) => k.startsWith(`${t}:`)).reduce((a, [, v]) => a + v, 0);
    for (const t of all)
      if (held(t) < ctx.records.length)
        throw new Error(`kafka topic ${t} holds ${held(t)} of ${ctx.records.length} messages`);
    return { rows: [rawRow, rawNoneRow, pipe.row, pipeNone.row], emitRate: pipe.emitRate };
  } finally {
    await broker.stop();
  }
}

async function hecBench(ctx: Ctx, warm: readonly AlertRecord[]): Promise<{ rows: ThroughputRow[]; emitRate: number }> {
  const peer = await forkPeer('hec', { ack: false });
  try {
    // Raw: what the sink puts on the wire, encoded beforehand and cut by its limits (max_events 500, max_bytes 1 MB).
    const host = hostname();
    const encode = (r: AlertRecord) =>
      JSON.stringify({
        time: Date.parse(r.updated_at ?? r.ingested_at) / 1000,
        host,
        source: `alertbridge:${r.source}`,
        sourcetype: 'alertbridge:record',
        event: format(r),
        fields: { tenant_id: r.tenant_id, provider: r.provider, resource: r.resource },
      });
    const bodies: Buffer[] = [];
    for (const c of chunks(ctx.records)) {
      let cur: string[] = [];
      let size = 0;
      for (const e of c.map(encode)) {
        if (cur.length && size + e.length + 1 > 1_000_000) {
          bodies.push(Buffer.from(cur.join('\n')));
          cur = [];
          size = 0;
        }
        cur.push(e);
        size += e.length + 1;
      }
      if (cur.length) bodies.push(Buffer.from(cur.join('\n')));
    }
    const agent = new Agent({ keepAlive: true });
    const url = new URL('/services/collector/event', peer.address);
    const post = (body: Buffer) =>
      new Promise<void>((resolve, reject) => {
        const req = request(
          url,
          {
            method: 'POST',
            agent,
            headers: {
              authorization: 'Splunk test-token',
              'x-splunk-request-channel': '0b7c1a2e-3d4f-4a5b-8c6d-7e8f9a0b1c2d',
              'content-type': 'application/json',
              'content-length': body.length,
            },
          },
          (res) => {
            res.resume();
            res.on('end', () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`HEC peer answered ${res.statusCode}`)),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const raw = await timed(
      async () => {
        for (const b of bodies) await post(b);
      },
      { peer: peer.pid },
    );
    agent.destroy();
    const rawStats = await peer.stats(true);
    const rawRow = row(ctx, 'hec', 'raw', raw.ms, raw.cpu, `${bodies.length} requests`);
    const makeHec = () =>
      createSplunkHecSink({
        config: SplunkHecSinkSchema.parse({ type: 'splunk_hec', name: 'hec', url: peer.address, token: 'test-token' }),
        logger: benchLogger,
        ...formats,
      });
    const pipe = await pipelineRow(ctx, 'hec', makeHec, { peer: peer.pid }, warm);
    const s = await peer.stats(true);
    // Information: two deliveries in flight (`concurrency: 2`), which HEC, unlike Kafka's per-key order, can take.
    const pipe2 = await pipelineRow(
      ctx,
      'hec',
      makeHec,
      { peer: peer.pid },
      warm,
      'pipeline, concurrency 2',
      'information only; ',
      2,
    );
    await peer.stats(true);
    if (rawStats.distinct < ctx.records.length || s.distinct < ctx.records.length)
      throw new Error(
        `HEC peer indexed ${rawStats.distinct} (raw) and ${s.distinct} (pipeline) of ${ctx.records.length}`,
      );
    return { rows: [rawRow, pipe.row, pipe2.row], emitRate: pipe.emitRate };
  } finally {
    await peer.close();
  }
}

async function eventHubsBench(
  ctx: Ctx,
  warm: readonly AlertRecord[],
): Promise<{ rows: ThroughputRow[]; emitRate: number }> {
  const peer = await forkPeer('eventhubs', { hubs: { alerts: 8 } });
  try {
    const client = new EventHubProducerClient(peer.address);
    const events = (rs: readonly AlertRecord[]) =>
      rs.map((r) => ({ key: r.key, event: toEvent(r, JSON.stringify(format(r))) }));
    // Raw, keyed: the contract the sink keeps (partition key = record key, so one batch per distinct key in a
    // delivery), every batch of a delivery in flight at once — what the sink does, minus the pipeline.
    const keyed = async (list: Array<{ key: string; event: EventData }>) => {
      const byKey = new Map<string, EventData[]>();
      for (const e of list) (byKey.get(e.key) ?? byKey.set(e.key, []).get(e.key)!).push(e.event);
      const batches = [];
      for (const [partitionKey, evs] of byKey) {
        const b = await client.createBatch({ partitionKey });
        for (const ev of evs) if (!b.tryAdd(ev)) throw new Error('event does not fit a batch');
        batches.push(b);
      }
      await Promise.all(batches.map((b) => client.sendBatch(b)));
    };
    // Raw, unkeyed (information only): batches filled to the size limit with no partition key.
    const unkeyed = async (list: Array<{ key: string; event: EventData }>) => {
      const batches = [];
      let b = await client.createBatch();
      for (const { event } of list) {
        if (b.tryAdd(event)) continue;
        batches.push(b);
        b = await client.createBatch();
        if (!b.tryAdd(event)) throw new Error('event does not fit a batch');
      }
      batches.push(b);
      await Promise.all(batches.map((x) => client.sendBatch(x)));
    };
    for (const c of chunks(warm)) await keyed(events(c));
    const pre = chunks(ctx.records).map(events);
    await peer.stats(true);
    const raw = await timed(
      async () => {
        for (const c of pre) await keyed(c);
      },
      { peer: peer.pid },
    );
    const rawRow = row(ctx, 'eventhubs', 'raw', raw.ms, raw.cpu, 'one batch per partition key, as the contract needs');
    const rawStats = await peer.stats(true);
    const loose = await timed(
      async () => {
        for (const c of pre) await unkeyed(c);
      },
      { peer: peer.pid },
    );
    const looseRow = row(
      ctx,
      'eventhubs',
      'raw, no partition key',
      loose.ms,
      loose.cpu,
      'information only: breaks the partition-key contract',
    );
    await peer.stats(true);
    await client.close();
    const pipe = await pipelineRow(
      ctx,
      'eventhubs',
      (label) =>
        createEventHubsSink({
          config: EventHubsSinkSchema.parse({
            type: 'azure_event_hubs',
            name: label === 'warm' ? 'eventhubs-warm' : 'eventhubs',
            connection_string: peer.address,
          }),
          logger: benchLogger,
          ...formats,
        }),
      { peer: peer.pid },
      warm,
    );
    const s = await peer.stats(true);
    if (rawStats.distinct < ctx.records.length || s.distinct < ctx.records.length)
      throw new Error(
        `Event Hubs peer holds ${rawStats.distinct} (raw) and ${s.distinct} (pipeline) of ${ctx.records.length}`,
      );
    return { rows: [rawRow, looseRow, pipe.row], emitRate: pipe.emitRate };
  } finally {
    await peer.close();
  }
}

const BENCHES: Record<
  ThroughputSink,
  (ctx: Ctx, warm: readonly AlertRecord[]) => Promise<{ rows: ThroughputRow[]; emitRate: number }>
> = {
  file: fileBench,
  kafka: kafkaBench,
  hec: hecBench,
  eventhubs: eventHubsBench,
};

export async function throughput(opts: {
  redis: BenchRedis;
  records: readonly AlertRecord[];
  warm: readonly AlertRecord[];
  bytes: number;
  sinks: readonly ThroughputSink[];
  log: (l: string) => void;
}): Promise<ThroughputResult> {
  const result: ThroughputResult = { rows: [], ratios: {}, emit_per_s: {} };
  for (const sink of opts.sinks) {
    opts.log(`throughput: ${sink}`);
    try {
      const { rows, emitRate } = await BENCHES[sink](
        { redis: opts.redis, records: opts.records, bytes: opts.bytes, log: opts.log },
        opts.warm,
      );
      result.rows.push(...rows);
      result.emit_per_s[sink] = emitRate;
      const raw = rows.find((r) => r.mode === 'raw')!;
      const pipe = rows.find((r) => r.mode === 'pipeline')!;
      result.ratios[sink] = Math.round((pipe.records_per_s / raw.records_per_s) * 100) / 100;
    } catch (err) {
      opts.log(`  ${sink} FAILED: ${(err as Error).stack ?? String(err)}`);
      result.rows.push({
        sink,
        mode: 'failed',
        records: 0,
        seconds: 0,
        records_per_s: 0,
        mib_per_s: 0,
        cpu: {},
        note: (err as Error).message.split('\n')[0],
      });
    }
    await opts.redis.flush();
  }
  return result;
}
