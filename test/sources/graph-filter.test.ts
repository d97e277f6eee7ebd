/**
 * Source-side filters (issue 13 item 6): `filter: { service_source, severity, status }` compiled into Graph's
 * `$filter`, so only matching alerts are fetched; unknown values are refused at load with the allowed list.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { GraphObject, TenantCredentials } from '../../src/simulator/index.js';
import { graphSourceConfig, pollNow, simulatorHooks, type GraphHarness } from '../helpers/graph.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'adadadad-0000-4000-8000-000000000501',
  clientId: 'app-filter',
  clientSecret: 'secret-filter',
};
const sim = await startSimulator({ tenants: [T], seed: 61 });
const harness = simulatorHooks(sim);
let h: GraphHarness | undefined;

describe('source filters', () => {
  it('sends the filter in $filter and only matching alerts and incidents arrive', async () => {
    h = await harness();
    const made: GraphObject[] = [];
    for (const serviceSource of [
      'microsoftDefenderForEndpoint',
      'microsoftDefenderForOffice365',
      'microsoftSentinel',
    ]) {
      for (const severity of ['high', 'low']) {
        for (const status of ['new', 'resolved'])
          made.push(sim.create(T.tenantId, 'alerts_v2', { serviceSource, severity, status }));
      }
    }
    const incidents = ['high', 'medium'].flatMap((severity) =>
      ['active', 'resolved'].map((status) => sim.create(T.tenantId, 'incidents', { severity, status })),
    );
    const src = h.source(
      graphSourceConfig(sim, {
        name: 'contoso',
        ...T,
        resources: ['alerts_v2', 'incidents'],
        extra:
          '    filter: { service_source: [microsoftDefenderForEndpoint, microsoftSentinel], severity: [high], status: [new, active] }',
      }),
    );
    const [alerts, incs] = src.pollers;
    expect(await pollNow(alerts!)).toMatchObject({ accepted: 2 });
    expect(await pollNow(incs!)).toMatchObject({ accepted: 1 });
    const v2 = sim.requestLog.filter((e) => e.resource === 'alerts_v2');
    expect(v2.length).toBeGreaterThan(0);
    for (const e of v2)
      expect(e.query.$filter).toMatch(
        /^lastUpdateDateTime ge \S+ and serviceSource in \('microsoftDefenderForEndpoint','microsoftSentinel'\) and severity in \('high'\) and status in \('new'\)$/,
      );
    for (const e of sim.requestLog.filter((r) => r.resource === 'incidents')) {
      expect(e.query.$filter).toMatch(
        /^lastUpdateDateTime ge \S+ and severity in \('high'\) and status in \('active'\)$/,
      );
    }
    const want = [
      ...made.filter(
        (a) =>
          ['microsoftDefenderForEndpoint', 'microsoftSentinel'].includes(String(a.serviceSource)) &&
          a.severity === 'high' &&
          a.status === 'new',
      ),
      ...incidents.filter((i) => i.severity === 'high' && i.status === 'active'),
    ].map((o) => String(o.id));
    expect(want).toHaveLength(3);
    await waitFor(() => h!.sink.received.length >= 3);
    await waitFor(() => h!.tp.pipeline.idle());
    expect(h.sink.received.map((r) => r.id).sort()).toEqual(want.sort());
  });

  it('refuses unknown values with the allowed list, and a status no read resource knows', () => {
    const config = (filter: string, resources = '[alerts_v2, incidents]') =>
      parseConfig(
        `
sources:
  - { name: s, type: graph_security, tenant_id: ${T.tenantId}, client_id: a, client_secret: b, resources: ${resources}, filter: ${filter} }
sinks:
  - { name: out, type: file, path: /dev/null }
`,
        { baseDir: '/', env: {} },
      );
    const bad = config('{ severity: [critical], service_source: [defender] }');
    expect(bad.ok).toBe(false);
    const errors = bad.ok ? [] : bad.errors;
    expect(errors.find((e) => e.startsWith('sources[0].filter.severity[0]'))).toMatch(
      /informational.*low.*medium.*high/,
    );
    expect(errors.find((e) => e.startsWith('sources[0].filter.service_source[0]'))).toMatch(
      /microsoftDefenderForEndpoint/,
    );
    const wrongStatus = config('{ status: [new] }');
    expect(wrongStatus.ok ? [] : wrongStatus.errors).toEqual([
      'sources[0].filter.status: none of new is a status of incidents (active, resolved, inProgress, redirected, awaitingAction): incidents would be read unfiltered',
    ]);
    expect(config('{ service_source: [microsoftSentinel] }', '[incidents]').ok).toBe(false);
    expect(config('{ severity: [high, medium], status: [new, active] }').ok).toBe(true);
  });
});
