/**
 * Kafka sink bench: 100,000 records into a real Apache Kafka broker, twice —
 *   1. the sink alone (`send` of 500-record batches, one after another), what the sink and kafkajs can do;
 *   2. through the real pipeline (emit → dedup → BullMQ queue → sink worker), what a deployment gets end to end;
 * then every record is read back with a kafkajs consumer and counted. Starts its own redis-server and broker.
 *
 *   npx tsx bench/kafka.ts            # KAFKA_BENCH_RECORDS=100000, KAFKA_BENCH_BATCH=500, KAFKA_BENCH_COMPRESSION=gzip
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { KafkaSinkSchema } from '../sinks/kafka/config.js';
import { createKafkaSink, type KafkaSinkOptions } from '../sinks/kafka/index.js';
import { Metrics } from '../src/observability/metrics.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { mintReplicaId } from '../src/pipeline/replica.js';
import { connect } from '../src/pipeline/redis.js';
import { sinkFormat } from '../src/record/format.js';
import { normalize } from '../src/record/normalize.js';
import type { AlertRecord } from '../src/record/types.js';
import { startRedisServer } from '../src/util/redis-server.js';
import { startKafkaBroker } from '../test/peers/kafka/broker.js';
import { createTopics, readAll } from '../test/peers/kafka/reader.js';
import { loadSample } from '../test/helpers/samples.js';

const N = Number(process.env.KAFKA_BENCH_RECORDS ?? 100_000);
const BATCH = Number(process.env.KAFKA_BENCH_BATCH ?? 500);
const COMPRESSION = (process.env.KAFKA_BENCH_COMPRESSION ?? 'gzip') as NonNullable<KafkaSinkOptions['compression']>;
const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' });

const rate = (n: number, ms: number) => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')} records/s`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Realistic alerts: Microsoft's alerts_v2 sample, one per id, with a few revisions so keys repeat across partitions. */
function makeRecords(n: number, label: string): AlertRecord[] {
  const sample = loadSample('alerts_v2-resource-representation.json');
  return Array.from({ length: n }, (_, i) => {
    const res = normalize(
      'alerts_v2',
      { ...sample, id: `${label}-${Math.floor(i / 4)}`, lastUpdateDateTime: `2026-11-01T10:00:0${i % 4}Z` },
      { source: 'bench', via: 'poll' },
    );
    if (!res.ok) throw new Error(res.reason);
    return res.record;
  });
}

async function main(): Promise<void> {
  console.log(`kafka bench: ${N.toLocaleString('en-US')} records, batches of ${BATCH}, compression ${COMPRESSION}`);
  let t = Date.now();
  const redis = await startRedisServer();
  const broker = await startKafkaBroker();
  console.log(`redis + Kafka ${secs(Date.now() - t)} to start`);
  const run = randomBytes(3).toString('hex');
  const sinkConfig = (name: string, topic: string): KafkaSinkOptions => ({
    name,
    brokers: broker.brokers,
    topic,
    compression: COMPRESSION,
  });
  const format = sinkFormat('envelope');

  try {
    // 1. The sink alone.
    const rawTopic = `bench-raw-${run}`;
    await createTopics(broker.brokers, [rawTopic], 3);
    const raw = makeRecords(N, `raw-${run}`);
    const bytes = raw.reduce((a, r) => a + Buffer.byteLength(JSON.stringify(r)), 0);
    const sink = createKafkaSink({
      config: KafkaSinkSchema.parse({ type: 'kafka', ...sinkConfig('raw', rawTopic) }),
      logger,
      ...format,
    });
    await sink.start();
    t = Date.now();
    for (let i = 0; i < raw.length; i += BATCH) await sink.send(raw.slice(i, i + BATCH));
    const rawMs = Date.now() - t;
    await sink.close();
    console.log(
      `sink alone:     ${secs(rawMs)}  ${rate(N, rawMs)}  (${(bytes / 1e6 / (rawMs / 1000)).toFixed(1)} MB/s of JSON, ${Math.round(bytes / N)} B per record)`,
    );

    // 2. Through the pipeline.
    const pipeTopic = `bench-pipe-${run}`;
    await createTopics(broker.brokers, [pipeTopic], 3);
    const records = makeRecords(N, `pipe-${run}`);
    const cfg = { url: redis.url };
    const conns = [connect(cfg), connect(cfg, { blocking: true }), connect(cfg, { blocking: true })] as const;
    const metrics = new Metrics({ defaultMetrics: false });
    const pipeSink = createKafkaSink({
      config: KafkaSinkSchema.parse({ type: 'kafka', ...sinkConfig('kafka', pipeTopic) }),
      logger: logger.child({ sink: 'kafka' }),
      ...format,
    });
    const pipeline = new Pipeline({
      takeoverMs: 30_000,
      replicaId: mintReplicaId(),
      prefix: `bench:${run}`,
      dedupTtlMs: 3_600_000,
      dispatchBatchMax: 1000,
      redis: conns[0],
      queueRedis: conns[1],
      dispatchRedis: conns[2],
      metrics,
      logger,
      sinks: [
        {
          sink: pipeSink,
          maxRecords: BATCH,
          runtime: {
            retry: { max_attempts: 10, initial_backoff_ms: 100, max_backoff_ms: 5000 },
            concurrency: 1,
            deadLetterMax: N,
          },
        },
      ],
    });
    await pipeSink.start();
    await pipeline.start();
    t = Date.now();
    for (let i = 0; i < records.length; i += 1000) await pipeline.emit(records.slice(i, i + 1000));
    const emitMs = Date.now() - t;
    const delivered = async () =>
      (await metrics.registry.getSingleMetric('alertbridge_records_delivered_total')!.get()).values.reduce(
        (a, v) => a + v.value,
        0,
      );
    while ((await delivered()) < N) {
      if (Date.now() - t > 15 * 60_000) throw new Error(`only ${await delivered()} delivered after 15 minutes`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const pipeMs = Date.now() - t;
    const dead = await pipeline.deadLetters.count('kafka');
    await pipeline.close();
    await pipeSink.close();
    for (const c of conns) await c.quit();
    console.log(
      `pipeline:       ${secs(pipeMs)}  ${rate(N, pipeMs)}  end to end (emit alone ${secs(emitMs)}, ${rate(N, emitMs)}); dead letters ${dead}`,
    );

    // 3. Read back.
    t = Date.now();
    const [gotRaw, gotPipe] = [
      await readAll(broker.brokers, [rawTopic], 300_000),
      await readAll(broker.brokers, [pipeTopic], 300_000),
    ];
    const readMs = Date.now() - t;
    const distinct = (ms: typeof gotRaw) =>
      new Set(ms.map((m) => `${m.key}@${m.headers['alertbridge-revision']}`)).size;
    console.log(`read back:      ${secs(readMs)}  ${rate(gotRaw.length + gotPipe.length, readMs)} (consumer)`);
    console.log(
      `check:          sink alone ${gotRaw.length} messages / ${distinct(gotRaw)} distinct; pipeline ${gotPipe.length} / ${distinct(gotPipe)} distinct (expected ${N} each)`,
    );
    if (distinct(gotRaw) !== N || distinct(gotPipe) !== N) process.exitCode = 1;
  } finally {
    await broker.stop();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(2);
});
