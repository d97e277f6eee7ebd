/**
 * Event Hubs sink bench: the real `@azure/event-hubs` client against the project's AMQP peer, which runs in a
 * process of its own (test/peers/eventhubs/child.ts) so its decoding does not share the sink's core.
 *   1. the sink alone, 500-record `send`s one after another, in two shapes: every record a different alert (one
 *      Event Hubs batch per record: the partition-key contract), and 4 revisions per alert (one batch per 4);
 *   2. 100,000 records through the real pipeline (emit → dedup → BullMQ → sink worker), 25,000 alerts × 4
 *      revisions emitted revision by revision, as polls would bring them;
 * each followed by the peer's count of what it holds. CPU time per process says what bounded the run.
 * Starts its own redis-server.
 *
 *   npx tsx bench/event-hubs.ts     # EH_BENCH_RECORDS=100000, EH_BENCH_SINK_RECORDS=20000, EH_BENCH_BATCH=500, EH_BENCH_CONCURRENCY=1
 */
import { loadavg } from 'node:os';
import pino from 'pino';
import { EventHubsSinkSchema } from '../sinks/azure-event-hubs/config.js';
import { createEventHubsSink } from '../sinks/azure-event-hubs/index.js';
import type { Sink } from '../sinks/types.js';
import { Metrics } from '../src/observability/metrics.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { mintReplicaId } from '../src/pipeline/replica.js';
import { connect } from '../src/pipeline/redis.js';
import { sinkFormat } from '../src/record/format.js';
import { normalize } from '../src/record/normalize.js';
import type { AlertRecord } from '../src/record/types.js';
import { startRedisServer } from '../src/util/redis-server.js';
import { forkEventHubsPeer, type PeerSummary } from '../test/peers/eventhubs/child.js';
import { cpuMs as cpuMsOf, ownCpuMs } from './lib/proc.js';
import { loadSample } from '../test/helpers/samples.js';

const N = Number(process.env.EH_BENCH_RECORDS ?? 100_000);
const SINK_N = Number(process.env.EH_BENCH_SINK_RECORDS ?? 20_000);
const BATCH = Number(process.env.EH_BENCH_BATCH ?? 500);
const CONCURRENCY = Number(process.env.EH_BENCH_CONCURRENCY ?? 1);
const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' });

const rate = (n: number, ms: number) => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')} records/s`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Microsoft's alerts_v2 sample as `alerts` alerts × `revisions`, ordered revision by revision or alert by alert. */
function makeRecords(
  alerts: number,
  revisions: number,
  label: string,
  order: 'by-revision' | 'by-alert',
): AlertRecord[] {
  const sample = loadSample('alerts_v2-resource-representation.json');
  const out: AlertRecord[] = [];
  for (let a = 0; a < (order === 'by-alert' ? alerts : revisions); a++) {
    for (let b = 0; b < (order === 'by-alert' ? revisions : alerts); b++) {
      const [alert, rev] = order === 'by-alert' ? [a, b] : [b, a];
      const res = normalize(
        'alerts_v2',
        { ...sample, id: `${label}-${alert}`, lastUpdateDateTime: `2026-11-01T10:00:0${rev}Z` },
        { source: 'bench', via: 'poll' },
      );
      if (!res.ok) throw new Error(res.reason);
      out.push(res.record);
    }
  }
  return out;
}

function check(label: string, expected: number, s: PeerSummary): void {
  const ok = s.distinct === expected && s.malformed === 0;
  console.log(
    `  peer holds ${s.events.toLocaleString('en-US')} events / ${s.distinct.toLocaleString('en-US')} distinct (expected ${expected.toLocaleString('en-US')}), ` +
      `${s.batches.toLocaleString('en-US')} batches (largest ${s.maxBatchBytes} B), ${s.malformed} malformed${ok ? '' : `  ← ${label} FAILED`}`,
  );
  if (!ok) process.exitCode = 1;
}

