/**
 * Issue 13 item 1, the must-show: against the simulator in graph-like mode (newest first by default, nextLinks
 * dropped past depth 1,000, `$top` clamped, objects changing while a client walks), 20,000 alerts in one window with
 * 5% of them updated during the walk. Every alert's latest revision is delivered, none twice, and the tenant's
 * budget is never exceeded. The first poll and the cursorless read `alertbridge backfill` uses are both shown.
 */
import { describe, expect, it } from 'vitest';
import type { TenantCredentials } from '../../src/simulator/index.js';
import type { GraphHarness } from '../helpers/graph.js';
import { graphSourceConfig, pollNow, simulatorHooks } from '../helpers/graph.js';
import {
  changedDuringWalks,
  churnDuringWalk,
  fillWindow,
  listRequests,
  startGraphLikeSimulator,
} from '../helpers/graph-like.js';
import { waitFor } from '../helpers/wait.js';
import { keysFor } from '../../src/pipeline/keys.js';

const A: TenantCredentials = {
  tenantId: 'abababab-0000-4000-8000-000000000301',
  clientId: 'app-gl-a',
  clientSecret: 'secret-a',
};
const TOTAL = 20_000;
const BUDGET = 150;

const sim = await startGraphLikeSimulator(
  { maxDepth: 1000 },
  { tenants: [A], seed: 41, faults: { requestBudgetPerMinute: BUDGET } },
);
const harness = simulatorHooks(sim, { requestBudgetPerMinute: BUDGET });
// One window of 20,000 for both tests (making them is a good part of the run time); each test has its own Redis
// prefix, so its dedup has seen nothing.
fillWindow(sim, TOTAL, { tenantId: A.tenantId });
const filledAt = Date.now();
let h: GraphHarness | undefined;

/** Each alert's latest revision as the simulator holds it now, `id@lastUpdateDateTime`. */
const latest = (tenantId: string) =>
  new Set(sim.list(tenantId, 'alerts_v2').map((o) => `${String(o.id)}@${String(o.lastUpdateDateTime)}`));

async function delivered(hh: GraphHarness, tenantId: string): Promise<string[]> {
  const want = latest(tenantId);
  await waitFor(
    () => {
      const got = new Set(hh.sink.received.map((r) => `${r.id}@${r.revision}`));
      for (const k of want) if (!got.has(k)) return false;
      return true;
    },
    { timeoutMs: 120_000, intervalMs: 500, what: 'every latest revision delivered' },
  );
  await waitFor(() => hh.tp.pipeline.idle(), { timeoutMs: 60_000 });
  return hh.sink.received.map((r) => `${r.id}@${r.revision}`);
}

function checkRequests(tenantId: string): void {
  const reqs = listRequests(sim, 'alerts_v2').filter((e) => e.tenant === tenantId);
  expect(reqs.filter((e) => e.fault === 'budget')).toEqual([]); // the simulator's 150/min never fired
  expect(reqs.every((e) => e.status === 200)).toBe(true);
  expect(reqs.length).toBeLessThanOrEqual(BUDGET);
}

describe('alerts_v2 paging against graph-like Graph', () => {
  it(`first poll: ${TOTAL} alerts in one window, 5% updated during the walk, nextLink dropped at depth 1,000`, async () => {
    h = await harness();
    sim.setGraphLike(churnDuringWalk({ total: TOTAL, share: 0.05, top: 1000 }));
    const src = h.source(graphSourceConfig(sim, { name: 'contoso', ...A, extra: '    page_size: 1000' }));
    const summary = await pollNow(src.pollers[0]!);
    sim.setGraphLike({ updatesPerPage: null, maxChanges: null });
    expect(changedDuringWalks(sim)).toBe(TOTAL * 0.05);
    expect(summary).toMatchObject({ overflow: [], gaps: [] });
    const got = await delivered(h, A.tenantId);
    expect(new Set(got).size).toBe(got.length); // no revision delivered twice
    // every alert once, plus the earlier revision of those read before their update
    expect(new Set(got.map((k) => k.split('@')[0])).size).toBe(TOTAL);
    expect(got.length).toBeLessThanOrEqual(TOTAL + TOTAL * 0.05);
    // Graph handed out each object at most once beyond the documented overlap (the objects at a slide's bound)
    expect(summary!.fetched - summary!.accepted).toBeLessThanOrEqual(summary!.pages);
    checkRequests(A.tenantId);
    console.log(
      `graph-like first poll: ${summary!.pages} requests, ${summary!.fetched} fetched, ${summary!.accepted} accepted, ${got.length} delivered`,
    );
  }, 180_000);

  it(`backfill's read: ${TOTAL} alerts in one window, 5% updated during the walk`, async () => {
    h = await harness();
    const since = filledAt - 120_000;
    sim.setGraphLike(churnDuringWalk({ total: TOTAL, share: 0.05, top: 1000 }));
    const src = h.source(graphSourceConfig(sim, { name: 'fabrikam', ...A, extra: '    page_size: 1000' }));
    const { summary } = await src.pollers[0]!.readWindow(since); // what `alertbridge backfill` runs
    sim.setGraphLike({ updatesPerPage: null, maxChanges: null });
    expect(changedDuringWalks(sim)).toBe(TOTAL * 0.05);
    expect(summary).toMatchObject({ overflow: [], gaps: [] });
    const got = await delivered(h, A.tenantId);
    expect(new Set(got).size).toBe(got.length);
    expect(new Set(got.map((k) => k.split('@')[0])).size).toBe(TOTAL);
    expect(summary.fetched - summary.accepted).toBeLessThanOrEqual(summary.pages);
    checkRequests(A.tenantId);
    expect(await h.tp.redis.exists(keysFor(h.tp.prefix).cursor('fabrikam', 'alerts_v2'))).toBe(0);
  }, 180_000);
});
