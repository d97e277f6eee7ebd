/**
 * Legacy federated `alerts` paging against the simulator: `$top` per provider, `$skip` ≤ 500 (the simulator answers
 * 400 above), and alerts sharing one `lastModifiedDateTime`, which a sliding time filter cannot step over.
 */
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { GraphObject, TenantCredentials } from '../../src/simulator/index.js';
import { metricValue } from '../helpers/pipeline.js';
import { captureLogger, graphSourceConfig, pollNow, simulatorHooks, type GraphHarness } from '../helpers/graph.js';
import { waitFor } from '../helpers/wait.js';

const A: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-0000000000b1',
  clientId: 'app-legacy-a',
  clientSecret: 'secret-a',
};
const B: TenantCredentials = {
  tenantId: 'bbbbbbbb-0000-4000-8000-0000000000b2',
  clientId: 'app-legacy-b',
  clientSecret: 'secret-b',
};

const sim = await startSimulator({ tenants: [A, B], seed: 13 });
const harness = simulatorHooks(sim);
let h: GraphHarness | undefined;

const providerOf = (o: GraphObject) => (o.vendorInformation as { provider: string }).provider;
const keyOf = (tenant: string, o: GraphObject) => `${tenant}/alerts/${providerOf(o)}/${String(o.id)}`;
const legacyRequests = () => sim.requestLog.filter((e) => e.resource === 'alerts');

describe('legacy alerts paging', () => {
  it('reads a window of more than 6,000 alerts, with 1,200 of one provider at one timestamp, each once, $skip never above 500', async () => {
    h = await harness();
    for (let i = 0; i < 3000; i++) sim.create(A.tenantId, 'alerts');
    // a bulk import: far more than one page (page_size 200) of one provider share one lastModifiedDateTime
    const cluster = sim.createMany(A.tenantId, 'alerts', 1200, { sameTime: true, provider: 'MCAS' });
    for (let i = 0; i < 3000; i++) sim.create(A.tenantId, 'alerts');
    const all = sim.list(A.tenantId, 'alerts');
    expect(all.length).toBe(7200);

    const src = h.source(
      graphSourceConfig(sim, { name: 'woodgrove', ...A, resources: ['alerts'], extra: '    page_size: 200' }),
    );
    const summary = await pollNow(src.pollers[0]!);
    expect(summary).toMatchObject({ accepted: 7200, gaps: [], overflow: [] });
    const legacy = legacyRequests();
    expect(legacy.every((e) => e.status === 200)).toBe(true); // a $skip above 500 would have been a 400
    const skips = legacy.map((e) => Number(e.query.$skip ?? 0));
    expect(Math.max(...skips)).toBe(500); // the cluster was paged into, as deep as Graph allows
    expect(skips.some((n) => n > 0 && n < 500)).toBe(true);

    await waitFor(() => h!.sink.received.length >= 7200, { timeoutMs: 60_000 });
    await waitFor(() => h!.tp.pipeline.idle());
    const delivered = h.sink.received.map((r) => r.key);
    expect(delivered).toHaveLength(7200); // each exactly once
    expect(new Set(delivered)).toEqual(new Set(all.map((o) => keyOf(A.tenantId, o))));
    const clusterKeys = new Set(cluster.map((o) => keyOf(A.tenantId, o)));
    expect(delivered.filter((k) => clusterKeys.has(k))).toHaveLength(1200);
  }, 120_000);

  it('never skips silently where Graph cannot page: more than 1,500 alerts of one provider at one timestamp', async () => {
    h = await harness();
    const { logger, lines } = captureLogger();
    for (let i = 0; i < 100; i++) sim.create(B.tenantId, 'alerts');
    const cluster = sim.createMany(B.tenantId, 'alerts', 1600, { sameTime: true, provider: 'ASC' });
    const after = Array.from({ length: 100 }, () => sim.create(B.tenantId, 'alerts'));
    const src = h.source(
      graphSourceConfig(sim, { name: 'tailspin', ...B, resources: ['alerts'], extra: '    page_size: 200' }),
      logger,
    );
    const summary = await pollNow(src.pollers[0]!);
    const at = summary!.overflow[0]?.at;
    expect(summary!.overflow).toEqual([{ provider: 'ASC', at, read: 1500 }]);
    expect(at).toBe(cluster[0]!.lastModifiedDateTime);
    // the first 1,500 of the cluster and everything around it arrive; 100 of the cluster cannot be reached
    expect(summary!.accepted).toBe(100 + 1500 + 100);
    expect(legacyRequests().every((e) => e.status === 200 && Number(e.query.$skip ?? 0) <= 500)).toBe(true);
    await waitFor(() => h!.sink.received.length >= 1700, { timeoutMs: 60_000 });
    const delivered = new Set(h.sink.received.map((r) => r.key));
    expect(after.every((o) => delivered.has(keyOf(B.tenantId, o)))).toBe(true);

    const err = lines.filter((l) => l.level === 50);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatchObject({ source: 'tailspin', tenant: B.tenantId, provider: 'ASC', at });
    expect(String(err[0]!.msg)).toBe(
      `alerts of source 'tailspin' (tenant ${B.tenantId}): provider 'ASC' has at least 1500 alerts with lastModifiedDateTime ${at}; Graph's paging ($skip ≤ 500, $top ≤ 1000) reaches only the first 1500: any beyond were skipped`,
    );
    expect(
      await metricValue(h.tp.metrics, 'alertbridge_graph_paging_overflow_total', {
        source: 'tailspin',
        resource: 'alerts',
        provider: 'ASC',
      }),
    ).toBe(1);
  }, 120_000);
});