async function sinkAlone(
  sink: Sink,
  records: AlertRecord[],
  label: string,
  peerCpu: () => Promise<PeerSummary>,
): Promise<void> {
  const cpu0 = ownCpuMs();
  const t = Date.now();
  for (let i = 0; i < records.length; i += BATCH) {
    const res = await sink.send(records.slice(i, i + BATCH));
    if (res?.failed.length) throw new Error(`${res.failed.length} records failed: ${res.failed[0]!.error.message}`);
  }
  const ms = Date.now() - t;
  const cpu = ownCpuMs() - cpu0;
  const s = await peerCpu();
  console.log(
    `sink alone, ${label}: ${secs(ms)}  ${rate(records.length, ms)}  (CPU: alertbridge ${Math.round((cpu * 1000) / records.length)} µs/record, ` +
      `peer ${Math.round((s.cpuMs * 1000) / records.length)} µs/record)`,
  );
  check(label, records.length, s);
}

async function main(): Promise<void> {
  console.log(
    `event hubs bench: ${N.toLocaleString('en-US')} records through the pipeline (batches of ${BATCH}, concurrency ${CONCURRENCY}), ` +
      `${SINK_N.toLocaleString('en-US')} per sink-alone run; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );
  const redis = await startRedisServer();
  const peer = await forkEventHubsPeer({ hubs: { alerts: 8 } });
  const format = sinkFormat('envelope');
  const sinkFor = (name: string) =>
    createEventHubsSink({
      config: EventHubsSinkSchema.parse({ type: 'azure_event_hubs', name, connection_string: peer.connectionString }),
      logger: logger.child({ sink: name }),
      ...format,
    });
  const run = Date.now().toString(36);

  try {
    // 1. The sink alone.
    const sink = sinkFor('raw');
    await sink.start();
    await sink.send(makeRecords(10, 1, `warm-${run}`, 'by-alert'));
    await peer.summary();
    const bytes = makeRecords(1, 1, 'size', 'by-alert').map((r) => Buffer.byteLength(JSON.stringify(r)))[0]!;
    console.log(`record: ${bytes} B of JSON`);
    await sinkAlone(sink, makeRecords(SINK_N, 1, `one-${run}`, 'by-alert'), 'one record per alert', () =>
      peer.summary(),
    );
    await sinkAlone(sink, makeRecords(SINK_N / 4, 4, `four-${run}`, 'by-alert'), '4 revisions per alert', () =>
      peer.summary(),
    );
    await sink.close();

    // 2. Through the pipeline.
    const records = makeRecords(N / 4, 4, `pipe-${run}`, 'by-revision');
    const cfg = { url: redis.url };
    const conns = [connect(cfg), connect(cfg, { blocking: true }), connect(cfg, { blocking: true })] as const;
    const metrics = new Metrics({ defaultMetrics: false });
    const pipeSink = sinkFor('eventhubs');
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
            concurrency: CONCURRENCY,
            deadLetterMax: N,
          },
        },
      ],
    });
    await pipeSink.start();
    await pipeline.start();
    const [cpu0, redisCpu0] = [ownCpuMs(), cpuMsOf(redis.process.pid)];
    const t = Date.now();
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
    const [cpu, redisCpu] = [ownCpuMs() - cpu0, cpuMsOf(redis.process.pid) - redisCpu0];
    const dead = await pipeline.deadLetters.count('eventhubs');
    await pipeline.close();
    await pipeSink.close();
    for (const c of conns) await c.quit();
    const s = await peer.summary();
    const per = (ms: number) => `${Math.round((ms * 1000) / N)} µs/record`;
    console.log(
      `pipeline: ${secs(pipeMs)}  ${rate(N, pipeMs)} end to end (emit alone ${secs(emitMs)}, ${rate(N, emitMs)}); dead letters ${dead}`,
    );
    console.log(
      `  CPU: alertbridge ${per(cpu)} (${Math.round((100 * cpu) / pipeMs)}% of a core), redis-server ${per(redisCpu)}, peer ${per(s.cpuMs)}; ` +
        `load average now ${loadavg()[0]!.toFixed(1)}`,
    );
    check('pipeline', N, s);
    if (dead > 0) process.exitCode = 1;
  } finally {
    await peer.close();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(2);
});
