/**
 * The Graph source against the simulator, through the real @azure/identity token path and real HTTPS.
 */
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { metricValue } from '../helpers/pipeline.js';
import { captureLogger, graphSourceConfig, pollNow, simulatorHooks, type GraphHarness } from '../helpers/graph.js';
import { waitFor } from '../helpers/wait.js';

const A: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-000000000001',
  clientId: 'app-a',
  clientSecret: 'secret-a',
};
const B: TenantCredentials = {
  tenantId: 'bbbbbbbb-0000-4000-8000-000000000002',
  clientId: 'app-b',
  clientSecret: 'secret-b',
};

const sim = await startSimulator({ tenants: [A, B], seed: 7 });
const harness = simulatorHooks(sim, {
  throttleRate: 0,
  unavailableRate: 0,
  partialProvider: null,
  requestBudgetPerMinute: 0,
});
let h: GraphHarness | undefined;

const ids = (h: GraphHarness) => h.sink.received.map((r) => `${r.id}@${r.revision}`);

describe('graph_security source', () => {
  it('delivers every alert of a window exactly once across polls, and updates again', async () => {
    h = await harness();
    for (let i = 0; i < 120; i++) sim.create(A.tenantId, 'alerts_v2');
    const src = h.source(graphSourceConfig(sim, { name: 'contoso', ...A, extra: '    page_size: 25' }));
    const [poller] = src.pollers;
    const first = await pollNow(poller!);
    expect(first).toMatchObject({ fetched: 120, accepted: 120, gaps: [] });
    expect(first!.pages).toBeGreaterThanOrEqual(5); // followed nextLink
    const again = await pollNow(poller!);
    expect(again!.accepted).toBe(0);
    const updated = sim.update(A.tenantId, 'alerts_v2', String(sim.list(A.tenantId, 'alerts_v2')[3]!.id));
    for (let i = 0; i < 5; i++) sim.create(A.tenantId, 'alerts_v2');
    const third = await pollNow(poller!);
    expect(third!.accepted).toBe(6);
    await waitFor(() => h!.sink.received.length >= 126);
    await waitFor(() => h!.tp.pipeline.idle());
    expect(h.sink.received).toHaveLength(126);
    expect(new Set(ids(h)).size).toBe(126);
    expect(h.sink.received.filter((r) => r.id === updated.id).map((r) => r.revision)).toHaveLength(2);
    expect(h.sink.received.every((r) => r.via === 'poll' && r.source === 'contoso' && r.tenant_id === A.tenantId)).toBe(
      true,
    );
    // every v2 request asked for unknown enum members
    const v2 = sim.requestLog.filter((e) => e.resource === 'alerts_v2');
    expect(v2.length).toBeGreaterThanOrEqual(5);
    expect(v2.map((e) => e.headers.prefer)).toEqual(v2.map(() => 'include-unknown-enum-members'));
  });

  it('loses nothing when half the requests are throttled, and waits the Retry-After', async () => {
    h = await harness();
    sim.setFaults({ throttleRate: 0.5, retryAfterS: 0.35 });
    for (let i = 0; i < 60; i++) sim.create(A.tenantId, 'incidents');
    const src = h.source(
      graphSourceConfig(sim, { name: 'contoso', ...A, resources: ['incidents'], extra: '    page_size: 10' }),
    );
    const summary = await pollNow(src.pollers[0]!);
    expect(summary).toMatchObject({ fetched: 60, accepted: 60 });
    const graph = sim.requestLog.filter((e) => e.resource === 'incidents');
    const throttled = graph.filter((e) => e.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    // after every 429, the next request came no sooner than Retry-After (350 ms)
    for (const t of throttled) {
      const next = graph.find((e) => Date.parse(e.at) > Date.parse(t.at));
      if (next) expect(Date.parse(next.at) - Date.parse(t.at)).toBeGreaterThanOrEqual(340);
    }
    await waitFor(() => h!.sink.received.length >= 60);
    expect(new Set(ids(h)).size).toBe(60);
    // incidents are a v2 resource too: every request, retries included, asked for unknown enum members
    expect(graph.map((e) => e.headers.prefer)).toEqual(graph.map(() => 'include-unknown-enum-members'));
  });

  it('keeps the other providers flowing on a 206 and re-reads the missing provider later', async () => {
    h = await harness();
    const created = Array.from({ length: 80 }, () => sim.create(A.tenantId, 'alerts'));
    const providerOf = (o: Record<string, unknown>) => (o.vendorInformation as { provider: string }).provider;
    const missing = providerOf(created[0]!);
    const missingCount = created.filter((o) => providerOf(o) === missing).length;
    sim.setFaults({ partialProvider: missing });
    const { logger, lines } = captureLogger();
    const src = h.source(graphSourceConfig(sim, { name: 'contoso', ...A, resources: ['alerts'] }), logger);
    const first = await pollNow(src.pollers[0]!);
    expect(first!.gaps).toEqual([missing]);
    expect(first!.accepted).toBe(80 - missingCount);
    // logged and counted per provider
    expect(
      await metricValue(h.tp.metrics, 'alertbridge_graph_partial_total', {
        source: 'contoso',
        resource: 'alerts',
        provider: missing,
      }),
    ).toBe(first!.pages);
    expect(await metricValue(h.tp.metrics, 'alertbridge_graph_partial_total', { source: 'contoso' })).toBe(
      first!.pages,
    );
    expect(
      lines.filter(
        (l) => l.level === 40 && l.provider === missing && l.source === 'contoso' && l.tenant === A.tenantId,
      ),
    ).toHaveLength(first!.pages);
    sim.setFaults({ partialProvider: null });
    const second = await pollNow(src.pollers[0]!);
    expect(second!.gaps).toEqual([]);
    expect(second!.accepted).toBe(missingCount);
    await waitFor(() => h!.sink.received.length >= 80);
    expect(new Set(h.sink.received.map((r) => r.id)).size).toBe(80);
  });

  it('resumes from the cursor after a restart: no gap, no re-ingest beyond the overlap', async () => {
    h = await harness();
    for (let i = 0; i < 30; i++) sim.create(A.tenantId, 'alerts_v2');
    await new Promise((r) => setTimeout(r, 1200)); // these 30 are now older than the overlap
    sim.create(A.tenantId, 'alerts_v2'); // the newest: it sets the watermark
    const cfg = graphSourceConfig(sim, { name: 'contoso', ...A, extra: '    overlap_ms: 1000' });
    const before = h.source(cfg);
    // (the tenant may hold alerts from earlier tests: the first window takes them all, the point is what follows)
    const first = (await pollNow(before.pollers[0]!))!.accepted;
    expect(first).toBeGreaterThanOrEqual(31);
    const watermark = (await before.pollers[0]!.cursor()).watermark!;
    await before.stop();
    for (let i = 0; i < 7; i++) sim.create(A.tenantId, 'alerts_v2');
    sim.clearLog();
    const after = h.source(cfg); // a new process, as far as the source knows: same Redis prefix
    const summary = await pollNow(after.pollers[0]!);
    expect(summary!.accepted).toBe(7);
    expect(summary!.fetched).toBe(8); // the 7 new ones and the newest old one, re-read in the overlap
    const filter = sim.requestLog.find((e) => e.resource === 'alerts_v2')!.query.$filter!;
    const since = /ge (\S+)/.exec(filter)![1]!;
    expect(Date.parse(watermark) - Date.parse(since)).toBe(1000);
    await waitFor(() => h!.sink.received.length >= first + 7);
    await waitFor(() => h!.tp.pipeline.idle());
    expect(h.sink.received).toHaveLength(first + 7);
  });

  it('lets only one of two replicas poll a window', async () => {
    h = await harness();
    for (let i = 0; i < 40; i++) sim.create(A.tenantId, 'alerts_v2');
    // A long interval: whichever replica gets the lease first polls; the other finds the window taken or done.
    const cfg = graphSourceConfig(sim, { name: 'contoso', ...A, extra: '    page_size: 10', pollIntervalMs: 600_000 });
    const one = h.source(cfg);
    const two = h.source(cfg);
    const results = await Promise.all([one.pollers[0]!.tick(), two.pollers[0]!.tick()]);
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    // each page was fetched once: one first page, and every nextLink once
    const urls = sim.requestLog
      .filter((e) => e.resource === 'alerts_v2')
      .map((e) => `${e.path}?${JSON.stringify(e.query)}`);
    expect(new Set(urls).size).toBe(urls.length);
    // and a poll right after by the other replica is not due: the interval is shared
    expect(await two.pollers[0]!.tick()).toBeNull();
  });

  it('names the source and tenant on a wrong secret, while other tenants keep flowing', async () => {
    h = await harness();
    for (let i = 0; i < 10; i++) sim.create(B.tenantId, 'alerts_v2');
    const { logger, lines } = captureLogger();
    const bad = h.source(graphSourceConfig(sim, { name: 'fabrikam', ...A, clientSecret: 'wrong' }), logger);
    const good = h.source(graphSourceConfig(sim, { name: 'woodgrove', ...B }), logger);
    const [badResult, goodResult] = await Promise.all([pollNow(bad.pollers[0]!), pollNow(good.pollers[0]!)]);
    expect(badResult).toBeNull();
    expect(goodResult!.accepted).toBe(10);
    const err = lines.find((l) => l.level === 50)!;
    expect(String(err.msg)).toContain(`source 'fabrikam' (tenant ${A.tenantId})`);
    expect(String(err.err)).toMatch(
      /getting a token for source 'fabrikam' \(tenant aaaaaaaa-[^)]+\) failed: .*AADSTS7000215/,
    );
    expect(JSON.stringify(lines)).not.toContain('wrong"'); // the secret itself is never logged
    expect((await bad.pollers[0]!.cursor()).watermark).toBeUndefined();
  });
});
