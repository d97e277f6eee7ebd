/**
 * A flaky Graph: the simulator answers 30% of Graph requests with 429 (Retry-After) or 503, and one legacy provider
 * (MCAS) fails — its alerts are left out with a 206 and a Warning — while alerts are created and updated; polling
 * (every second) and change notifications both run. Then Graph heals. The latest revision of every object must
 * reach the file sink: the watermark never moves past a gap, and throttled requests are retried.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalize } from '../../src/record/normalize.js';
import type { Resource } from '../../src/record/types.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { UPDATE_FIELD } from '../../src/simulator/store.js';
import { startDaemon } from '../lib/daemon.js';
import { startBenchRedis } from '../lib/redis.js';
import { seeded, sleep, until } from '../lib/stats.js';
import { DeliveryCounter } from '../lib/tail.js';
import { tally, type ChaosResult, type ScenarioOptions } from './common.js';

const T: TenantCredentials = {
  tenantId: '9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a',
  clientId: 'chaos-app',
  clientSecret: 'chaos-secret',
};
const RESOURCES: Resource[] = ['alerts_v2', 'incidents', 'alerts'];

export async function graphFaults(
  o: ScenarioOptions & { seconds?: number; rate?: number; faultRate?: number } = {},
): Promise<ChaosResult> {
  const seconds = o.seconds ?? 60;
  const rate = o.rate ?? 20;
  const faultRate = o.faultRate ?? 0.3;
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-chaos-graph-'));
  const redis = await startBenchRedis();
  const sim = await startSimulator({
    tenants: [T],
    seed: o.seed ?? 17,
    dir: join(dir, 'sim'),
    logLimit: 1_000_000,
    subscriptions: { retryBaseMs: 1000 },
  });
  const out = join(dir, 'out.ndjson');
  const counter = new DeliveryCounter([out]);
  const daemon = await startDaemon({
    config: `
redis: { url: "${redis.url}", key_prefix: "graph" }
server: { listen: "127.0.0.1:\${PORT}", public_url: "http://127.0.0.1:\${PORT}" }
log: { level: error, format: json }
pipeline: { takeover_ms: 2000 }
sources:
  - name: graph
    type: graph_security
    tenant_id: ${T.tenantId}
    client_id: ${T.clientId}
    client_secret: ${T.clientSecret}
    graph_url: ${sim.url}
    authority_url: ${sim.authorityHost}
    ca_file: ${sim.caFile}
    resources: [${RESOURCES.join(', ')}]
    poll_interval_ms: 1000
    initial_lookback_ms: 600000
    request_budget_per_minute: 10000
    webhook: { enabled: true, client_state: chaos-client-state }
sinks:
  - { name: out, type: file, path: "${out}" }
`,
    dir,
    name: 'graph-faults',
    runtime: o.runtime ?? 'tsx',
  });
  try {
    await until(() => sim.deliveryLog.some((d) => d.kind === 'validation' && d.status === 200), 30_000);
    // 15% 429 + 15% 503 of what gets past them = about 30% of requests refused; one legacy provider failing (206).
    const each = 1 - Math.sqrt(1 - faultRate);
    sim.setFaults({ throttleRate: each, unavailableRate: each, retryAfterS: 1, partialProvider: 'MCAS' });
    log(
      `Graph faults on for ${seconds} s: ${Math.round(faultRate * 100)}% of requests 429/503, MCAS answered 206; ${rate} changes/s`,
    );
    const dice = seeded(o.seed ?? 17);
    const end = Date.now() + seconds * 1000;
    let changes = 0;
    while (Date.now() < end) {
      for (let i = 0; i < rate / 10; i++) {
        const resource = RESOURCES[Math.floor(dice() * RESOURCES.length)]!;
        const existing = sim.list(T.tenantId, resource);
        if (existing.length > 5 && dice() < 0.3)
          sim.update(T.tenantId, resource, String(existing[Math.floor(dice() * existing.length)]!.id));
        else sim.create(T.tenantId, resource);
        changes++;
      }
      await sleep(100);
    }
    const graphLog = sim.requestLog.filter((e) => e.path.startsWith('/v1.0/'));
    const graphRequests = graphLog.length;
    const byFault = (f: string) => graphLog.filter((e) => e.fault === f).length;
    const [throttled, unavailable, partial] = [byFault('throttle'), byFault('unavailable'), byFault('partial')];
    const faulted = throttled + unavailable;
    sim.setFaults({ throttleRate: null, unavailableRate: null, retryAfterS: null, partialProvider: null });
    log(
      `Graph healed after ${changes} changes; of ${graphRequests} Graph requests ${throttled} were answered 429, ${unavailable} 503, ${partial} 206`,
    );
    // The latest revision of every object must arrive.
    const expected = RESOURCES.flatMap((r) =>
      sim.list(T.tenantId, r).map((obj) => {
        const n = normalize(r, obj, { source: 'graph', via: 'poll', tenantId: T.tenantId });
        if (!n.ok) throw new Error(n.reason);
        if (n.record.revision !== obj[UPDATE_FIELD[r]]) throw new Error('unexpected revision');
        return `${n.record.key}@${n.record.revision}`;
      }),
    );
    await until(
      () => {
        counter.poll();
        return expected.every((id) => counter.seen.has(id));
      },
      120_000,
      500,
    );
    const alive = daemon.alive();
    await daemon.stop();
    counter.close();
    const extra = counter.total - [...counter.seen.values()].length;
    const notes = [
      `${changes} creates/updates over ${seconds} s`,
      `of ${graphRequests} Graph requests: ${throttled} × 429, ${unavailable} × 503 (${Math.round((100 * faulted) / Math.max(1, graphRequests))}%), ${partial} × 206`,
      `${counter.distinct} revisions delivered in all (intermediate ones included), ${extra} copies beyond the first`,
      alive ? 'daemon up throughout' : 'THE DAEMON EXITED',
    ];
    const result = tally(
      `Graph ${Math.round(faultRate * 100)}% 429/503 + 206s for ${seconds} s`,
      expected,
      counter.seen,
      (Date.now() - t0) / 1000,
      notes,
    );
    if (!alive) result.problems.push('the daemon exited');
    return result;
  } finally {
    counter.close();
    await daemon.kill();
    await sim.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
