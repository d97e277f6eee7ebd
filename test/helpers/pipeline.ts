/** Builds a real Pipeline on the test Redis with fast retry settings. */
import pino from 'pino';
import { afterEach } from 'vitest';
import { Metrics } from '../../src/observability/metrics.js';
import { Pipeline, type PipelineSink } from '../../src/pipeline/pipeline.js';
import { connect } from '../../src/pipeline/redis.js';
import type { Sink } from '../../sinks/types.js';
import type { RecordFilter } from '../../src/pipeline/filter.js';
import { deletePrefix, testRedisConfig, uniquePrefix } from './redis.js';
import { mintReplicaId } from '../../src/pipeline/replica.js';
import type { Keys } from '../../src/pipeline/keys.js';

export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface TestSinkSpec {
  sink: Sink;
  filter?: RecordFilter;
  maxRecords?: number;
  maxAttempts?: number;
  deadLetterMax?: number;
  concurrency?: number;
}

export interface TestPipeline {
  pipeline: Pipeline;
  /** The command connection (also usable by sources under test). */
  redis: import('ioredis').Redis;
  metrics: Metrics;
  prefix: string;
  close(): Promise<void>;
}

export async function startTestPipeline(
  specs: TestSinkSpec[],
  opts: {
    prefix?: string;
    consume?: boolean;
    dedupTtlMs?: number;
    takeoverMs?: number;
    redisUrl?: string;
    jobAttempts?: number;
    depthRefreshMs?: number;
  } = {},
): Promise<TestPipeline> {
  const prefix = opts.prefix ?? uniquePrefix('pipe');
  // A test's own server when it names one; else the run's Redis (the cluster with ALERTBRIDGE_TEST_REDIS=cluster).
  const cfg = opts.redisUrl ? { url: opts.redisUrl } : testRedisConfig();
  const redis = connect(cfg);
  const queueRedis = connect(cfg, { blocking: true });
  const dispatchRedis = connect(cfg, { blocking: true });
  const metrics = new Metrics({ defaultMetrics: false });
  const sinks: PipelineSink[] = specs.map((s) => ({
    sink: s.sink,
    filter: s.filter,
    maxRecords: s.maxRecords ?? 100,
    runtime: {
      retry: { max_attempts: s.maxAttempts ?? 5, initial_backoff_ms: 20, max_backoff_ms: 200 },
      concurrency: s.concurrency ?? 1,
      deadLetterMax: s.deadLetterMax ?? 10_000,
    },
  }));
  const pipeline = new Pipeline({
    prefix,
    dedupTtlMs: opts.dedupTtlMs ?? 60_000,
    dispatchBatchMax: 1000,
    redis,
    queueRedis,
    dispatchRedis,
    sinks,
    metrics,
    logger: silentLogger,
    consume: opts.consume,
    takeoverMs: opts.takeoverMs ?? 5000,
    replicaId: mintReplicaId(),
    jobAttempts: opts.jobAttempts,
    depthRefreshMs: opts.depthRefreshMs ?? 0,
  });
  if (opts.consume !== false) await Promise.all(specs.map((s) => s.sink.start()));
  await pipeline.start();
  return {
    pipeline,
    metrics,
    prefix,
    redis,
    async close() {
      await pipeline.close();
      await Promise.all(specs.map((s) => s.sink.close()));
      for (const c of [redis, queueRedis, dispatchRedis]) await c.quit().catch(() => c.disconnect());
    },
  };
}

/** `startTestPipeline` for a test file: every pipeline it starts is closed and its keys deleted after each test. */
export function pipelinesPerTest(): typeof startTestPipeline {
  let started: TestPipeline[] = [];
  afterEach(async () => {
    for (const tp of started) await cleanup(tp);
    started = [];
  });
  return async (...args) => {
    const tp = await startTestPipeline(...args);
    started.push(tp);
    return tp;
  };
}

export async function cleanup(tp: TestPipeline | undefined): Promise<void> {
  if (!tp) return;
  await tp.close();
  await deletePrefix(tp.prefix);
}

/** Entries in the inbox, every shard's (keys.ts). */
export async function inboxLength(redis: import('ioredis').Redis, keys: Keys): Promise<number> {
  let n = 0;
  for (let shard = 0; shard < keys.inboxShards; shard++) n += await redis.xlen(keys.inbox(shard));
  return n;
}

export async function metricValue(
  metrics: Metrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  if (!m) return 0;
  return m.values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((a, v) => a + v.value, 0);
}
