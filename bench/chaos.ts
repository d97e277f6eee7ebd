/**
 * `npm run chaos`: fault survival as numbers. Each scenario reports records sent (acknowledged by the daemon, or
 * Graph objects whose latest revision must arrive), delivered, lost (must be 0) and duplicated.
 *
 *   npm run chaos                                   # the full run (about 10 minutes on 2 cores)
 *   npm run chaos -- --only kill9,redis --records 20000
 *   npm run chaos -- --quick                        # the sizes of the CI slice (test/chaos/)
 *
 * --only      any of: kill9 redis empty replays sinks graph fuzz sentinel cluster
 *             (empty: Redis restarted with its data wiped; replays: two `dlq replay` runs of one sink at once;
 *             sentinel: kill -9 of the Redis primary behind Sentinel, with and without durability.replicas, with
 *             replicas in sync and lagging 1 s; cluster: kill -9 of a primary of a 3-primary / 3-replica Redis
 *             Cluster, with and without durability.replicas)
 * --records   records streamed in the kill -9 and Redis runs, dead letters in the replays run (default 50000, 20000;
 *             sentinel and cluster: 20000)
 * --kills     kill -9 moments (default 5)
 * --outage-s  how long each sink stays down (default 60)
 * --sinks     sinks taken down (default hec,eventhubs,kafka; kafka needs Java and Maven)
 * --graph-s   seconds of faulty Graph (default 60)
 * --fuzz      fuzzed requests (default 5000)
 * --runtime   tsx (default) or dist
 *
 * Prints a table and writes bench/results/chaos-latest.json; exits 1 when any scenario lost a record.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ChaosResult } from './chaos/common.js';
import { fuzzWebhooks } from './chaos/fuzz.js';
import { graphFaults } from './chaos/graph-faults.js';
import { killNine } from './chaos/kill9.js';
import { dlqReplays } from './chaos/dlq-replays.js';
import { redisEmpty } from './chaos/redis-empty.js';
import { redisRestart } from './chaos/redis-restart.js';
import { clusterFailover, sentinelFailover } from './chaos/sentinel-failover.js';
import { kafkaAvailable, sinksDown, type DownSink } from './chaos/sinks-down.js';
import type { Runtime } from './lib/daemon.js';
import { LoadMonitor, loadText, machineInfo } from './lib/env.js';
import { RESULTS_DIR } from './lib/paths.js';
import { int, table } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'kill9,redis,empty,replays,sinks,graph,fuzz,sentinel,cluster' },
    quick: { type: 'boolean', default: false },
    records: { type: 'string' },
    kills: { type: 'string', default: '5' },
    'outage-s': { type: 'string' },
    sinks: { type: 'string' },
    'graph-s': { type: 'string' },
    fuzz: { type: 'string' },
    runtime: { type: 'string', default: 'tsx' },
    seed: { type: 'string' },
  },
});

const started = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const quick = args.quick;
const runtime = args.runtime as Runtime;
const seed = args.seed ? Number(args.seed) : undefined;
const records = Number(args.records ?? (quick ? 3000 : 50_000));

const SCENARIOS: Record<string, () => Promise<ChaosResult[]>> = {
  kill9: async () => [await killNine({ records, kills: Number(args.kills), runtime, log, seed })],
  redis: async () => [await redisRestart({ records, downMs: quick ? 2000 : 5000, restarts: 2, runtime, log, seed })],
  empty: async () => [await redisEmpty({ records, downMs: quick ? 2000 : 5000, runtime, log, seed })],
  replays: async () => [
    await dlqReplays({ records: Number(args.records ?? (quick ? 3000 : 20_000)), runtime, log, seed }),
  ],
  sinks: () =>
    sinksDown({
      sinks:
        (args.sinks?.split(',') as DownSink[] | undefined) ??
        (quick ? ['hec', 'eventhubs'] : kafkaAvailable() ? ['hec', 'eventhubs', 'kafka'] : ['hec', 'eventhubs']),
      outageMs: Number(args['outage-s'] ?? (quick ? 4 : 60)) * 1000,
      rate: 100,
      runtime,
      log,
      seed,
    }),
  graph: async () => [await graphFaults({ seconds: Number(args['graph-s'] ?? (quick ? 10 : 60)), runtime, log, seed })],
  sentinel: async () => {
    const n = Number(args.records ?? (quick ? 2000 : 20_000));
    const perSecond = quick ? 150 : 500;
    // A plain kill -9 (replicas a few ms behind, as on one host), then replicas lagging 1 s when the primary dies.
    const runs: ChaosResult[] = [];
    for (const lagMs of [0, 1000]) {
      for (const replicas of [1, 0])
        runs.push(await sentinelFailover({ records: n, replicas, lagMs, perSecond, runtime, log, seed }));
    }
    return runs;
  },
  cluster: async () => {
    const n = Number(args.records ?? (quick ? 2000 : 20_000));
    const perSecond = quick ? 150 : 500;
    const runs: ChaosResult[] = [];
    for (const replicas of [1, 0])
      runs.push(await clusterFailover({ records: n, replicas, perSecond, runtime, log, seed }));
    return runs;
  },
  fuzz: async () => [
    await fuzzWebhooks({
      requests: Number(args.fuzz ?? (quick ? 400 : 5000)),
      records: quick ? 1000 : 10_000,
      runtime,
      log,
      seed,
    }),
  ],
};

async function main(): Promise<void> {
  const machine = machineInfo();
  const load = new LoadMonitor();
  const only = args.only!.split(',').map((s) => s.trim());
  for (const s of only) {
    if (!SCENARIOS[s]) {
      console.error(`--only: unknown scenario "${s}" (use ${Object.keys(SCENARIOS).join(', ')})`);
      process.exit(1);
    }
  }
  log(
    `alertbridge chaos: ${only.join(', ')}${quick ? ' (quick)' : ''}; ${machine.nproc} cores, ${machine.memory_gib} GiB`,
  );
  const results: ChaosResult[] = [];
  for (const s of only) {
    log(`scenario ${s}`);
    try {
      for (const r of await SCENARIOS[s]!()) {
        results.push(r);
        log(
          `  ${r.scenario}: sent ${int(r.sent)}, delivered ${int(r.delivered)}, lost ${r.lost}, duplicated ${int(r.duplicated)} (${r.seconds} s)${r.problems.length ? `; PROBLEMS: ${r.problems.join('; ')}` : ''}`,
        );
      }
    } catch (err) {
      log(`  ${s} FAILED: ${(err as Error).stack}`);
      results.push({
        scenario: s,
        sent: 0,
        delivered: 0,
        lost: Number.NaN,
        duplicated: 0,
        seconds: 0,
        notes: [],
        problems: [`the scenario failed: ${(err as Error).message.split('\n')[0]}`],
      });
    }
  }
  const loadSummary = load.stop();
  const duration = Math.round((Date.now() - started) / 1000);
  console.log(`\n## alertbridge chaos, ${new Date(started).toISOString()}\n`);
  console.log(
    `${machine.nproc} cores, ${machine.memory_gib} GiB, node ${machine.node}, redis ${machine.redis}, commit ${machine.commit}; ${loadText(loadSummary)}; ${duration} s\n`,
  );
  console.log(
    table(
      ['scenario', 'sent', 'delivered', 'lost', 'duplicated', 'seconds', 'notes'],
      results.map((r) => [
        r.scenario,
        int(r.sent),
        int(r.delivered),
        r.lost,
        int(r.duplicated),
        r.seconds,
        [...r.problems.map((p) => `PROBLEM: ${p}`), ...r.notes].join('; '),
      ]),
    ),
  );
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(
    join(RESULTS_DIR, 'chaos-latest.json'),
    JSON.stringify(
      {
        started_at: new Date(started).toISOString(),
        duration_s: duration,
        options: args,
        machine,
        load: loadSummary,
        results,
      },
      null,
      2,
    ),
  );
  log(`wrote bench/results/chaos-latest.json`);
  const failed = results.filter((r) => (r.lost !== 0 && !r.lossExpected) || r.problems.length);
  if (failed.length) {
    console.log(`\n${failed.length} scenario(s) failed: ${failed.map((r) => r.scenario).join(', ')}`);
    process.exitCode = 1;
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
