/**
 * The legacy alerts API stops returning data after its retirement without failing: a legacy poller that reads
 * nothing for a day warns (hourly at most) and sets alertbridge_graph_legacy_silent{source} to 1; data clears it.
 */
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/index.js';
import { metricValue } from '../helpers/pipeline.js';
import { captureLogger, graphSourceConfig, pollNow, simulatorHooks } from '../helpers/graph.js';

const A: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-0000000000c1',
  clientId: 'app-silent',
  clientSecret: 'secret-silent',
};
const sim = await startSimulator({ tenants: [A], seed: 21 });
const harness = simulatorHooks(sim);

describe('legacy alerts silence', () => {
  it('warns and sets the gauge once legacy alerts returned nothing for a day, and clears it when data comes back', async () => {
    const h = await harness();
    const { logger, lines } = captureLogger();
    const src = h.source(graphSourceConfig(sim, { name: 'retired', ...A, resources: ['alerts'] }), logger);
    const poller = src.pollers[0]!;
    const silent = () => metricValue(h.tp.metrics, 'alertbridge_graph_legacy_silent', { source: 'retired' });
    const warnings = () => lines.filter((l) => String(l.msg).includes('have returned nothing since'));

    expect(await pollNow(poller)).toMatchObject({ fetched: 0 });
    expect(await silent()).toBe(0); // the first empty poll only starts the clock
    expect(warnings()).toHaveLength(0);

    // The last data was 25 hours ago.
    const key = `${h.tp.prefix}:legacy_last_data:retired`;
    expect(await h.tp.redis.get(key)).not.toBeNull();
    await h.tp.redis.set(key, String(Date.now() - 25 * 3_600_000));
    await pollNow(poller);
    expect(await silent()).toBe(1);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ level: 40, source: 'retired', resource: 'alerts' });
    expect(String(warnings()[0]?.msg)).toContain('retired the legacy security alerts API on 2026-10-15');
    await pollNow(poller);
    expect(await silent()).toBe(1);
    expect(warnings()).toHaveLength(1); // hourly, not every poll

    // Retired, as Graph is after 2026-10-15: the alerts exist, the API answers 200 with nothing.
    sim.create(A.tenantId, 'alerts');
    sim.setFaults({ legacyRetired: true });
    expect(await pollNow(poller)).toMatchObject({ fetched: 0 });
    expect(await silent()).toBe(1);
    expect(sim.requestLog.filter((e) => e.fault === 'retired' && e.status === 200).length).toBeGreaterThan(0);

    sim.setFaults({ legacyRetired: null });
    expect(await pollNow(poller)).toMatchObject({ fetched: 1 });
    expect(await silent()).toBe(0);
    expect(Number(await h.tp.redis.get(key))).toBeGreaterThan(Date.now() - 60_000);
  });
});
