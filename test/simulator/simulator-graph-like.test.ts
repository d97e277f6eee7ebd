import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { revisionOrder } from '../../src/record/revision.js';
import {
  banner,
  callSimulator,
  DEMO_TENANT,
  GRAPH_LIKE_DEFAULTS,
  type GraphObject,
  type Simulator,
} from '../../src/simulator/index.js';
import {
  changedDuringWalks,
  churnDuringWalk,
  fillWindow,
  filtersSent,
  listRequests,
  simToken,
  startGraphLikeSimulator,
  walk,
  type ListPage,
} from '../helpers/graph-like.js';

const T = DEMO_TENANT.tenantId;
const order = (a: GraphObject): string => String(revisionOrder(String(a.lastUpdateDateTime)));
const ids = (items: GraphObject[]): string[] => items.map((a) => String(a.id));

describe('simulator: graph-like mode (alerts_v2 and incidents listed like real Graph)', () => {
  let sim: Simulator;
  let token: string;
  let window: GraphObject[];
  let since: string;
  const get = async (path: string): Promise<{ status: number; page: ListPage; json: unknown }> => {
    const r = await callSimulator(sim, path, { token });
    return { status: r.status, page: r.json as ListPage, json: r.json };
  };
  const windowQuery = (extra = ''): string =>
    `/v1.0/security/alerts_v2?$filter=${encodeURIComponent(`lastUpdateDateTime ge ${since}`)}${extra}`;

  beforeAll(async () => {
    sim = await startGraphLikeSimulator({}, { initial: { incidents: 80 } });
    token = await simToken(sim);
    window = fillWindow(sim, 1100);
    since = String(window[0]?.lastUpdateDateTime);
  });
  beforeEach(() => {
    sim.setGraphLike({ ...GRAPH_LIKE_DEFAULTS, maxChanges: null });
    sim.clearLog();
  });
  afterAll(() => sim.close());

  it('lists newest first without $orderby, pages with $skip nextLinks, and logs every request with its $filter', async () => {
    const { pages, items } = await walk(sim, token, windowQuery('&$top=100'), 3);
    expect(pages).toHaveLength(3);
    const times = items.map(order);
    expect(times).toEqual([...times].sort().reverse());
    expect(items[0]?.id).toBe(window[window.length - 1]?.id);
    expect(pages[0]?.['@odata.nextLink']).toMatch(/\$top=100&\$skip=100$/);
    expect(pages[1]?.['@odata.nextLink']).toMatch(/\$skip=200$/);
    expect(pages[0]?.['@odata.nextLink']).not.toContain('$skiptoken');
    expect(new Set(ids(items)).size).toBe(300);
    expect(listRequests(sim)).toHaveLength(3);
    expect(filtersSent(sim)).toEqual(Array(3).fill(`lastUpdateDateTime ge ${since}`));
    expect(listRequests(sim).map((e) => e.query.$skip)).toEqual([undefined, '100', '200']);
  });

  it('drops the nextLink past maxDepth: the walk ends silently with items unread, though $count says how many match', async () => {
    const { pages, items } = await walk(sim, token, windowQuery('&$top=100&$count=true'));
    expect(pages).toHaveLength(10);
    expect(items).toHaveLength(1000);
    expect(pages[9]?.['@odata.nextLink']).toBeUndefined();
    expect(pages[0]?.['@odata.count']).toBe(1100);
    // An explicit $skip past the depth is still answered (with no nextLink).
    const deep = await get(windowQuery('&$top=100&$skip=1000'));
    expect(deep.page.value).toHaveLength(100);
    expect(deep.page['@odata.nextLink']).toBeUndefined();

    sim.setGraphLike({ maxDepth: 300 });
    expect((await walk(sim, token, windowQuery('&$top=100'))).items).toHaveLength(300);
  });

  it('clamps $top silently: alerts_v2 to 1000, incidents to 50 (configurable)', async () => {
    const alerts = await get(windowQuery('&$top=5000'));
    expect(alerts.status).toBe(200);
    expect(alerts.page.value).toHaveLength(1000);
    // 1000 deep already: no nextLink at the default depth.
    expect(alerts.page['@odata.nextLink']).toBeUndefined();
    const incidents = await get('/v1.0/security/incidents?$top=500');
    expect(incidents.page.value).toHaveLength(50);
    expect(incidents.page['@odata.nextLink']).toMatch(/\$top=50&\$skip=50$/);
    const none = await get(windowQuery('&$top=0'));
    expect(none.page.value).toHaveLength(0);
    expect(none.page['@odata.nextLink']).toBeUndefined(); // not a link back to itself
    sim.setGraphLike({ maxTop: { incidents: 20 } });
    expect((await get('/v1.0/security/incidents?$top=500')).page.value).toHaveLength(20);
  });

  it('updates objects of the window while a client walks it: an ascending offset walk misses some of them', async () => {
    sim.setGraphLike(churnDuringWalk({ total: 1100, share: 0.05, top: 100 }));
    const { items, pages } = await walk(sim, token, windowQuery('&$top=100&$orderby=lastUpdateDateTime%20asc'));
    expect(pages.length).toBeGreaterThan(1);
    const changed = changedDuringWalks(sim);
    // 10 pages (the walk stops 1000 deep) × 5 per page, of the 55 allowed.
    expect(pages).toHaveLength(10);
    expect(changed).toBe(50);
    expect(listRequests(sim).every((e) => (e.changed ?? 0) <= 5)).toBe(true);
    const now = sim.list(T, 'alerts_v2').filter((a) => order(a) >= order({ lastUpdateDateTime: since }));
    const seen = new Set(ids(items));
    const missed = now.filter((a) => !seen.has(String(a.id)));
    // Updated alerts move to the end of an ascending walk and push the unread ones back under the offset.
    expect(missed.length).toBeGreaterThan(0);
    // The cap (5% of 1100) holds on later walks too.
    await walk(sim, token, windowQuery('&$top=100'));
    expect(changedDuringWalks(sim)).toBe(55);
  });

  it('adds evidence with and without bumping lastUpdateDateTime (methods and per-page knobs)', async () => {
    const a = window[5] as GraphObject;
    const before = sim.list(T, 'alerts_v2').find((x) => x.id === a.id) as GraphObject;
    const silent = sim.addEvidence(T, String(a.id), { bump: false });
    expect((silent.evidence as unknown[]).length).toBe((before.evidence as unknown[]).length + 1);
    expect(silent.lastUpdateDateTime).toBe(before.lastUpdateDateTime);
    const bumped = sim.addEvidence(T, String(a.id));
    expect((bumped.evidence as unknown[]).length).toBe((before.evidence as unknown[]).length + 2);
    expect(order(bumped) > order(before)).toBe(true);

    sim.setGraphLike({ silentEvidencePerPage: 3, maxChanges: 3 });
    const snapshot = new Map(sim.list(T, 'alerts_v2').map((x) => [String(x.id), x]));
    await get(windowQuery('&$top=10'));
    const grown = sim
      .list(T, 'alerts_v2')
      .filter(
        (x) => (x.evidence as unknown[]).length > ((snapshot.get(String(x.id))?.evidence as unknown[]) ?? []).length,
      );
    expect(grown).toHaveLength(3);
    for (const g of grown) expect(g.lastUpdateDateTime).toBe(snapshot.get(String(g.id))?.lastUpdateDateTime);

    sim.setGraphLike({ silentEvidencePerPage: 0, evidencePerPage: 2, maxChanges: 2 });
    const snap2 = new Map(sim.list(T, 'alerts_v2').map((x) => [String(x.id), x]));
    await get(windowQuery('&$top=10'));
    const moved = sim
      .list(T, 'alerts_v2')
      .filter((x) => x.lastUpdateDateTime !== snap2.get(String(x.id))?.lastUpdateDateTime);
    expect(moved).toHaveLength(2);
    for (const m of moved)
      expect((m.evidence as unknown[]).length).toBe(
        ((snap2.get(String(m.id))?.evidence as unknown[]) ?? []).length + 1,
      );
  });

  it('honours the documented OData subset: time comparisons joined by and, eq and in on enums, $count, $orderby on the time fields', async () => {
    const all = sim.list(T, 'alerts_v2');
    const mid = window[500] as GraphObject;
    const range = `lastUpdateDateTime gt ${since} and lastUpdateDateTime le ${String(mid.lastUpdateDateTime)}`;
    const expected = all.filter((a) => order(a) > order({ lastUpdateDateTime: since }) && order(a) <= order(mid));
    const r1 = await get(`/v1.0/security/alerts_v2?$top=1000&$count=true&$filter=${encodeURIComponent(range)}`);
    expect(r1.status).toBe(200);
    expect(ids(r1.page.value).sort()).toEqual(ids(expected).sort());
    expect(r1.page['@odata.count']).toBe(expected.length);

    const sev = all.filter(
      (a) => ['high', 'medium'].includes(String(a.severity)) && a.serviceSource === 'microsoftDefenderForEndpoint',
    );
    const r2 = await get(
      `/v1.0/security/alerts_v2?$top=1000&$count=true&$filter=${encodeURIComponent("severity in ('high', 'Medium') and serviceSource eq 'microsoftDefenderForEndpoint'")}`,
    );
    expect(r2.status).toBe(200);
    expect(r2.page['@odata.count']).toBe(sev.length);
    expect(sev.length).toBeLessThan(1000);
    expect(ids(r2.page.value).sort()).toEqual(ids(sev).sort());
    expect(r2.page.value.every((a) => ['high', 'medium'].includes(String(a.severity)))).toBe(true);

    const asc = await get(`${windowQuery('&$top=20')}&$orderby=${encodeURIComponent('lastUpdateDateTime asc')}`);
    expect(asc.page.value[0]?.id).toBe(window[0]?.id);
    const byCreated = await get(
      '/v1.0/security/incidents?$top=10&$orderby=createdDateTime%20desc&$filter=' +
        encodeURIComponent("status in ('active','inProgress','resolved')"),
    );
    expect(byCreated.status).toBe(200);
    const created = byCreated.page.value.map((i) => String(revisionOrder(String(i.createdDateTime))));
    expect(created).toEqual([...created].sort().reverse());
  });

  it('refuses undocumented query options, operators and properties with 400 in Graph\u2019s error shape', async () => {
    const refused: Array<[string, RegExp]> = [
      ['$search=%22mimikatz%22', /Query option 'Search' is not allowed/],
      ['$skiptoken=abc', /Query option 'SkipToken' is not allowed/],
      ['$expand=evidence', /Query option 'Expand' is not allowed/],
      ['$orderby=severity%20desc', /Invalid OrderBy clause/],
      [`$filter=${encodeURIComponent("title eq 'x'")}`, /Invalid filter clause.*'title'/],
      [`$filter=${encodeURIComponent("detectionSource eq 'antivirus'")}`, /Invalid filter clause.*'detectionSource'/],
      [`$filter=${encodeURIComponent("status ne 'resolved'")}`, /Invalid filter clause.*'ne'/],
      [`$filter=${encodeURIComponent("severity eq 'high' or severity eq 'low'")}`, /Invalid filter clause/],
      [`$filter=${encodeURIComponent("startswith(title,'x')")}`, /Invalid filter clause/],
    ];
    for (const [query, message] of refused) {
      const r = await get(`/v1.0/security/alerts_v2?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.json, query).toMatchObject({
        error: {
          code: 'BadRequest',
          message: expect.stringMatching(message),
          innerError: { 'request-id': expect.any(String) },
        },
      });
    }
    expect((await get('/v1.0/security/incidents?$expand=alerts&$top=5')).status).toBe(200);
    expect(listRequests(sim).filter((e) => e.status === 400)).toHaveLength(refused.length);
  });

  it('fills big windows fast with copies (variety): own ids, strictly later update times, independent revisions', () => {
    const made = sim.createMany(T, 'alerts_v2', 3000, { variety: 100 });
    expect(new Set(ids(made)).size).toBe(3000);
    const times = made.map(order);
    for (let i = 1; i < times.length; i++) expect(times[i]! > times[i - 1]!, `item ${i}`).toBe(true);
    const copy = made[250] as GraphObject;
    expect(copy.id).toBe(`${String(made[50]?.id)}-c250`);
    const model = sim.list(T, 'alerts_v2').find((a) => a.id === made[50]?.id) as GraphObject;
    sim.addEvidence(T, String(copy.id));
    sim.update(T, 'alerts_v2', String(copy.id));
    const after = sim.list(T, 'alerts_v2').find((a) => a.id === made[50]?.id) as GraphObject;
    expect(after).toEqual(model);
    expect(() => sim.createMany(T, 'alerts', 10, { variety: 2 })).toThrow(RangeError);
  });

  it('leaves the default mode (keyset $skiptoken paging, friendly OData) when switched off, and names the mode in the banner', async () => {
    expect(banner(sim)).toContain('Graph-like:');
    sim.setGraphLike(false);
    expect(sim.graphLike).toBeNull();
    const r = await get(windowQuery('&$top=100'));
    expect(r.page['@odata.nextLink']).toContain('$skiptoken=');
    expect(
      (await get(`/v1.0/security/alerts_v2?$top=1&$filter=${encodeURIComponent("status ne 'resolved'")}`)).status,
    ).toBe(200);
    expect(banner(sim)).not.toContain('Graph-like:');
    sim.setGraphLike(true);
    expect(sim.graphLike?.maxDepth).toBe(1000);
  });
});
