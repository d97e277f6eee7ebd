/**
 * `npm run bench`: every figure of docs/benchmarks.md, measured side by side in one run on realistic alerts.
 *
 *   npm run bench                                   # everything (about 8 minutes on 2 cores)
 *   npm run bench -- --only kafka,hec --records 20000
 *   npm run bench -- --only latency --rates 100 --latency-seconds 10
 *
 * --only        any of: file kafka hec eventhubs (throughput; `throughput` = all four), latency, burst, memory, replicas
 * --records     records per throughput and replica run (default 50000)
 * --backlog     records backed up in the memory run (default 100000)
 * --steady-rate / --steady-seconds   the memory run's steady phase (default 1000 records/s for 30 s)
 * --rates       offered loads of the latency runs (default 100,1000); --latency-seconds (default 20);
 *               --latency-modes (default notification,poll,streaming; streaming only at rates ≤ 100);
 *               --latency-poll-ms (poll mode's interval, default 1000)
 * --burst-alerts  alerts created at once in the streaming burst run, at Graph's budget of 150/min (default 500)
 * --replicas    replica counts (default 1,2,3,3c; `3c`: 3 replicas on a 3-primary / 3-replica Redis Cluster)
 * --runtime     dist (default: compiled JavaScript, as deployed) or tsx, for daemons run as child processes
 * --daemon-node-options=FLAGS   node flags for those daemons; default the image's NODE_OPTIONS (Dockerfile), as
 *               deployed. --daemon-node-options="" measures Node's own heap sizing
 * --seed        data seed (default 1)
 *
 * Prints tables and writes bench/results/latest.json (git-ignored). Needs redis-server; the Kafka run needs Java
 * and Maven (test/peers/kafka/README.md). The machine, its load average and the time taken are part of the output.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { burst, latency, type BurstResult, type LatencyMode, type LatencyRow } from './latency.js';
import { ensureBuild, setDaemonNodeArgs, type Runtime } from './lib/daemon.js';
import { LoadMonitor, loadText, machineInfo, type LoadSummary } from './lib/env.js';
import { RESULTS_DIR, ROOT } from './lib/paths.js';
import { benchRecords, envelopeBytes, graphAlerts } from './lib/records.js';
import { startBenchRedis } from './lib/redis.js';
import { fixed, int, ms, table } from './lib/stats.js';
import { memory, type MemoryResult } from './memory.js';
import { replicas, type ReplicaRow } from './replicas.js';
import { THROUGHPUT_SINKS, throughput, type ThroughputResult, type ThroughputSink } from './throughput.js';

/** NODE_OPTIONS as the image sets them (Dockerfile `ENV`), so the daemons run as deployed. */
function imageNodeOptions(): string {
  return /^\s*NODE_OPTIONS=(\S+)/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1] ?? '';
}

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    records: { type: 'string', default: '50000' },
    backlog: { type: 'string', default: '100000' },
    'steady-rate': { type: 'string', default: '1000' },
    'steady-seconds': { type: 'string', default: '30' },
    rates: { type: 'string', default: '100,1000' },
    'latency-seconds': { type: 'string', default: '20' },
    'latency-modes': { type: 'string', default: 'notification,poll,streaming' },
    'latency-poll-ms': { type: 'string', default: '1000' },
    'burst-alerts': { type: 'string', default: '500' },
    replicas: { type: 'string', default: '1,2,3,3c' },
    runtime: { type: 'string', default: 'dist' },
    'daemon-node-options': { type: 'string', default: imageNodeOptions() },
    seed: { type: 'string', default: '1' },
  },
});

const SECTIONS = ['latency', 'burst', 'memory', 'replicas'] as const;
const wanted = new Set(
  (args.only ?? [...THROUGHPUT_SINKS, ...SECTIONS].join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((s) => (s === 'throughput' ? [...THROUGHPUT_SINKS] : [s])),
);
for (const w of wanted) {
  if (![...THROUGHPUT_SINKS, ...SECTIONS].includes(w as never)) {
    console.error(`--only: unknown "${w}" (use ${[...THROUGHPUT_SINKS, 'throughput', ...SECTIONS].join(', ')})`);
    process.exit(1);
  }
}
const N = Number(args.records);
const runtime = args.runtime as Runtime;
const seed = Number(args.seed);
setDaemonNodeArgs(args['daemon-node-options']!.split(' ').filter(Boolean));
const started = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);

