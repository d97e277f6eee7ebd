/**
 * The real pipeline in this process (emit → dedup+stage Lua → inbox → dispatcher → BullMQ queue → sink worker),
 * driven the way a source drives it: `emit` in chunks of 1,000, then wait until the sink acknowledged every record
 * (`alertbridge_records_delivered_total`). The clock runs from the first emit to the last acknowledgement.
 */
import pino, { type Logger } from 'pino';
import type { Sink } from '../../sinks/types.js';
import { Metrics } from '../../src/observability/metrics.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { mintReplicaId } from '../../src/pipeline/replica.js';
import { connect } from '../../src/pipeline/redis.js';
import type { AlertRecord } from '../../src/record/types.js';
import { sleep } from './stats.js';

export const benchLogger: Logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' });

export interface PipelineRunOptions {
  redisUrl: string;
  prefix: string;
  sink: Sink;
  records: readonly AlertRecord[];
  /** `batch.max_records` (product default 500). */
  batch?: number;
  /** `concurrency` (product default 1). */
  concurrency?: number;
  timeoutMs?: number;
}

export interface PipelineRun {
  /** First emit → last acknowledgement. */
  ms: number;
  /** First emit → last emit resolved. */
  emitMs: number;
  delivered: number;
  deadLetters: number;
}

export async function runPipeline(o: PipelineRunOptions): Promise<PipelineRun> {
  const cfg = { url: o.redisUrl };
  const conns = [connect(cfg), connect(cfg, { blocking: true }), connect(cfg, { blocking: true })] as const;
  const metrics = new Metrics({ defaultMetrics: false });
  const pipeline = new Pipeline({
    takeoverMs: 30_000,
    replicaId: mintReplicaId(),
    prefix: o.prefix,
    dedupTtlMs: 604_800_000,
    dispatchBatchMax: 1000,
    redis: conns[0],
    queueRedis: conns[1],
    dispatchRedis: conns[2],
    metrics,
    logger: benchLogger,
    sinks: [
      {
        sink: o.sink,
        maxRecords: o.batch ?? 500,
        runtime: {
          retry: { max_attempts: 10, initial_backoff_ms: 1000, max_backoff_ms: 300_000 },
          concurrency: o.concurrency ?? 1,
          deadLetterMax: 100_000,
        },
      },
    ],
  });
  const counter = metrics.registry.getSingleMetric('alertbridge_records_delivered_total')!;
  const delivered = async () => (await counter.get()).values.reduce((a, v) => a + v.value, 0);
  try {
    await pipeline.start();
    const t0 = performance.now();
    for (let i = 0; i < o.records.length; i += 1000) await pipeline.emit(o.records.slice(i, i + 1000));
    const emitMs = performance.now() - t0;
    const deadline = Date.now() + (o.timeoutMs ?? 15 * 60_000);
    let n = 0;
    while ((n = await delivered()) < o.records.length) {
      if (Date.now() > deadline) throw new Error(`only ${n} of ${o.records.length} delivered in time`);
      await sleep(10);
    }
    const ms = performance.now() - t0;
    return { ms, emitMs, delivered: n, deadLetters: await pipeline.deadLetters.count(o.sink.name) };
  } finally {
    await pipeline.close();
    for (const c of conns) await c.quit().catch(() => c.disconnect());
  }
}
