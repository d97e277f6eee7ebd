/**
 * Redis Sentinel failover: the daemon runs on a primary with two replicas behind three sentinels
 * (`redis.sentinel`); records stream in through both paths — a partner pushing to the webhook route, and alerts
 * created in the Graph simulator that the daemon polls — and the primary is killed (`kill -9`) in the middle. The
 * sentinels promote a replica; the daemon follows it without a restart. Counted at the file sink: every record whose
 * push was answered 202, and every alert of the simulator (a poll moves its cursor only past records it stored).
 *
 * With `redis.durability.replicas: 1` nothing acknowledged may be lost. Without it, writes the dead primary had
 * acknowledged but not yet replicated are lost with it: the scenario reports how many (it does not fail on them).
 *
 * The same run on a Redis Cluster (`clusterFailover`, `redis.cluster`): three primaries with a replica each, one
 * primary killed, its replica promoted by the cluster itself. The daemon's log must hold no CROSSSLOT error.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { clusterSlot, keysFor } from '../../src/pipeline/keys.js';
import { normalize } from '../../src/record/normalize.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import {
  hostPort,
  startClusterTopology,
  startSentinelTopology,
  type Address,
} from '../../test/helpers/redis-topology.js';
import { startDaemon } from '../lib/daemon.js';
import { graphAlerts } from '../lib/records.js';
import { sleep } from '../lib/stats.js';
import { DeliveryCounter } from '../lib/tail.js';
import { PUSH_TOKEN, PushSender, tally, type ChaosResult, type ScenarioOptions } from './common.js';

const T: TenantCredentials = {
  tenantId: '5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d',
  clientId: 'chaos-sentinel',
  clientSecret: 'chaos-sentinel-secret',
};

export interface SentinelFailoverOptions extends ScenarioOptions {
  /** Records in all, half pushed and half polled. @defaultValue 20000 */
  records?: number;
  /** `redis.durability.replicas` (0: off). @defaultValue 1 */
  replicas?: number;
  /** Records per second on each path. @defaultValue 500 */
  perSecond?: number;
  /** The primary is killed once this share of the pushed records was acknowledged. @defaultValue 0.4 */
  killAt?: number;
  /**
   * Replicas lagging when the primary dies: they are cut off this long before the kill (and stay stalled as long
   * again after it), so that the primary's last writes are on the primary only. @defaultValue 0 (no lag)
   */
  lagMs?: number;
}

export async function sentinelFailover(o: SentinelFailoverOptions = {}): Promise<ChaosResult> {
  return failover('sentinel', o);
}

/** The same run on a 3-primary / 3-replica Redis Cluster: one primary killed, its replica promoted. */
export async function clusterFailover(o: Omit<SentinelFailoverOptions, 'lagMs'> = {}): Promise<ChaosResult> {
  return failover('cluster', o);
}

/** What the scenario needs of a replicated Redis. */
interface Topology {
  /** The `redis:` lines of the daemon's configuration (after key_prefix). */
  config: string;
  killPrimary(): Promise<Address>;
  waitForFailover(old: Address, timeoutMs: number): Promise<Address>;
  cutReplicas?(ms: number): Promise<void>;
  /**
   * After the failover, what brings replicas back (Cluster: the killed node restarted, rejoining as the promoted
   * one's replica: with one replica per primary, the promoted primary has none until then).
   */
  afterFailover?(killed: Address): Promise<void>;
  /** How many of these keys the Redis now lacks (read through the promoted primary, or the cluster). */
  missing(promoted: Address, keys: string[]): Promise<number>;
  stop(): Promise<void>;
}