interface Results {
  started_at: string;
  duration_s?: number;
  options: typeof args;
  machine: ReturnType<typeof machineInfo>;
  load: Record<string, LoadSummary>;
  data: { records: number; avg_record_bytes: number };
  throughput?: ThroughputResult;
  latency?: LatencyRow[];
  burst?: BurstResult;
  memory?: MemoryResult;
  replicas?: ReplicaRow[];
  targets?: Array<{ target: string; figure: string; met: boolean | null }>;
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const whole = new LoadMonitor();
  log(
    `alertbridge bench: ${[...wanted].join(', ')}; ${machine.nproc} cores, ${machine.memory_gib} GiB, node ${machine.node}, redis ${machine.redis}`,
  );
  const results: Results = {
    started_at: new Date().toISOString(),
    options: args,
    machine,
    load: {},
    data: { records: N, avg_record_bytes: 0 },
  };
  const redis = await startBenchRedis();
  try {
    if (runtime === 'dist' && SECTIONS.some((s) => wanted.has(s))) ensureBuild();
    const sinks = THROUGHPUT_SINKS.filter((s) => wanted.has(s));
    let records: ReturnType<typeof benchRecords> = [];
    if (sinks.length || wanted.has('replicas')) {
      log(`data: ${int(N)} realistic alerts_v2 records (seed ${seed}; generated once, then cached in .cache/bench)`);
      const all = benchRecords(N + 1000, seed);
      records = all.slice(0, N);
      const bytes = envelopeBytes(records);
      results.data.avg_record_bytes = Math.round(bytes / N);
      log(`data: ${int(bytes / N)} bytes of envelope JSON per record on average`);
      if (sinks.length) {
        const load = new LoadMonitor();
        results.throughput = await throughput({ redis, records, warm: all.slice(N), bytes, sinks, log });
        results.load.throughput = load.stop();
        log(loadText(results.load.throughput));
      }
      if (wanted.has('replicas')) {
        const load = new LoadMonitor();
        results.replicas = await replicas({
          redis,
          alerts: graphAlerts(N + 1000, seed).slice(0, N),
          bytes,
          counts: args.replicas!.split(',').map((c) => c.trim()),
          runtime,
          log,
        });
        results.load.replicas = load.stop();
        log(loadText(results.load.replicas));
      }
    }
    if (wanted.has('latency')) {
      const load = new LoadMonitor();
      results.latency = await latency({
        redis,
        rates: args.rates!.split(',').map(Number),
        seconds: Number(args['latency-seconds']),
        modes: args['latency-modes']!.split(',').map((m) => m.trim()) as LatencyMode[],
        pollMs: Number(args['latency-poll-ms']),
        runtime,
        log,
      });
      results.load.latency = load.stop();
      log(loadText(results.load.latency));
    }
    if (wanted.has('burst')) {
      const load = new LoadMonitor();
      results.burst = await burst({ redis, alerts: Number(args['burst-alerts']), runtime, log });
      results.load.burst = load.stop();
      log(loadText(results.load.burst));
    }
    if (wanted.has('memory')) {
      const backlog = Number(args.backlog);
      const steadyRate = Number(args['steady-rate']);
      const steadySeconds = Number(args['steady-seconds']);
      const alerts = graphAlerts(backlog + steadyRate * steadySeconds, seed + 1);
      const load = new LoadMonitor();
      results.memory = await memory({ redis, alerts, steadyRate, steadySeconds, backlog, runtime, log });
      results.load.memory = load.stop();
      log(loadText(results.load.memory));
    }
  } finally {
    await redis.stop();
  }
  results.load.whole_run = whole.stop();
  results.duration_s = Math.round((Date.now() - started) / 1000);
  results.targets = targets(results);
  report(results);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const json = JSON.stringify(results, null, 2);
  writeFileSync(join(RESULTS_DIR, 'latest.json'), json);
  writeFileSync(join(RESULTS_DIR, `bench-${results.started_at.replace(/[:.]/g, '-')}.json`), json);
  log(`wrote bench/results/latest.json (${results.duration_s} s in all; ${loadText(results.load.whole_run)})`);
}

