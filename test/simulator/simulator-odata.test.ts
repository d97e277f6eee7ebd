import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revisionOrder } from '../../src/record/revision.js';
import {
  callSimulator,
  DEMO_TENANT,
  startSimulator,
  type GraphObject,
  type Simulator,
} from '../../src/simulator/index.js';
import { simulatorToken } from '../helpers/simulator.js';

const T = DEMO_TENANT.tenantId;
type Page = { '@odata.context': string; '@odata.nextLink'?: string; '@odata.count'?: number; value: GraphObject[] };

describe('simulator: OData queries and paging', () => {
  let sim: Simulator;
  let token: string;
  const get = async (path: string): Promise<{ status: number; page: Page; json: unknown }> => {
    const r = await callSimulator(sim, path, { token });
    return { status: r.status, page: r.json as Page, json: r.json };
  };

  beforeAll(async () => {
    sim = await startSimulator({ pageSize: 7, initial: { alerts_v2: 40, incidents: 5, secure_scores: 10 } });
    token = await simulatorToken(sim);
  });
  afterAll(() => sim.close());

  it('walks a lastUpdateDateTime window with nextLink and returns every alert in it exactly once, despite changes mid-walk', async () => {
    const before = sim.list(T, 'alerts_v2');
    const cutoff = before[10]?.lastUpdateDateTime as string;
    let next: string | undefined =
      `/v1.0/security/alerts_v2?$filter=${encodeURIComponent(`lastUpdateDateTime ge ${cutoff}`)}`;
    const seen: GraphObject[] = [];
    let pages = 0;
    while (next) {
      const { status, page } = await get(next);
      expect(status).toBe(200);
      expect(page['@odata.context']).toMatch(/\/v1\.0\/\$metadata#security\/alerts_v2$/);
      expect(page.value.length).toBeLessThanOrEqual(7);
      seen.push(...page.value);
      if (++pages === 1) {
        // Mid-walk: an alert already served changes, one not yet served changes, a new one arrives.
        sim.update(T, 'alerts_v2', String(page.value[0]?.id));
        sim.update(T, 'alerts_v2', String(before[before.length - 1]?.id));
        sim.create(T, 'alerts_v2');
      }
      next = page['@odata.nextLink'];
      if (next)
        expect(next).toMatch(
          new RegExp(`^${sim.url.replace(/[.]/g, '\\.')}/v1\\.0/security/alerts_v2\\?.*\\$skiptoken=`),
        );
    }
    const ids = seen.map((a) => String(a.id));
    expect(new Set(ids).size).toBe(ids.length);
    const inWindow = sim
      .list(T, 'alerts_v2')
      .filter((a) => String(revisionOrder(String(a.lastUpdateDateTime))) >= String(revisionOrder(cutoff)));
    expect(ids.sort()).toEqual(inWindow.map((a) => String(a.id)).sort());
    expect(pages).toBe(Math.ceil(inWindow.length / 7));
    // The alert updated before it was served arrives as its newest revision.
    const late = seen.find((a) => a.id === before[before.length - 1]?.id);
    expect(late?.lastUpdateDateTime).toBe(sim.list(T, 'alerts_v2').find((a) => a.id === late?.id)?.lastUpdateDateTime);
  });

  it('compares time filters at full 7-digit precision, with any fraction length or offset in the literal', async () => {
    const stamps = ['2020-01-01T00:00:00.1234567Z', '2020-01-01T00:00:00.1234568Z', '2020-01-01T00:00:00.1234569Z'];
    const ids = stamps.map((s) => String(sim.create(T, 'alerts_v2', { lastUpdateDateTime: s }).id));
    const query = async (filter: string): Promise<string[]> => {
      const { status, page } = await get(`/v1.0/security/alerts_v2?$top=100&$filter=${encodeURIComponent(filter)}`);
      expect(status).toBe(200);
      return page.value.map((a) => String(a.id));
    };
    expect(
      await query(
        'lastUpdateDateTime gt 2020-01-01T00:00:00.1234567Z and lastUpdateDateTime le 2020-01-01T00:00:00.1234568Z',
      ),
    ).toEqual([ids[1]]);
    expect(await query('lastUpdateDateTime eq 2020-01-01T00:00:00.1234567Z')).toEqual([ids[0]]);
    expect(
      await query('lastUpdateDateTime ge 2020-01-01T00:00:00.123Z and lastUpdateDateTime lt 2020-01-02T00:00:00Z'),
    ).toEqual(ids);
    expect(await query('lastUpdateDateTime lt 2020-01-01T01:00:00.1234568+01:00')).toEqual([ids[0]]);
    expect(
      await query(
        '(lastUpdateDateTime gt 2020-01-01T00:00:00.1234568Z) and lastUpdateDateTime lt 2020-01-02T00:00:00Z',
      ),
    ).toEqual([ids[2]]);
  });

  it('filters on severity/status equality (any case), orders, counts and projects', async () => {
    const all = sim.list(T, 'alerts_v2');
    const high = all.filter((a) => a.severity === 'high' && a.status !== 'resolved');
    const { page } = await get(
      `/v1.0/security/alerts_v2?$top=1000&$count=true&$filter=${encodeURIComponent("severity eq 'HIGH' and status ne 'resolved'")}`,
    );
    expect(page.value.map((a) => a.id).sort()).toEqual(high.map((a) => a.id).sort());
    expect(page['@odata.count']).toBe(high.length);

    const ordered = await get(
      '/v1.0/security/alerts_v2?$orderby=lastUpdateDateTime%20desc&$top=5&$count=true&$select=id,lastUpdateDateTime',
    );
    const times = ordered.page.value.map((a) => String(revisionOrder(String(a.lastUpdateDateTime))));
    expect(times).toEqual([...times].sort().reverse());
    expect(ordered.page['@odata.count']).toBe(all.length);
    expect(Object.keys(ordered.page.value[0] ?? {}).sort()).toEqual(['id', 'lastUpdateDateTime']);
    expect(ordered.page['@odata.nextLink']).toContain('$orderby=lastUpdateDateTime%20desc');
  });

  it('answers 400 BadRequest, naming what is supported, for filters it cannot evaluate', async () => {
    for (const filter of [
      "contains(title,'x')",
      "severity eq 'high' or severity eq 'low'",
      "lastUpdateDateTime ge '2024-01-01T00:00:00Z'",
      "evidence eq 'x'",
      'severity gt 1',
    ]) {
      const r = await get(`/v1.0/security/alerts_v2?$filter=${encodeURIComponent(filter)}`);
      expect(r.status, filter).toBe(400);
      expect(r.json).toMatchObject({ error: { code: 'BadRequest', message: expect.stringContaining('$filter') } });
    }
    expect((await get('/v1.0/security/alerts_v2?$top=abc')).status).toBe(400);
    expect((await get('/v1.0/security/alerts_v2?$skiptoken=garbage')).status).toBe(400);
  });

  it('serves incidents grouping the alerts, with $expand=alerts', async () => {
    const incidents = sim.list(T, 'incidents');
    for (const alert of sim.list(T, 'alerts_v2').slice(0, 40)) {
      if (String(alert.lastUpdateDateTime).startsWith('2020')) continue;
      expect(incidents.some((i) => i.id === alert.incidentId)).toBe(true);
    }
    const { page } = await get('/v1.0/security/incidents?$expand=alerts&$top=100');
    const grouped = page.value.filter((i) => (i.alerts as GraphObject[]).length > 0);
    expect(grouped.length).toBeGreaterThan(0);
    for (const i of grouped) for (const a of i.alerts as GraphObject[]) expect(a.incidentId).toBe(i.id);
  });

  it('returns the n most recent daily secure scores for $top=n', async () => {
    const { page } = await get('/v1.0/security/secureScores?$top=3');
    expect(page.value).toHaveLength(3);
    expect(page['@odata.nextLink']).toBeUndefined();
    const days = page.value.map((s) => String(s.createdDateTime).slice(0, 10));
    const newest = sim
      .list(T, 'secure_scores')
      .map((s) => String(s.createdDateTime))
      .sort()
      .reverse()
      .slice(0, 3);
    expect(page.value.map((s) => s.createdDateTime)).toEqual(newest);
    expect(new Set(days).size).toBe(3);
    expect(Date.parse(days[0] as string) - Date.parse(days[1] as string)).toBe(86_400_000);
    expect(Date.parse(String(page.value[0]?.createdDateTime))).toBeLessThan(Date.now());
  });

  it('reads one object by id, and answers 404 in Graph\u2019s error shape for an unknown one', async () => {
    const alert = sim.list(T, 'alerts_v2')[3] as GraphObject;
    const one = await get(`/v1.0/security/alerts_v2/${alert.id}`);
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({
      id: alert.id,
      '@odata.context': expect.stringMatching(/#security\/alerts_v2\/\$entity$/),
    });
    const missing = await get('/v1.0/security/incidents/999999999');
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({
      error: { code: 'NotFound', innerError: { 'request-id': expect.any(String) } },
    });
    expect((await get('/v1.0/security/nonsense')).status).toBe(400);
  });
});
