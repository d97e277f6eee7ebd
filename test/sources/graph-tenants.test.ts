/**
 * A graph_security source with `tenants` (one multi-tenant app registration) in a running app, against the simulator:
 * each tenant polls as a source of its own — its own budget, cursors and records — and a tenant that refuses the app
 * (no admin consent) fails alone while the others deliver. Write-back to the source routes by the key's tenant.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { keysFor } from '../../src/pipeline/keys.js';
import { readCursor } from '../../src/sources/graph/cursor.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { metricValue, silentLogger } from '../helpers/pipeline.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { graphTenantsSourceYaml } from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';

const APP = { clientId: 'c0ffee00-0000-4000-8000-00000000a990', clientSecret: 'mssp-secret' };
const A: TenantCredentials = { tenantId: 'aaaaaaaa-0000-4000-8000-000000000001', ...APP };
const B: TenantCredentials = { tenantId: 'bbbbbbbb-0000-4000-8000-000000000002', ...APP };
/** Listed in the config, but its admin consented to another app only: the simulated Entra ID refuses ours there. */
const C: TenantCredentials = {
  tenantId: 'cccccccc-0000-4000-8000-000000000003',
  clientId: 'dddddddd-0000-4000-8000-00000000a991',
  clientSecret: 'other',
};
const TOKEN = 'siem-sync-token';

const sim = await startSimulator({ tenants: [A, B, C], seed: 11 });
const prefix = uniquePrefix('tenants');
let app: App | undefined;
afterAll(async () => {
  await app?.stop();
  await sim.close();
  await deletePrefix(prefix);
});

describe('graph_security tenants', () => {
  it('polls each tenant with its own budget and cursor; a refusing tenant does not stop the others', async () => {
    for (let i = 0; i < 12; i++) sim.create(A.tenantId, 'alerts_v2');
    for (let i = 0; i < 7; i++) sim.create(B.tenantId, 'alerts_v2');
    for (let i = 0; i < 3; i++) sim.create(A.tenantId, 'incidents');
    for (let i = 0; i < 4; i++) sim.create(B.tenantId, 'incidents');
    const res = parseConfig(
      `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
sources:
${graphTenantsSourceYaml(sim, APP, {
  name: 'mssp',
  resources: ['alerts_v2', 'incidents'],
  extra: `    poll_interval_ms: 1000\n    sync: { enabled: true, token: ${TOKEN} }\n`,
  tenants: [
    { name: 'contoso', tenantId: A.tenantId },
    { name: 'fabrikam', tenantId: B.tenantId, extra: 'resources: [alerts_v2], request_budget_per_minute: 100' },
    { name: 'northwind', tenantId: C.tenantId },
  ],
})}
sinks:
  - { name: out, type: file, path: /dev/null }
`,
      { baseDir: '/', env: {} },
    );
    if (!res.ok) throw new Error(res.errors.join('\n'));
    const sink = new RecordingSink('out');
    app = buildApp(res.config, { logger: silentLogger, sinkOverrides: { out: sink } });
    await app.start({ listen: false });

    // contoso: 12 alerts + 3 incidents; fabrikam: its 7 alerts only (its resources override).
    await waitFor(() => sink.received.length >= 22, { timeoutMs: 60_000 });
    const bySource = (s: string) => sink.received.filter((r) => r.source === s);
    expect(bySource('mssp/contoso')).toHaveLength(15);
    expect(bySource('mssp/fabrikam')).toHaveLength(7);
    expect(bySource('mssp/contoso').every((r) => r.tenant_id === A.tenantId)).toBe(true);
    expect(bySource('mssp/fabrikam').every((r) => r.tenant_id === B.tenantId && r.resource === 'alerts_v2')).toBe(true);

    const keys = keysFor(prefix);
    const redis = app.redis;
    // Separate budgets (tenant + app), each holding its own tenant's requests.
    expect(await redis.zcard(keys.budget(A.tenantId, APP.clientId))).toBeGreaterThan(0);
    expect(await redis.zcard(keys.budget(B.tenantId, APP.clientId))).toBeGreaterThan(0);
    // Separate cursors; fabrikam has none for the resource it does not read.
    expect((await readCursor(redis, keys.cursor('mssp/contoso', 'incidents'))).watermark).toBeDefined();
    expect((await readCursor(redis, keys.cursor('mssp/fabrikam', 'alerts_v2'))).watermark).toBeDefined();
    expect(await redis.exists(keys.cursor('mssp/fabrikam', 'incidents'))).toBe(0);

    // northwind refuses the app: its own failure state, no records, and the others went on polling meanwhile.
    await waitFor(async () => (await readCursor(redis, keys.cursor('mssp/northwind', 'alerts_v2'))).failing_since);
    const northwind = await readCursor(redis, keys.cursor('mssp/northwind', 'alerts_v2'));
    expect(northwind.watermark).toBeUndefined();
    expect(northwind.last_error).toMatch(/AADSTS700016/);
    expect(bySource('mssp/northwind')).toEqual([]);
    sim.create(B.tenantId, 'alerts_v2');
    await waitFor(() => bySource('mssp/fabrikam').length >= 8, { timeoutMs: 60_000 });
    // Metrics carry the tenant's source name (ingested counts re-reads of the overlap too).
    expect(
      await metricValue(app.metrics, 'alertbridge_records_ingested_total', {
        source: 'mssp/fabrikam',
        resource: 'alerts_v2',
      }),
    ).toBeGreaterThanOrEqual(8);

    // Write-back: /sync/mssp routes each change by its key's tenant; each tenant also answers on its own name.
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const [a, b] = [bySource('mssp/contoso')[0]!, bySource('mssp/fabrikam')[0]!];
    const routed = await app.server.inject({
      method: 'POST',
      url: '/sync/mssp',
      headers: auth,
      payload: [
        { key: a.key, status: 'inProgress' },
        { key: b.key, status: 'resolved' },
      ],
    });
    expect(routed.statusCode).toBe(202);
    const ids = (routed.json() as { ids: string[] }).ids;
    expect(await redis.exists(keys.syncChange('mssp/contoso', ids[0]!))).toBe(1);
    expect(await redis.exists(keys.syncChange('mssp/fabrikam', ids[1]!))).toBe(1);
    const status = await app.server.inject({ method: 'GET', url: `/sync/mssp/changes/${ids[1]}`, headers: auth });
    expect(status.json()).toMatchObject({ change_id: ids[1], change: { resource: 'alerts_v2' } });
    const unnamed = await app.server.inject({
      method: 'POST',
      url: '/sync/mssp',
      headers: auth,
      payload: { resource: 'alerts_v2', id: b.id, status: 'resolved' },
    });
    expect(unnamed.statusCode).toBe(400);
    expect(unnamed.json()).toMatchObject({
      errors: [{ index: 0, error: expect.stringContaining('name the alert by its key') }],
    });
    const direct = await app.server.inject({
      method: 'POST',
      url: '/sync/mssp%2Ffabrikam',
      headers: auth,
      payload: { resource: 'alerts_v2', id: b.id, status: 'resolved' },
    });
    expect(direct.statusCode).toBe(202);
    const wrongTenant = await app.server.inject({
      method: 'POST',
      url: '/sync/mssp%2Ffabrikam',
      headers: auth,
      payload: { key: a.key, status: 'resolved' },
    });
    expect(wrongTenant.statusCode).toBe(400);
  });
});