function targets(r: Results): Results['targets'] {
  const out: NonNullable<Results['targets']> = [];
  for (const [sink, ratio] of Object.entries(r.throughput?.ratios ?? {}))
    out.push({ target: `${sink}: pipeline/raw ≥ 0.5`, figure: fixed(ratio, 2), met: ratio >= 0.5 });
  const kafka = r.throughput?.rows.find((x) => x.sink === 'kafka' && x.mode === 'pipeline');
  if (kafka)
    out.push({
      target: 'kafka end to end ≥ 10,000 records/s',
      figure: `${int(kafka.records_per_s)} records/s`,
      met: kafka.records_per_s >= 10_000,
    });
  const notif = r.latency?.find((x) => x.mode === 'notification' && x.offered_per_s === 1000);
  if (notif)
    out.push({
      target: 'notification → sink p99 < 500 ms at 1,000/s',
      figure: `${ms(notif.p99_ms)} (delivered ${int(notif.delivered_per_s)}/s)`,
      met: notif.p99_ms < 500 && notif.delivered === notif.created,
    });
  if (r.memory) {
    const m = r.memory;
    out.push({
      target: 'daemon RSS < 200 MB at steady state',
      figure: `median ${m.steady.rss_median_mib} MiB, peak ${m.steady.rss_peak_mib} MiB`,
      met: m.steady.rss_peak_mib * 1.048576 < 200,
    });
    const first = m.backlog.rss_at_mib[0]!.rss_mib;
    const lastQ = m.backlog.rss_at_mib.at(-1)!.rss_mib;
    out.push({
      target: 'RSS flat while a sink backlog grows',
      figure: `${first} → ${lastQ} MiB over ${int(m.backlog.records)} queued (peak ${m.backlog.rss_peak_mib})`,
      met: lastQ <= first * 1.2 + 10,
    });
  }
  return out;
}

