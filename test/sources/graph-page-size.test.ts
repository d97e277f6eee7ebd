/**
 * max_response_bytes through the real poller and the simulator: a window whose pages are too large at `page_size`
 * is read at half the `$top` (again and again until a page fits), every alert arrives once, and nothing is lost.
 */
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { metricValue } from '../helpers/pipeline.js';
import { captureLogger, graphSourceConfig, pollNow, simulatorHooks } from '../helpers/graph.js';
import { waitFor } from '../helpers/wait.js';

const A: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-00000000000f',
  clientId: 'app-size',
  clientSecret: 'secret-size',
};
const sim = await startSimulator({ tenants: [A], seed: 11 });
const harness = simulatorHooks(sim);

describe('a Graph page over max_response_bytes', () => {
  it('is asked for again with half the $top, and the window goes on at that size', async () => {
    const h = await harness();
    // Simulated alerts_v2 are 2.4–5 KB each: 100 of them are ~400 KB, 12 fit in 64 KiB.
    for (let i = 0; i < 60; i++) sim.create(A.tenantId, 'alerts_v2');
    const { logger, lines } = captureLogger();
    const src = h.source(
      graphSourceConfig(sim, { name: 'big', ...A, extra: '    page_size: 100\n    max_response_bytes: 65536' }),
      logger,
    );
    const summary = await pollNow(src.pollers[0]!);
    expect(summary).toMatchObject({ fetched: 60, accepted: 60, gaps: [] });
    const tops = sim.requestLog.filter((e) => e.resource === 'alerts_v2').map((e) => Number(e.query.$top));
    expect(tops.slice(0, 4)).toEqual([100, 50, 25, 12]);
    // the rest of the window is asked at the smaller $top: no page is first tried too large again
    expect(tops.length).toBeGreaterThan(4);
    expect(tops.slice(4).every((t) => t === 12)).toBe(true);
    expect(
      await metricValue(h.tp.metrics, 'alertbridge_graph_requests_total', {
        source: 'big',
        resource: 'alerts_v2',
        code: 'too_large',
      }),
    ).toBe(3);
    expect(
      lines
        .filter((l) => l.level === 40 && String(l.msg).includes('larger than max_response_bytes (65536)'))
        .map((l) => l.next_top),
    ).toEqual([50, 25, 12]);
    expect(await src.pollers[0]!.cursor()).toMatchObject({ watermark: expect.any(String) as string });
    await waitFor(() => h.sink.received.length >= 60);
    expect(new Set(h.sink.received.map((r) => r.id)).size).toBe(60);
  });
});
