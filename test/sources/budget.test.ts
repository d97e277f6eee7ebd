import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/pipeline/redis.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { RequestBudget } from '../../src/sources/graph/budget.js';
import { graphHarness, graphSourceConfig } from '../helpers/graph.js';
import { startMangler } from '../helpers/graph-mangler.js';
import { cleanup } from '../helpers/pipeline.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const prefix = uniquePrefix('budget');
afterAll(() => deletePrefix(prefix));

describe('per-tenant request budget', () => {
  it('never lets two replicas together exceed N requests in any window', async () => {
    const a = connect({ url: redisUrl() });
    const b = connect({ url: redisUrl() });
    const key = `${prefix}:budget:tenant`;
    // 6 per 800 ms stands in for Graph's 150 per 60 s; the mechanism is the same.
    const replicas = [new RequestBudget(a, key, 6, 800), new RequestBudget(b, key, 6, 800)];
    const times: number[] = [];
    await Promise.all(
      replicas.map(async (budget) => {
        for (let i = 0; i < 12; i++) {
          const slot = await budget.take();
          times.push(Date.now());
          await slot.release();
        }
      }),
    );
    times.sort((x, y) => x - y);
    expect(times).toHaveLength(24);
    // 24 requests at 6 per window need at least 3 full windows
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(3 * 800 - 50);
    for (let i = 0; i < times.length; i++) {
      const inWindow = times.filter((t) => t >= times[i]! && t < times[i]! + 750).length;
      expect(inWindow).toBeLessThanOrEqual(6);
    }
    a.disconnect();
    b.disconnect();
  });

  it('holds a poller to its budget against the simulator, in any 60 s, with 429s being answered', async () => {
    const T: TenantCredentials = {
      tenantId: 'ffffffff-0000-4000-8000-0000000000d1',
      clientId: 'app-budget',
      clientSecret: 'secret-budget',
    };
    const BUDGET = 8;
    const sim = await startSimulator({ tenants: [T], seed: 19 });
    const h = await graphHarness();
    try {
      for (let i = 0; i < 200; i++) sim.create(T.tenantId, 'alerts_v2');
      for (let i = 0; i < 200; i++) sim.create(T.tenantId, 'incidents');
      // Graph's own enforcement of the same budget (it would answer 429 `budget`), plus random 429s that count too.
      sim.setFaults({ requestBudgetPerMinute: BUDGET, throttleRate: 0.4, retryAfterS: 0.1 });
      // Two resources share the tenant's budget; each wants 20+ pages of 10.
      const src = h.source(
        graphSourceConfig(sim, {
          name: 'frugal',
          ...T,
          resources: ['alerts_v2', 'incidents'],
          extra: `    page_size: 10
    request_budget_per_minute: ${BUDGET}`,
        }),
      );
      const polls = src.pollers.map((p) => p.tick(Date.now() + 3_600_000));
      const graph = () => sim.requestLog.filter((e) => e.resource === 'alerts_v2' || e.resource === 'incidents');
      await waitFor(() => graph().length >= BUDGET, { what: 'the budget used up' });
      // Watch a while longer: without the budget the pollers would go on at once (they want 40+ requests).
      await new Promise((r) => setTimeout(r, 6000));
      const seen = graph();
      const times = seen.map((e) => Date.parse(e.at));
      for (const t of times) expect(times.filter((u) => u >= t && u < t + 60_000).length).toBeLessThanOrEqual(BUDGET);
      expect(seen).toHaveLength(BUDGET); // (the test spans under 60 s: every request is in one window)
      expect(seen.filter((e) => e.status === 429 && e.fault === 'throttle').length).toBeGreaterThan(0);
      expect(seen.filter((e) => e.fault === 'budget')).toEqual([]);
      await src.stop(); // the pollers are still waiting for slots; closing ends the wait
      expect(await Promise.all(polls)).toEqual([null, null]);
    } finally {
      await h.close();
      await cleanup(h.tp);
      await sim.close();
    }
  }, 25_000);

  it('holds the budget in every 60 s of arrival times at Graph, however late requests arrive', async () => {
    const T: TenantCredentials = {
      tenantId: 'ffffffff-0000-4000-8000-0000000000d2',
      clientId: 'app-budget-arrival',
      clientSecret: 'secret-budget-arrival',
    };
    const BUDGET = 10;
    const sim = await startSimulator({ tenants: [T], seed: 23 });
    const mangler = await startMangler(sim);
    const h = await graphHarness();
    const ac = new AbortController();
    try {
      sim.create(T.tenantId, 'alerts_v2');
      // Graph's own count: a 429 `budget` past it, by arrival time.
      sim.setFaults({ requestBudgetPerMinute: BUDGET });
      // The first minute's requests spend 5 s in transit (a slow network, a queue), so Graph counts them 5 s after
      // their slots were taken; the next minute's arrive at once.
      let sent = 0;
      mangler.delay = () => (sent++ < BUDGET ? 5000 : 0);
      const src = h.source(
        graphSourceConfig(sim, {
          name: 'eager',
          ...T,
          graphUrl: mangler.url,
          extra: `    request_budget_per_minute: ${BUDGET}`,
        }),
      );
      const callers = Array.from({ length: 4 }, async () => {
        for (;;) await src.client.get('/security/alerts_v2?$top=1', 'alerts_v2', ac.signal);
      });
      const done = Promise.allSettled(callers);
      const graph = () => sim.requestLog.filter((e) => e.path.startsWith('/v1.0/') && e.tenant === T.tenantId);
      // Well past a minute: the second minute's slots are taken while the first minute's arrivals still count.
      await waitFor(() => graph().length > 0 && Date.now() - Date.parse(graph()[0]!.at) > 75_000, {
        timeoutMs: 180_000,
        intervalMs: 500,
        what: 'more than a minute of Graph requests',
      });
      ac.abort(new Error('test over'));
      await done;
      const log = graph();
      const times = log.map((e) => Date.parse(e.at)).sort((x, y) => x - y);
      // Graph counts a request when it arrives: no 60 s of arrivals holds more than the budget ...
      expect(busiestWindow(times, 60_000)).toBeLessThanOrEqual(BUDGET);
      // ... so Graph never refuses one for the budget while alertbridge thinks it is within it ...
      expect(log.filter((e) => e.fault === 'budget' || e.status === 429)).toEqual([]);
      // ... and the budget is still what limits the callers (they would make hundreds of requests a minute).
      expect(busiestWindow(times, 60_000)).toBe(BUDGET);
      expect(log.length).toBeGreaterThan(BUDGET);
    } finally {
      ac.abort(new Error('test over'));
      await h.close();
      await cleanup(h.tp);
      await mangler.close();
      await sim.close();
    }
  }, 240_000);

  it('stops waiting when aborted', async () => {
    const r = connect({ url: redisUrl() });
    const budget = new RequestBudget(r, `${prefix}:budget:abort`, 1, 60_000);
    await budget.take();
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('closing')), 100);
    await expect(budget.take(ac.signal)).rejects.toThrow('closing');
    r.disconnect();
  });
});

/** The most requests any window of `windowMs` holds (times sorted, ms): the window [t, t + windowMs) of each t. */
function busiestWindow(times: number[], windowMs: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}