function report(r: Results): void {
  const pct = (cpu: Record<string, number>) =>
    Object.entries(cpu)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  console.log(`\n## alertbridge bench, ${r.started_at}\n`);
  console.log(
    `${r.machine.nproc} cores (${r.machine.cpu}), ${r.machine.memory_gib} GiB, node ${r.machine.node}, redis ${r.machine.redis}, commit ${r.machine.commit}; daemons run with node ${r.options['daemon-node-options'] || '(no flags)'}; ${loadText(r.load.whole_run!)}; ${r.duration_s} s\n`,
  );
  if (r.throughput) {
    console.log(
      `### Throughput, emit → sink acknowledgement (${int(r.data.records)} records, ${int(r.data.avg_record_bytes)} B each; ${loadText(r.load.throughput!)})\n`,
    );
    console.log(
      table(
        ['sink', 'mode', 'records/s', 'MiB/s', 'pipeline/raw', 'CPU % (one core = 100)', 'note'],
        r.throughput.rows.map((x) => [
          x.sink,
          x.mode,
          int(x.records_per_s),
          fixed(x.mib_per_s),
          x.mode === 'pipeline' ? fixed(r.throughput!.ratios[x.sink as ThroughputSink] ?? NaN, 2) : '',
          pct(x.cpu),
          x.note ?? '',
        ]),
      ),
    );
    console.log();
  }
  if (r.latency) {
    console.log(`### Latency (${loadText(r.load.latency!)})\n`);
    console.log(
      table(
        [
          'path',
          'offered/s',
          'created/s',
          'delivered',
          'delivered/s',
          'p50',
          'p99',
          'max',
          'p50 / p99 of those delivered',
          'ingest→sink p50 / p99',
          'CPU %',
        ],
        r.latency.map((x) => [
          x.mode === 'notification'
            ? 'creation → notification → sink'
            : x.mode === 'streaming'
              ? `creation → stream → Graph read → sink (${fixed(x.graph_requests_per_alert ?? Number.NaN, 2)} requests/alert)`
              : `creation → poll every ${fixed((x.poll_interval_ms ?? 1000) / 1000, 0)} s → sink (${fixed(x.graph_requests_per_alert ?? Number.NaN, 3)} requests/alert)`,
          x.offered_per_s,
          x.created_per_s,
          `${int(x.delivered)}/${int(x.created)}`,
          int(x.delivered_per_s),
          ms(x.p50_ms),
          ms(x.p99_ms),
          ms(x.max_ms),
          x.delivered < x.created ? `${ms(x.delivered_p50_ms)} / ${ms(x.delivered_p99_ms)}` : '',
          x.ingest_p50_ms !== undefined ? `${ms(x.ingest_p50_ms)} / ${ms(x.ingest_p99_ms!)}` : '',
          pct(x.cpu),
        ]),
      ),
    );
    console.log(
      '\n("never": not delivered within 30 s of the load ending; ingest→sink: from `ingested_at`, the moment the page was normalized)',
    );
    console.log();
  }
  if (r.burst) {
    const b = r.burst;
    console.log(`### A burst through the streaming path (${loadText(r.load.burst!)})\n`);
    console.log(
      table(
        ['figure', 'value'],
        [
          ['alerts created at once', int(b.alerts)],
          ['budget, poll interval', `${b.budget_per_minute} requests/min, ${b.poll_interval_ms / 1000} s`],
          [
            'all in the sink after',
            `${ms(b.all_in_sink_ms)} (p50 ${ms(b.p50_ms)}; one read by id each: ${b.one_get_each_s} s)`,
          ],
          ['delivered, by path', `${int(b.delivered)}: ${JSON.stringify(b.via)}`],
          ['Graph requests for the burst', `${b.reads_by_id} reads by id, ${b.list_requests} list requests`],
          ['most Graph requests in any 60 s', `${b.max_requests_per_60s} (budget ${b.budget_per_minute})`],
          ['CPU %', pct(b.cpu)],
        ],
      ),
    );
    console.log();
  }
  if (r.memory) {
    const m = r.memory;
    console.log(`### Memory (${loadText(r.load.memory!)})\n`);
    console.log(
      table(
        ['phase', 'figure'],
        [
          ['idle (started, nothing ingested)', `RSS ${m.idle_rss_mib} MiB`],
          [
            'steady state',
            `${int(m.steady.rate_achieved)} records/s for ${m.steady.seconds} s: RSS median ${m.steady.rss_median_mib} MiB, peak ${m.steady.rss_peak_mib} MiB (daemon CPU ${m.steady.daemon_cpu_pct}%)`,
          ],
          [
            "  of which (the daemon's metrics)",
            `V8 heap ${m.steady_process.heap_used_mib} MiB used of ${m.steady_process.heap_total_mib} MiB, external ${m.steady_process.external_mib} MiB`,
          ],
          [
            'HEC down, backlog growing',
            `${m.backlog.rss_at_mib.map((a) => `${int(a.backlog)}: ${a.rss_mib}`).join(' · ')} MiB RSS; peak ${m.backlog.rss_peak_mib} MiB (pushed at ${int(m.backlog.push_per_s)}/s)`,
          ],
          [
            'Redis',
            `${m.backlog.redis_before_mib} → ${m.backlog.redis_with_backlog_mib} MiB with ${int(m.backlog.records)} queued → ${m.backlog.redis_after_drain_mib} MiB drained`,
          ],
          [
            'Redis bytes per queued record',
            `${int(m.backlog.redis_bytes_per_queued_record)} B (record ${int(m.record_bytes)} B of JSON); dedup state ${int(m.backlog.redis_dedup_bytes_per_record)} B per record`,
          ],
          ['drain after the sink healed', `${m.backlog.drain_seconds} s (${int(m.backlog.drain_per_s)} records/s)`],
        ],
      ),
    );
    console.log();
  }
  if (r.replicas) {
    console.log(
      `### Replicas on one Redis and on a Redis Cluster, partner push in, file sinks out (${loadText(r.load.replicas!)})\n`,
    );
    console.log(
      table(
        [
          'replicas',
          'Redis',
          'records/s end to end',
          'MiB/s',
          'ingest (push acknowledged)/s',
          'stale revisions dropped',
          'CPU %',
        ],
        r.replicas.map((x) => [
          x.replicas,
          x.topology === 'cluster' ? '3-primary cluster' : 'one server',
          int(x.records_per_s),
          fixed(x.mib_per_s),
          int(x.ingest_per_s),
          int(x.stale),
          pct(x.cpu),
        ]),
      ),
    );
    console.log();
  }
  if (r.targets?.length) {
    console.log('### Targets\n');
    console.log(
      table(
        ['target', 'measured', 'met'],
        r.targets.map((t) => [t.target, t.figure, t.met === null ? '?' : t.met ? 'yes' : 'NO']),
      ),
    );
    console.log();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(2);
});
