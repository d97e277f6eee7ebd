/**
 * Redis Sentinel failover: the daemon runs on a primary with two replicas behind three sentinels
 * (`redis.sentinel`); records stream in through both paths — a partner pushing to the webhook route, and alerts
 * created in the Graph simulator that the daemon polls — and the primary is killed (`kill -9`) in the middle. The
 * sentinels promote a replica; the daemon follows it without a restart. Counted at the file sink: every record whose
 * push was answered 202, and every alert of the simulator (a poll moves its cursor only past records it stored).
 *
 * With `redis.durability.replicas: 1` nothing acknowledged may be lost. Without it, writes the dead primary had
 * acknowledged but not yet replicated are lost with it: the scenario reports how many (it does not fail on them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { keysFor } from '../../src/pipeline/keys.js';
import { normalize } from '../../src/record/normalize.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { hostPort, startSentinelTopology } from '../../test/helpers/redis-topology.js';
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
  const n = o.records ?? 20_000;
  const replicas = o.replicas ?? 1;
  const perSecond = o.perSecond ?? 500;
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-chaos-sentinel-'));
  const topo = await startSentinelTopology();
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
  key_prefix: sentinel
  sentinel: { master_name: ${topo.masterName}, nodes: [${topo.sentinels.map(hostPort).join(', ')}] }
  durability: { replicas: ${replicas}, timeout_ms: 2000 }
server: { listen: "127.0.0.1:\${PORT}", max_body_bytes: 8388608 }
log: { level: warn, format: json }
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
      name: 'sentinel-failover',
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
      await topo.cutReplicas(2 * o.lagMs);
      await sleep(o.lagMs);
    }
    const killedAt = Date.now();
    const atKill = sender.acked.size;
    const ackedBeforeKill = [...sender.acked];
    const killed = await topo.killPrimary();
    const promoted = await topo.waitForFailover(killed, 120_000);
    const failoverMs = Date.now() - killedAt;
    // What Redis itself lost: pushes acknowledged before the kill whose dedup state the promoted replica lacks. The
    // sink may still have them (delivered before the primary died): the count at the sink is the figure that
    // matters, this one says how much luck it took.
    const keys = keysFor('sentinel');
    const direct = new Redis({ host: promoted.host, port: promoted.port });
    const missing = await direct
      .pipeline(ackedBeforeKill.map((id) => ['exists', keys.dedup(id.slice(0, id.lastIndexOf('@')))]))
      .exec()
      .then((res) => (res ?? []).filter(([err, n]) => !err && Number(n) === 0).length)
      .finally(() => direct.disconnect());
    // The daemon's own recovery: its first acknowledgement after the kill.
    while (pushing && sender.acked.size <= atKill + 40) await sleep(5);
    const resumedMs = Date.now() - killedAt;
    log(
      `${lagged}primary ${hostPort(killed)} killed at ${atKill} pushed records acknowledged; sentinels promoted ${hostPort(promoted)} after ${failoverMs} ms (${missing} acknowledged pushes missing there); pushes acknowledged again after ${resumedMs} ms`,
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
      `Sentinel failover (kill -9 of the primary${o.lagMs ? `, replicas ${o.lagMs / 1000} s behind` : ''}) during ${n.toLocaleString('en-US')} records, durability.replicas ${replicas}`,
      expected,
      counter.seen,
      (Date.now() - t0) / 1000,
      [
        ...(lagged ? [lagged.replace(/; $/, '')] : []),
        `sentinels promoted a replica ${(failoverMs / 1000).toFixed(1)} s after the kill; pushes acknowledged again after ${(resumedMs / 1000).toFixed(1)} s`,
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
