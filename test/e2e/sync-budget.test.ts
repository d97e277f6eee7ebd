/**
 * Write-back spends the tenant's Graph request budget together with polling (issue 15): with
 * `request_budget_per_minute: 10` and polls due every second, the changes are applied and Graph never sees more
 * than 10 requests of the tenant in any 60 s (by arrival time) — through `alertbridge run`, counted in the simulator's request log.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { freePort } from '../../src/util/redis-server.js';
import { daemonConfigHead, e2eWorkspace, graphSourceYaml, postSync, startDaemon } from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-00000000b0d6',
  clientId: 'app-sync-budget',
  clientSecret: 'secret-sync-budget',
};
const TOKEN = 'sync-budget-token';
const BUDGET = 10;
const { dir, prefix } = e2eWorkspace('sync-budget');
let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 10 });
});
afterAll(() => sim?.close());

/** The most requests any window of `windowMs` holds, by arrival time at the simulator. */
function busiestWindow(times: number[], windowMs: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('sync and polling share the tenant budget', () => {
  it(`never exceed ${BUDGET} Graph requests in any 60 s together`, async () => {
    const alerts = [1, 2, 3].map(() => sim.create(T.tenantId, 'alerts_v2', { status: 'new' }));
    const port = await freePort();
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
${daemonConfigHead(prefix, port)}sources:
${graphSourceYaml(sim, T, {
  name: 'contoso',
  resources: ['alerts_v2'],
  extra: `    poll_interval_ms: 1000\n    request_budget_per_minute: ${BUDGET}\n    sync: { enabled: true, token: ${TOKEN} }\n`,
})}
sinks:
  - { name: out, type: file, path: "${join(dir, 'out.ndjson')}" }
`,
    );
    const daemon = startDaemon(config, port);
    try {
      await daemon.ready('/healthz');
      const res = await postSync(
        port,
        'contoso',
        TOKEN,
        alerts.map((a) => ({ resource: 'alerts_v2', id: a.id, status: 'resolved' })),
      );
      expect(res.status).toBe(202);
      // Each change costs a GET and a PATCH; with polls wanting a request a second, they wait for budget slots.
      await waitFor(
        () => alerts.every((a) => sim.list(T.tenantId, 'alerts_v2').find((x) => x.id === a.id)!.status === 'resolved'),
        { timeoutMs: 240_000, intervalMs: 500, what: 'the three changes applied' },
      );
      const graph = () => sim.requestLog.filter((e) => e.path.startsWith('/v1.0/') && e.tenant === T.tenantId);
      const first = Date.parse(graph()[0]!.at);
      // Run on until more than a full minute of requests is in the log, polls still wanting more.
      await waitFor(() => Date.parse(graph().at(-1)!.at) - first > 65_000, {
        timeoutMs: 180_000,
        intervalMs: 500,
        what: 'more than a minute of Graph requests',
      });
      const log = graph();
      const kinds = new Set(log.map((e) => e.method));
      expect(kinds).toEqual(new Set(['GET', 'PATCH']));
      expect(log.filter((e) => e.method === 'PATCH')).toHaveLength(3);
      // Counted by arrival at the simulator, as Graph counts: a slot is held until its request is answered, so the
      // transit between taking a slot and arriving cannot squeeze an eleventh request into any 60 s.
      const times = log.map((e) => Date.parse(e.at));
      expect(busiestWindow(times, 60_000)).toBeLessThanOrEqual(BUDGET);
      // ... and the budget was the limit: polling alone would have asked for far more.
      expect(busiestWindow(times, 60_000)).toBe(BUDGET);
      expect(log.every((e) => e.fault !== 'budget' && e.status !== 429)).toBe(true);
    } finally {
      await daemon.stop();
    }
  }, 480_000);
});