async function topology(kind: 'sentinel' | 'cluster'): Promise<Topology> {
  if (kind === 'sentinel') {
    const topo = await startSentinelTopology();
    return {
      config: `  sentinel: { master_name: ${topo.masterName}, nodes: [${topo.sentinels.map(hostPort).join(', ')}] }`,
      killPrimary: () => topo.killPrimary(),
      waitForFailover: (old, ms) => topo.waitForFailover(old, ms),
      cutReplicas: (ms) => topo.cutReplicas(ms),
      async missing(promoted, keys) {
        const direct = new Redis({ host: promoted.host, port: promoted.port });
        return direct
          .pipeline(keys.map((k) => ['exists', k]))
          .exec()
          .then((res) => (res ?? []).filter(([err, n]) => !err && Number(n) === 0).length)
          .finally(() => direct.disconnect());
      },
      stop: () => topo.stop(),
    };
  }
  const topo = await startClusterTopology();
  return {
    config: `  cluster: { nodes: [${topo.nodes.map(hostPort).join(', ')}] }`,
    // The primary holding the most inbox shards: the kill hits the dedup-and-stage path hardest.
    async killPrimary() {
      const keys = keysFor('cluster');
      const probe = new Cluster(topo.nodes);
      try {
        await new Promise<void>((resolve) => probe.once('ready', () => resolve()));
        const owners = new Map<string, number>();
        for (let s = 0; s < keys.inboxShards; s++) {
          const owner = probe.slots[clusterSlot(keys.inbox(s))]?.[0];
          if (owner) owners.set(owner, (owners.get(owner) ?? 0) + 1);
        }
        const [busiest] = [...owners].sort((x, y) => y[1] - x[1])[0] ?? [];
        const primaries = await topo.primaries();
        return topo.killPrimary(primaries.find((p) => hostPort(p) === busiest) ?? primaries[0]);
      } finally {
        probe.disconnect();
      }
    },
    waitForFailover: (old, ms) => topo.waitForFailover(old, ms),
    afterFailover: (killed) => topo.restartNode(killed),
    async missing(_promoted, keys) {
      const cluster = new Cluster(
        topo.nodes.filter((a) =>
          topo.servers.some((s) => s.port === a.port && s.process.exitCode === null && s.process.signalCode === null),
        ),
      );
      try {
        const found = await Promise.all(keys.map((k) => cluster.exists(k)));
        return found.filter((n) => n === 0).length;
      } finally {
        cluster.disconnect();
      }
    },
    stop: () => topo.stop(),
  };
}

