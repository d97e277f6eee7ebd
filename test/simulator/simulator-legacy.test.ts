import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revisionOrder } from '../../src/record/revision.js';
import {
  callSimulator,
  DEMO_TENANT,
  LEGACY_PROVIDER_NAMES,
  startSimulator,
  type GraphObject,
  type Simulator,
} from '../../src/simulator/index.js';
import { simulatorToken } from '../helpers/simulator.js';

const T = DEMO_TENANT.tenantId;
type Page = { '@odata.nextLink'?: string; value: GraphObject[] };
const vendor = (provider: string): GraphObject => ({
  vendorInformation: { provider, providerVersion: null, subProvider: null, vendor: 'Microsoft' },
});
const providerOf = (a: GraphObject): string => (a.vendorInformation as { provider: string }).provider;
/** True when timestamp `a` is strictly later than `b`, at 100 ns precision. */
const later = (a: unknown, b: unknown): boolean => String(revisionOrder(String(a))) > String(revisionOrder(String(b)));

describe('simulator: legacy federated /security/alerts', () => {
  let sim: Simulator;
  let token: string;
  const call = (path: string, opts: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    callSimulator(sim, path, { token, ...opts });

  beforeAll(async () => {
    sim = await startSimulator({});
    token = await simulatorToken(sim);
    for (const p of LEGACY_PROVIDER_NAMES) for (let i = 0; i < 3; i++) sim.create(T, 'alerts', vendor(p));
  });
  afterAll(() => sim.close());

  it('legacyRetired: lists answer 200 with nothing and reads by id 404, though the alerts exist; alerts_v2 carries on', async () => {
    const one = sim.list(T, 'alerts')[0] as GraphObject;
    sim.setFaults({ legacyRetired: true });
    try {
      const list = await call('/v1.0/security/alerts?$top=10');
      expect(list.status).toBe(200);
      expect(list.json).toMatchObject({
        '@odata.context': expect.stringMatching(/\/v1\.0\/\$metadata#Security\/alerts$/),
        value: [],
      });
      expect((list.json as Page)['@odata.nextLink']).toBeUndefined();
      const byId = await call(`/v1.0/security/alerts/${String(one.id)}`);
      expect(byId.status).toBe(404);
      expect(byId.json).toMatchObject({ error: { code: 'NotFound' } });
      expect(sim.list(T, 'alerts').length).toBeGreaterThan(0);
      expect((await call('/v1.0/security/alerts_v2?$top=1')).status).toBe(200);
      expect(sim.requestLog.filter((e) => e.fault === 'retired').map((e) => e.status)).toEqual([200, 404]);
    } finally {
      sim.setFaults({ legacyRetired: null });
    }
    expect(((await call('/v1.0/security/alerts?$top=10')).json as Page).value.length).toBeGreaterThan(0);
  });

  it('fans out to every provider: $top applies per provider, and nextLinks bring the rest once', async () => {
    expect(LEGACY_PROVIDER_NAMES.length).toBeGreaterThanOrEqual(6);
    const first = await call('/v1.0/security/alerts?$top=1');
    const page = first.json as Page;
    expect(first.status).toBe(200);
    expect(page.value).toHaveLength(LEGACY_PROVIDER_NAMES.length);
    expect(new Set(page.value.map(providerOf))).toEqual(new Set(LEGACY_PROVIDER_NAMES));
    const ids = page.value.map((a) => a.id);
    let next = page['@odata.nextLink'];
    while (next) {
      const p = (await call(next)).json as Page;
      ids.push(...p.value.map((a) => a.id));
      next = p['@odata.nextLink'];
    }
    expect(ids).toHaveLength(3 * LEGACY_PROVIDER_NAMES.length);
    expect(new Set(ids).size).toBe(ids.length);

    const mcas = (
      await call(`/v1.0/security/alerts?$top=2&$filter=${encodeURIComponent("vendorInformation/provider eq 'MCAS'")}`)
    ).json as Page;
    expect(mcas.value.map(providerOf)).toEqual(['MCAS', 'MCAS']);
    expect(sim.requestLog.at(-1)).toMatchObject({ resource: 'alerts', provider: 'MCAS', status: 200, items: 2 });
  });

  it('enforces $top ≤ 1000 and $skip ≤ 500 with Graph\u2019s 400', async () => {
    const skip = await call('/v1.0/security/alerts?$skip=501');
    expect(skip.status).toBe(400);
    expect(skip.json).toMatchObject({ error: { code: 'BadRequest', message: expect.stringContaining('$skip') } });
    expect((await call('/v1.0/security/alerts?$skip=500')).status).toBe(200);
    const top = await call('/v1.0/security/alerts?$top=1001');
    expect(top.status).toBe(400);
    expect(top.json).toMatchObject({ error: { code: 'BadRequest', message: expect.stringContaining('$top') } });
  });

  it('gives no nextLink once top+skip reaches 6000, even with more alerts left', async () => {
    for (let i = 0; i < 6010; i++) sim.create(T, 'alerts', vendor('IPC'));
    let next: string | undefined =
      `/v1.0/security/alerts?$top=1000&$filter=${encodeURIComponent("vendorInformation/provider eq 'IPC'")}`;
    let served = 0;
    let pages = 0;
    while (next) {
      const p = (await call(next)).json as Page;
      served += p.value.length;
      pages++;
      next = p['@odata.nextLink'];
    }
    expect(sim.list(T, 'alerts').filter((a) => providerOf(a) === 'IPC')).toHaveLength(6013);
    expect(pages).toBe(6);
    expect(served).toBe(6000);
    // A sliding time filter reaches the rest.
    const rest = (
      await call(
        `/v1.0/security/alerts?$top=1000&$orderby=lastModifiedDateTime%20desc&$filter=${encodeURIComponent("vendorInformation/provider eq 'IPC'")}`,
      )
    ).json as Page;
    expect(rest.value[0]?.id).toBe(sim.list(T, 'alerts').at(-1)?.id);
  });

  it('creates many alerts of one provider with one timestamp, and pages them with $skip in a stable order', async () => {
    const cluster = sim.createMany(T, 'alerts', 25, { sameTime: true, provider: 'Azure Sentinel' });
    const at = cluster[0]!.lastModifiedDateTime as string;
    expect(cluster.every((a) => a.lastModifiedDateTime === at && providerOf(a) === 'Azure Sentinel')).toBe(true);
    expect(new Set(cluster.map((a) => a.id)).size).toBe(25);
    const filter = encodeURIComponent(`lastModifiedDateTime eq ${at}`);
    const ids: unknown[] = [];
    for (const skip of [0, 10, 20]) {
      const page = (
        await call(`/v1.0/security/alerts?$filter=${filter}&$orderby=lastModifiedDateTime%20asc&$top=10&$skip=${skip}`)
      ).json as Page;
      ids.push(...page.value.map((a) => a.id));
    }
    expect(ids).toEqual(cluster.map((a) => a.id));
    expect(() => sim.createMany(T, 'alerts_v2', 1, { provider: 'MCAS' })).toThrow(RangeError);
    expect(() => sim.createMany(T, 'alerts', 1, { provider: 'Nobody' })).toThrow(/unknown legacy provider 'Nobody'/);
    // the same over /_sim, for other processes
    const viaAdmin = await callSimulator(sim, `/_sim/tenants/${T}/alerts?count=3&sameTime=true&provider=MCAS`, {
      method: 'POST',
    });
    const made = (viaAdmin.json as Page).value;
    expect(viaAdmin.status).toBe(201);
    expect(made.map(providerOf)).toEqual(['MCAS', 'MCAS', 'MCAS']);
    expect(new Set(made.map((a) => a.lastModifiedDateTime)).size).toBe(1);
  });

  it('answers 206 with a Warning per failing provider and leaves its alerts out, also on GET by id', async () => {
    sim.setFaults({ partialProvider: 'MCAS' });
    try {
      const r = await call('/v1.0/security/alerts?$top=5');
      expect(r.status).toBe(206);
      expect(r.headers.warning).toBe('199 - "Microsoft/MCAS/504/10000"');
      const page = r.json as Page;
      expect(page.value.length).toBeGreaterThan(0);
      expect(page.value.some((a) => providerOf(a) === 'MCAS')).toBe(false);
      expect(sim.requestLog.at(-1)).toMatchObject({ status: 206, fault: 'partial', resource: 'alerts' });

      const onlyAsc = await call(
        `/v1.0/security/alerts?$filter=${encodeURIComponent("vendorInformation/provider eq 'ASC'")}`,
      );
      expect(onlyAsc.status).toBe(200);
      expect(onlyAsc.headers.warning).toBeUndefined();

      const mcasAlert = sim.list(T, 'alerts').find((a) => providerOf(a) === 'MCAS') as GraphObject;
      const byId = await call(`/v1.0/security/alerts/${mcasAlert.id}`);
      expect(byId.status).toBe(206);
      expect(byId.headers.warning).toBe('199 - "Microsoft/MCAS/504/10000"');
      expect(byId.json).not.toHaveProperty('id');
      const ascAlert = sim.list(T, 'alerts').find((a) => providerOf(a) === 'ASC') as GraphObject;
      expect((await call(`/v1.0/security/alerts/${ascAlert.id}`)).status).toBe(200);
    } finally {
      sim.setFaults({ partialProvider: null });
    }
    expect((await call('/v1.0/security/alerts?$top=1')).status).toBe(200);
  });

  it('PATCH needs vendorInformation, answers 204 (or 200 with return=representation) and bumps lastModifiedDateTime', async () => {
    const alert = sim.list(T, 'alerts').find((a) => providerOf(a) === 'ASC') as GraphObject;
    const path = `/v1.0/security/alerts/${alert.id}`;
    const missing = await call(path, { method: 'PATCH', body: { status: 'inProgress' } });
    expect(missing.status).toBe(400);
    expect(missing.json).toMatchObject({
      error: { code: 'BadRequest', message: expect.stringContaining('vendorInformation') },
    });
    expect(
      (
        await call(path, {
          method: 'PATCH',
          body: { status: 'inProgress', vendorInformation: { provider: 'IPC', vendor: 'Microsoft' } },
        })
      ).status,
    ).toBe(400);

    const quiet = await call(path, {
      method: 'PATCH',
      body: {
        status: 'inProgress',
        assignedTo: 'soc@contoso.com',
        vendorInformation: { provider: 'ASC', vendor: 'Microsoft' },
      },
    });
    expect(quiet.status).toBe(204);
    expect(quiet.text).toBe('');
    const afterQuiet = sim.list(T, 'alerts').find((a) => a.id === alert.id) as GraphObject;
    expect(afterQuiet).toMatchObject({ status: 'inProgress', assignedTo: 'soc@contoso.com' });
    expect(later(afterQuiet.lastModifiedDateTime, alert.lastModifiedDateTime)).toBe(true);

    const loud = await call(path, {
      method: 'PATCH',
      headers: { prefer: 'return=representation' },
      body: {
        status: 'resolved',
        feedback: 'truePositive',
        vendorInformation: { provider: 'ASC', vendor: 'Microsoft' },
      },
    });
    expect(loud.status).toBe(200);
    const body = loud.json as GraphObject;
    expect(body).toMatchObject({
      id: alert.id,
      status: 'resolved',
      feedback: 'truePositive',
      vendorInformation: alert.vendorInformation,
    });
    expect(body.closedDateTime).toEqual(expect.any(String));
    expect(later(body.lastModifiedDateTime, afterQuiet.lastModifiedDateTime)).toBe(true);
  });
});
