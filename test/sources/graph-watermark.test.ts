/**
 * What moves a poller's watermark, against the simulator: a future-dated alert must not freeze polling, malformed
 * items are skipped and counted while a malformed page never moves the watermark, and a legacy provider that keeps
 * failing (206) holds only its own bound.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { GraphObject, TenantCredentials } from '../../src/simulator/index.js';
import { metricValue } from '../helpers/pipeline.js';
import { captureLogger, graphSourceConfig, pollNow, simulatorHooks, type GraphHarness } from '../helpers/graph.js';
import { startMangler } from '../helpers/graph-mangler.js';
import { waitFor } from '../helpers/wait.js';

const tenant = (n: number): TenantCredentials => ({
  tenantId: `cccccccc-0000-4000-8000-00000000010${n}`,
  clientId: `app-wm-${n}`,
  clientSecret: `secret-${n}`,
});
const [A, B, C, D] = [tenant(1), tenant(2), tenant(3), tenant(4)] as const;

const sim = await startSimulator({ tenants: [A, B, C, D], seed: 21 });
const mangler = await startMangler(sim);
afterAll(() => mangler.close());
const harness = simulatorHooks(sim, { partialProvider: null });
let h: GraphHarness | undefined;
const providerOf = (o: GraphObject) => (o.vendorInformation as { provider: string }).provider;

describe('poll watermark', () => {
  it('a future-dated alert does not stop the next alert, and the poll lag stays honest', async () => {
    h = await harness();
    const { logger, lines } = captureLogger();
    sim.create(A.tenantId, 'alerts_v2');
    await new Promise((r) => setTimeout(r, 1500));
    const future = sim.create(A.tenantId, 'alerts_v2', {
      lastUpdateDateTime: '2099-01-01T00:00:00Z',
      createdDateTime: '2099-01-01T00:00:00Z',
    });
    const src = h.source(graphSourceConfig(sim, { name: 'contoso', ...A, extra: '    overlap_ms: 1000' }), logger);
    const poller = src.pollers[0]!;
    const first = await pollNow(poller);
    expect(first).toMatchObject({ fetched: 2, accepted: 2 });
    const watermark = (await poller.cursor()).watermark!;
    expect(Date.parse(watermark)).toBeLessThan(Date.now());
    // the lag is the age of the newest real alert (≥ 1.5 s), not 0 because of 2099
    expect(
      await metricValue(h.tp.metrics, 'alertbridge_poll_lag_seconds', { source: 'contoso', resource: 'alerts_v2' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await metricValue(h.tp.metrics, 'alertbridge_graph_future_items_total', {
        source: 'contoso',
        resource: 'alerts_v2',
      }),
    ).toBe(1);
    const warn = lines.find((l) => l.level === 40 && String(l.msg).includes('future'))!;
    expect(warn).toMatchObject({ source: 'contoso', tenant: A.tenantId, resource: 'alerts_v2', ids: [future.id] });

    const next = sim.create(A.tenantId, 'alerts_v2');
    const second = await pollNow(poller);
    expect(second!.accepted).toBe(1);
    await waitFor(() => h!.sink.received.some((r) => r.id === next.id), { what: 'the alert after the 2099 one' });
    await waitFor(() => h!.tp.pipeline.idle());
    expect(h.sink.received.filter((r) => r.id === future.id)).toHaveLength(1); // delivered once, re-reads deduplicated
    expect(h.sink.received).toHaveLength(3);
  });

  it('skips and counts null and non-object items of a page, and the rest of the page arrives', async () => {
    h = await harness();
    const { logger, lines } = captureLogger();
    const created = Array.from({ length: 5 }, () => sim.create(B.tenantId, 'alerts_v2'));
    mangler.alter = (body, path) =>
      path.includes('alerts_v2') ? { ...body, value: [null, ...(body.value as unknown[]), 'x', [1]] } : body;
    try {
      const src = h.source(graphSourceConfig(sim, { name: 'fabrikam', ...B, graphUrl: mangler.url }), logger);
      const summary = await pollNow(src.pollers[0]!);
      expect(summary).toMatchObject({ fetched: 5, accepted: 5 });
      expect((await src.pollers[0]!.cursor()).watermark).toBeDefined();
    } finally {
      mangler.alter = undefined;
    }
    expect(
      await metricValue(h.tp.metrics, 'alertbridge_graph_malformed_items_total', {
        source: 'fabrikam',
        resource: 'alerts_v2',
      }),
    ).toBe(3);
    const warn = lines.filter((l) => l.level === 40 && String(l.msg).includes('malformed'));
    expect(warn.length).toBeGreaterThanOrEqual(1);
    expect(warn[0]).toMatchObject({ source: 'fabrikam', tenant: B.tenantId, resource: 'alerts_v2', malformed: 3 });
    await waitFor(() => h!.sink.received.length >= 5);
    expect(new Set(h.sink.received.map((r) => r.id))).toEqual(new Set(created.map((o) => o.id)));
  });

  it('a page whose value is not a list fails the poll and never moves the watermark', async () => {
    h = await harness();
    const { logger, lines } = captureLogger();
    const created = Array.from({ length: 4 }, () => sim.create(C.tenantId, 'alerts_v2'));
    await new Promise((r) => setTimeout(r, 50));
    const cfg = graphSourceConfig(sim, { name: 'tailspin', ...C, graphUrl: mangler.url, extra: '    overlap_ms: 0' });
    const src = h.source(cfg, logger);
    for (const bad of [{ value: 'oops' }, { value: { id: 'x' } }, {}]) {
      mangler.alter = (body, path) => {
        if (!path.includes('alerts_v2')) return body;
        const { value: _v, ...rest } = body;
        return { ...rest, ...bad };
      };
      expect(await pollNow(src.pollers[0]!)).toBeNull();
      expect((await src.pollers[0]!.cursor()).watermark).toBeUndefined();
    }
    mangler.alter = undefined;
    expect(lines.filter((l) => l.level === 50 && /value/.test(String(l.err)))).toHaveLength(3);
    const good = await pollNow(src.pollers[0]!);
    expect(good!.accepted).toBe(4);
    await waitFor(() => h!.sink.received.length >= 4);
    expect(new Set(h.sink.received.map((r) => r.id))).toEqual(new Set(created.map((o) => o.id)));
  });

  it('a legacy provider answering 206 on every poll holds only its own bound; the others move on', async () => {
    h = await harness();
    const mcas = sim.createMany(D.tenantId, 'alerts', 6, { provider: 'MCAS' });
    const others = sim.createMany(D.tenantId, 'alerts', 6, { provider: 'ASC' });
    sim.setFaults({ partialProvider: 'MCAS' });
    const src = h.source(
      graphSourceConfig(sim, { name: 'woodgrove', ...D, resources: ['alerts'], extra: '    overlap_ms: 0' }),
    );
    const poller = src.pollers[0]!;
    const first = await pollNow(poller);
    expect(first).toMatchObject({ accepted: 6, gaps: ['MCAS'] });
    const w1 = (await poller.cursor()).watermark;
    expect(w1).toBeDefined(); // the others' watermark moved although MCAS failed
    await new Promise((r) => setTimeout(r, 20));
    const later = [
      ...sim.createMany(D.tenantId, 'alerts', 3, { provider: 'ASC' }),
      ...sim.createMany(D.tenantId, 'alerts', 2, { provider: 'MCAS' }),
    ];
    sim.clearLog();
    const second = await pollNow(poller);
    expect(second).toMatchObject({ accepted: 3, gaps: ['MCAS'] });
    const w2 = (await poller.cursor()).watermark!;
    expect(w2 > w1!).toBe(true);
    // the federated read starts at the others' watermark; MCAS is asked for alone from its own older bound
    const filters = sim.requestLog.filter((e) => e.resource === 'alerts').map((e) => e.query.$filter!);
    const bound = (f: string) => Date.parse(/ge (\S+)/.exec(f)![1]!);
    expect(filters.some((f) => bound(f) === Date.parse(w1!) && !f.includes('MCAS'))).toBe(true);
    expect(filters.some((f) => f.includes("vendorInformation/provider eq 'MCAS'"))).toBe(true);

    sim.setFaults({ partialProvider: null });
    const third = await pollNow(poller);
    expect(third).toMatchObject({ accepted: 8, gaps: [] });
    await waitFor(() => h!.sink.received.length >= 17);
    await waitFor(() => h!.tp.pipeline.idle());
    const all = [...mcas, ...others, ...later];
    expect(h.sink.received.map((r) => r.id).sort()).toEqual(all.map((o) => String(o.id)).sort());
    expect(all.filter((o) => providerOf(o) === 'MCAS')).toHaveLength(8);
    // once MCAS answered, no per-provider read is left
    sim.clearLog();
    await pollNow(poller);
    expect(sim.requestLog.filter((e) => e.resource === 'alerts' && e.query.$filter?.includes('MCAS'))).toHaveLength(0);
  });
});