async function failover(kind: 'sentinel' | 'cluster', o: SentinelFailoverOptions): Promise<ChaosResult> {
  const n = o.records ?? 20_000;
  const replicas = o.replicas ?? 1;
  const perSecond = o.perSecond ?? 500;
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), `alertbridge-chaos-${kind}-`));
  const topo = await topology(kind);
  const sim = await startSimulator({ tenants: [T], seed: o.seed ?? 23, dir: join(dir, 'sim'), logLimit: 1000 });
  const out = join(dir, 'out.ndjson');
  const counter = new DeliveryCounter([out]);
  const pushed = graphAlerts(Math.ceil(n / 2), o.seed ?? 23);
  const polled = n - pushed.length;
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  const sender = new PushSender(() => daemon!.port, 20);
  try {
    daemon = await startDaemon({
      config: `
redis:
  key_prefix: ${kind}
${topo.config}
  durability: { replicas: ${replicas}, timeout_ms: 2000 }
server: { listen: "127.0.0.1:\${PORT}", max_body_bytes: 8388608 }
log: { level: ${kind === 'cluster' ? 'debug' : 'warn'}, format: json }
pipeline: { takeover_ms: 2000 }
sources:
  - { name: push, type: webhook, token: ${PUSH_TOKEN} }
  - name: graph
    type: graph_security
    tenant_id: ${T.tenantId}
    client_id: ${T.clientId}
    client_secret: ${T.clientSecret}
    graph_url: ${sim.url}
    authority_url: ${sim.authorityHost}
    ca_file: ${sim.caFile}
    resources: [alerts_v2]
    poll_interval_ms: 1000
    initial_lookback_ms: 600000
    request_budget_per_minute: 10000
sinks:
  - { name: out, type: file, path: "${out}", batch: { max_records: 100 } }
`,
      dir,
      name: `${kind}-failover`,
      runtime: o.runtime ?? 'tsx',
    });
    log(
      `${n} records (${pushed.length} pushed, ${polled} polled) at ${perSecond}/s each way; durability.replicas ${replicas}`,
    );
    let pushing = true;
    const pushStream = sender.send(pushed, { perSecond }).finally(() => (pushing = false));
    let created = 0;
    const pollStream = (async () => {
      const start = Date.now();
      while (created < polled) {
        const due = Math.min(polled, Math.floor(((Date.now() - start) / 1000) * perSecond));
        if (due > created) {
          sim.createMany(T.tenantId, 'alerts_v2', due - created, { variety: 50 });
          created = due;
        }
        await sleep(50);
      }
    })();

    const killAt = Math.floor((o.killAt ?? 0.4) * pushed.length);
    while (pushing && sender.acked.size < killAt) await sleep(5);
    counter.poll();
    const before = { acked: sender.acked.size, delivered: counter.distinct, refusals: sender.refusals };
    const lagged = o.lagMs
      ? `replicas cut off ${o.lagMs} ms before the kill (${sender.acked.size} pushes acknowledged then); `
      : '';
    if (o.lagMs) {
      if (!topo.cutReplicas) throw new Error(`lagMs is not supported on ${kind}`);
      await topo.cutReplicas(2 * o.lagMs);
      await sleep(o.lagMs);
    }
    const killedAt = Date.now();
    const atKill = sender.acked.size;
    const ackedBeforeKill = [...sender.acked];
    const killed = await topo.killPrimary();
    const promoted = await topo.waitForFailover(killed, 120_000);
    const failoverMs = Date.now() - killedAt;
    await topo.afterFailover?.(killed);
    const rejoinedMs = Date.now() - killedAt;
    // What Redis itself lost: pushes acknowledged before the kill whose dedup state the promoted replica lacks. The
    // sink may still have them (delivered before the primary died): the count at the sink is the figure that
    // matters, this one says how much luck it took.
    const keys = keysFor(kind);
    const missing = await topo.missing(
      promoted,
      ackedBeforeKill.map((id) => keys.dedup(id.slice(0, id.lastIndexOf('@')))),
    );
    // The daemon's own recovery: its first acknowledgement after the kill.
    while (pushing && sender.acked.size <= atKill + 40) await sleep(5);
    const resumedMs = Date.now() - killedAt;
    log(
      `${lagged}primary ${hostPort(killed)} killed at ${atKill} pushed records acknowledged; ${kind === 'sentinel' ? 'sentinels' : 'the cluster'} promoted ${hostPort(promoted)} after ${failoverMs} ms (${missing} acknowledged pushes missing there); pushes acknowledged again after ${resumedMs} ms`,
    );
    await Promise.all([pushStream, pollStream]);
    log(`stream done after ${sender.refusals} refused or unanswered push requests`);

    const expected = [
      ...sender.acked,
      ...sim.list(T.tenantId, 'alerts_v2').map((obj) => {
        const r = normalize('alerts_v2', obj, { source: 'graph', via: 'poll', tenantId: T.tenantId });
        if (!r.ok) throw new Error(r.reason);
        return `${r.record.key}@${r.record.revision}`;
      }),
    ];
    // Everything arrives, or nothing more does for 20 s (what was lost with the primary never will).
    let last = -1;
    let still = Date.now();
    for (;;) {
      counter.poll();
      if (expected.every((id) => counter.seen.has(id))) break;
      if (counter.total !== last) {
        last = counter.total;
        still = Date.now();
      } else if (Date.now() - still > 20_000) break;
      await sleep(250);
    }
    const alive = daemon.alive();
    const output = daemon.output();
    await daemon.stop();
    counter.close();
    const result = tally(
      `${kind === 'sentinel' ? 'Sentinel failover' : 'Cluster primary killed'} (kill -9 of ${kind === 'sentinel' ? 'the primary' : 'a primary'}${o.lagMs ? `, replicas ${o.lagMs / 1000} s behind` : ''}) during ${n.toLocaleString('en-US')} records, durability.replicas ${replicas}`,
      expected,
      counter.seen,
      (Date.now() - t0) / 1000,
      [
        ...(lagged ? [lagged.replace(/; $/, '')] : []),
        `${kind === 'sentinel' ? 'sentinels' : 'the cluster'} promoted a replica ${(failoverMs / 1000).toFixed(1)} s after the kill;${topo.afterFailover ? ` the killed node restarted and rejoined as its replica ${(rejoinedMs / 1000).toFixed(1)} s after the kill;` : ''} pushes acknowledged again after ${(resumedMs / 1000).toFixed(1)} s`,
        `${sender.refusals - before.refusals} push requests refused (503) or unanswered during the failover, re-sent`,
        `${missing} of the ${atKill} pushes acknowledged before the kill were missing on the promoted replica (in Redis; delivered before the primary died or not)`,
        alive ? 'the daemon stayed up throughout, no restart' : 'THE DAEMON EXITED',
      ],
    );
    if (replicas === 0) result.lossExpected = true;
    if (!alive) result.problems.push('the daemon exited during the failover');
    if (/CROSSSLOT/.test(output)) result.problems.push('CROSSSLOT in the daemon log');
    return result;
  } finally {
    counter.close();
    await daemon?.kill();
    await sender.close();
    await sim.close();
    await topo.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
