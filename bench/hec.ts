/**
 * splunk_hec through the real pipeline against the HEC peer on loopback: throughput fault-free, and duplicates
 * under faults. Figures only; correctness is asserted in test/sinks/splunk-hec-pipeline.test.ts.
 *
 *   npx tsx bench/hec.ts [--records 100000] [--concurrency 4] [--batch 500] [--gzip] [--no-ack]
 *                        [--busy 0.2] [--lost-acks 0.1] [--ack-timeout-ms 1000]
 *
 * Uses REDIS_URL, or spawns a redis-server of its own.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { SplunkHecSinkSchema } from '../sinks/splunk-hec/config.js';
import { createSplunkHecSink } from '../sinks/splunk-hec/index.js';
import { Metrics } from '../src/observability/metrics.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { mintReplicaId } from '../src/pipeline/replica.js';
import { connect } from '../src/pipeline/redis.js';
import { sinkFormat } from '../src/record/format.js';
import { startRedisServer } from '../src/util/redis-server.js';
import { records } from '../test/helpers/records.js';
import { startHecPeer } from '../test/peers/hec/server.js';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '4' },
    batch: { type: 'string', default: '500' },
    gzip: { type: 'boolean', default: false },
    'no-ack': { type: 'boolean', default: false },
    busy: { type: 'string', default: '0' },
    'lost-acks': { type: 'string', default: '0' },
    'ack-timeout-ms': { type: 'string', default: '1000' },
  },
});

const n = Number(args.records);
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const redisServer = process.env.REDIS_URL ? undefined : await startRedisServer();
// A redis-server of our own must not outlive a failed run.
process.on('uncaughtException', (err) => {
  console.error(err);
  void (redisServer?.stop() ?? Promise.resolve()).finally(() => process.exit(1));
});
const redisCfg = { url: process.env.REDIS_URL ?? redisServer!.url };
const peer = await startHecPeer({
  ackDelayMs: 20,
  busyRate: Number(args.busy),
  ackLossRate: Number(args['lost-acks']),
  seed: 1,
});
const sink = createSplunkHecSink({
  config: SplunkHecSinkSchema.parse({
    type: 'splunk_hec',
    name: 'hec',
    url: peer.url,
    token: 'test-token',
    gzip: args.gzip,
    ack: { enabled: !args['no-ack'], poll_interval_ms: 20, timeout_ms: Number(args['ack-timeout-ms']) },
  }),
  logger,
  ...sinkFormat('envelope'),
});
const [redis, queueRedis, dispatchRedis] = [
  connect(redisCfg),
  connect(redisCfg, { blocking: true }),
  connect(redisCfg, { blocking: true }),
];
const prefix = `abbench:hec:${Date.now()}`;
const pipelineWith = (consume: boolean) =>
  new Pipeline({
    takeoverMs: 30_000,
    replicaId: mintReplicaId(),
    prefix,
    dedupTtlMs: 3_600_000,
    dispatchBatchMax: 1000,
    redis,
    queueRedis,
    dispatchRedis,
    logger,
    consume,
    metrics: new Metrics({ defaultMetrics: false }),
    sinks: [
      {
        sink,
        maxRecords: Number(args.batch),
        runtime: {
          retry: { max_attempts: 1000, initial_backoff_ms: 50, max_backoff_ms: 1000 },
          concurrency: Number(args.concurrency),
          deadLetterMax: n,
        },
      },
    ],
  });

const batch = records(n);
const want = new Set(batch.map((r) => `${r.key}@${r.revision}`));
const confirmed = new Set<string>();
const identOf = (e: (typeof peer.indexed)[number]) => {
  const r = e.event.event as { key: string; revision: string };
  return `${r.key}@${r.revision}`;
};

// Phase 1: emit everything with nothing consuming, so that phase 2 measures dispatch + delivery alone.
const emitter = pipelineWith(false);
await emitter.start();
const t0 = Date.now();
for (let i = 0; i < n; i += 1000) await emitter.emit(batch.slice(i, i + 1000));
const emitSecs = (Date.now() - t0) / 1000;
await emitter.close();

await sink.start();
const pipeline = pipelineWith(true);
const t1 = Date.now();
await pipeline.start();
let seen = 0;
for (;;) {
  // With acks on, a record counts once a copy of it was acknowledged; without, once indexed.
  for (; seen < peer.indexed.length; seen++) {
    const e = peer.indexed[seen]!;
    if (args['no-ack'] || !e.ackLost) confirmed.add(identOf(e));
  }
  if (confirmed.size >= want.size && (await pipeline.idle())) break;
  await new Promise((r) => setTimeout(r, 50));
}
const secs = (Date.now() - t1) / 1000;
const dead = await pipeline.deadLetters.count('hec');
console.log(
  JSON.stringify(
    {
      records: n,
      emit_seconds: emitSecs,
      deliver_seconds: Number(secs.toFixed(2)),
      delivered_per_second: Math.round(n / secs),
      indexed: peer.indexed.length,
      duplicates: peer.indexed.length - want.size,
      dead_letters: dead,
      hec_requests: peer.requests.filter((q) => q.path.endsWith('/event')).length,
      ack_queries: peer.requests.filter((q) => q.path.endsWith('/ack')).length,
      busy_answers: peer.requests.filter((q) => q.code === 9).length,
      lost_acks: new Set(peer.indexed.filter((e) => e.ackLost).map((e) => `${e.channel}:${e.ackId}`)).size,
      options: args,
    },
    null,
    2,
  ),
);

await pipeline.close();
await sink.close();
await peer.close();
const keys = await redis.keys(`${prefix}:*`);
if (keys.length) await redis.del(...keys);
for (const c of [redis, queueRedis, dispatchRedis]) await c.quit().catch(() => c.disconnect());
await redisServer?.stop();
