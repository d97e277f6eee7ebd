/**
 * Deep alerts_v2 / incidents windows (issue 13 item 1): read as first pages in ascending lastUpdateDateTime order
 * with a sliding `ge` bound, checked against `@odata.count`; a page-full sharing one time is stepped through with
 * `eq` and `$skip`; what Graph will not hand out is logged and counted, never passed silently.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { HealthReporter } from '../../src/health/reporter.js';
import type { AlertRecord } from '../../src/record/types.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/index.js';
import { metricValue } from '../helpers/pipeline.js';
import { captureLogger, graphSourceConfig, pollNow, simulatorHooks, type GraphHarness } from '../helpers/graph.js';
import { startMangler } from '../helpers/graph-mangler.js';
import { waitFor } from '../helpers/wait.js';

const A: TenantCredentials = {
  tenantId: 'dddddddd-0000-4000-8000-000000000201',
  clientId: 'app-deep-a',
  clientSecret: 'secret-a',
};
const B: TenantCredentials = {
  tenantId: 'dddddddd-0000-4000-8000-000000000202',
  clientId: 'app-deep-b',
  clientSecret: 'secret-b',
};

const sim = await startSimulator({ tenants: [A, B], seed: 31 });
const mangler = await startMangler(sim);
afterAll(() => mangler.close());
const harness = simulatorHooks(sim);
let h: GraphHarness | undefined;
const v2Requests = () => sim.requestLog.filter((e) => e.resource === 'alerts_v2');

describe('deep alerts_v2 windows', () => {
  it('slides an ascending bound and steps through 1,200 alerts sharing one time: each alert once, no nextLink followed', async () => {
    h = await harness();
    for (let i = 0; i < 300; i++) sim.create(A.tenantId, 'alerts_v2');
    const cluster = sim.createMany(A.tenantId, 'alerts_v2', 1200, { sameTime: true });
    for (let i = 0; i < 300; i++) sim.create(A.tenantId, 'alerts_v2');
    const src = h.source(graphSourceConfig(sim, { name: 'contoso', ...A, extra: '    page_size: 250' }));
    const summary = await pollNow(src.pollers[0]!);
    expect(summary).toMatchObject({ accepted: 1800, overflow: [] });
    const reqs = v2Requests();
    expect(
      reqs.every(
        (e) =>
          e.status === 200 &&
          e.query.$skiptoken === undefined &&
          e.query.$orderby === 'lastUpdateDateTime asc' &&
          e.query.$count === 'true',
      ),
    ).toBe(true);
    const at = String(cluster[0]!.lastUpdateDateTime);
    const tie = reqs.filter((e) => e.query.$filter!.includes(' eq '));
    expect(tie.length).toBeGreaterThanOrEqual(5); // 1,200 at one time, 250 a page
    expect(Math.max(...tie.map((e) => Number(e.query.$skip ?? 0)))).toBeGreaterThanOrEqual(1000);
    expect(tie.every((e) => Date.parse(/eq (\S+)/.exec(e.query.$filter!)![1]!) === Date.parse(at))).toBe(true);
    await waitFor(() => h!.sink.received.length >= 1800, { timeoutMs: 60_000 });
    await waitFor(() => h!.tp.pipeline.idle());
    expect(h.sink.received).toHaveLength(1800);
    expect(new Set(h.sink.received.map((r) => r.id)).size).toBe(1800);
  }, 120_000);

  it('logs and counts a window Graph counts but will not page through, with its bounds, and moves on', async () => {
    h = await harness();
    const { logger, lines } = captureLogger();
    const health: AlertRecord[] = [];
    const cluster = sim.createMany(B.tenantId, 'alerts_v2', 700, { sameTime: true });
    const after = Array.from({ length: 20 }, () => sim.create(B.tenantId, 'alerts_v2'));
    // Graph answers nothing past $skip 400 (as past its depth limit), though its count says there is more
    mangler.alter = (body, path) => (Number(/skip=(\d+)/.exec(path)?.[1] ?? 0) >= 400 ? { ...body, value: [] } : body);
    try {
      const src = h.source(
        graphSourceConfig(sim, { name: 'fabrikam', ...B, graphUrl: mangler.url, extra: '    page_size: 200' }),
        logger,
        new HealthReporter({
          redis: h.tp.redis,
          keys: h.tp.pipeline.keys,
          emit: async (r) => health.push(...r),
          logger,
        }),
      );
      const summary = await pollNow(src.pollers[0]!);
      const at = summary!.overflow[0]?.at;
      expect(summary!.overflow).toEqual([{ provider: 'alerts_v2', at, to: at, read: 400, expected: 700 }]);
      expect(Date.parse(at!)).toBe(Date.parse(String(cluster[0]!.lastUpdateDateTime)));
      expect(summary!.accepted).toBe(420); // the first 400 of the cluster, and everything after it
      // A health record for the SIEM, with the window passed over
      expect(health.map((r) => [r.key, r.status, r.data.detail])).toEqual([
        [
          'health:fabrikam/alerts_v2/paging_overflow',
          'raised',
          { window: { from: at, to: at }, read: 400, expected: 700 },
        ],
      ]);
      // the next poll reads past it without overflow: cleared
      mangler.alter = undefined;
      await pollNow(src.pollers[0]!);
      expect(health.map((r) => r.status)).toEqual(['raised', 'cleared']);
    } finally {
      mangler.alter = undefined;
    }
    expect(
      await metricValue(h.tp.metrics, 'alertbridge_graph_window_incomplete_total', {
        source: 'fabrikam',
        resource: 'alerts_v2',
      }),
    ).toBe(1);
    const err = lines.find((l) => l.level === 50)!;
    expect(err).toMatchObject({
      source: 'fabrikam',
      tenant: B.tenantId,
      resource: 'alerts_v2',
      expected: 700,
      read: 400,
    });
    expect(String(err.msg)).toContain('counted 700');
    await waitFor(() => h!.sink.received.length >= 420);
    expect(after.every((a) => h!.sink.received.some((r) => r.id === a.id))).toBe(true);
  }, 120_000);
});
