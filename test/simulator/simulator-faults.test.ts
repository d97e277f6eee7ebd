import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callSimulator, DEMO_TENANT, startSimulator, type Simulator } from '../../src/simulator/index.js';
import { simulatorToken } from '../helpers/simulator.js';

const T = DEMO_TENANT.tenantId;
const THROTTLE_SAMPLE_KEYS = ['code', 'date', 'message', 'request-id', 'status'];

describe('simulator: fault knobs and the request log', () => {
  let now = Date.parse('2026-04-01T12:00:00Z');
  let sim: Simulator;
  let token: string;
  const alerts = () => callSimulator(sim, '/v1.0/security/alerts_v2?$top=1', { token });

  beforeAll(async () => {
    // The clock only moves when a test moves it, so the token never expires and the budget window is exact.
    sim = await startSimulator({ seed: 7, initial: { alerts_v2: 2 }, clock: () => new Date(now) });
    token = await simulatorToken(sim);
  });
  afterAll(() => sim.close());
  beforeEach(() => {
    sim.setFaults({
      throttleRate: null,
      unavailableRate: null,
      retryAfterS: null,
      slowMs: null,
      requestBudgetPerMinute: null,
      revokeTokens: null,
      errorStatus: null,
    });
    sim.clearLog();
  });

  it('throttles the configured share of Graph requests with 429, a fractional Retry-After and Graph\u2019s body', async () => {
    sim.setFaults({ throttleRate: 0.3 });
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) {
      const r = await alerts();
      statuses.push(r.status);
      if (r.status === 429) {
        expect(r.headers['retry-after']).toBe('2.128');
        expect(r.json).toMatchObject({
          error: {
            code: 'TooManyRequests',
            message: 'Please retry again later.',
            innerError: { code: '429', status: '429' },
          },
        });
        expect(Object.keys((r.json as { error: { innerError: object } }).error.innerError).sort()).toEqual(
          THROTTLE_SAMPLE_KEYS,
        );
      } else {
        expect(r.status).toBe(200);
      }
    }
    const throttled = statuses.filter((s) => s === 429).length;
    expect(throttled).toBeGreaterThan(40);
    expect(throttled).toBeLessThan(80);
    expect(sim.requestLog.filter((e) => e.fault === 'throttle')).toHaveLength(throttled);
    expect(
      sim.requestLog.filter((e) => e.status === 429).every((e) => e.resource === 'alerts_v2' && e.tenant === T),
    ).toBe(true);

    sim.setFaults({ throttleRate: 1, retryAfterS: 0.75 });
    expect((await alerts()).headers['retry-after']).toBe('0.75');
  });

  it('answers 503 with Retry-After at the unavailable rate, and leaves the token endpoint alone', async () => {
    sim.setFaults({ unavailableRate: 1, throttleRate: 0 });
    const r = await alerts();
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('2.128');
    expect(r.json).toMatchObject({ error: { code: 'ServiceUnavailable' } });
    await expect(simulatorToken(sim)).resolves.toEqual(expect.any(String));
    expect(sim.requestLog.map((e) => [e.resource, e.status, e.fault])).toEqual(
      expect.arrayContaining([
        ['alerts_v2', 503, 'unavailable'],
        ['token', 200, undefined],
      ]),
    );
  });

  it('enforces a per-minute request budget per app and tenant, counting throttled requests too', async () => {
    sim.setFaults({ requestBudgetPerMinute: 5 });
    for (let i = 0; i < 5; i++) expect((await alerts()).status).toBe(200);
    now += 20_000;
    const over = await alerts();
    expect(over.status).toBe(429);
    expect(Number(over.headers['retry-after'])).toBeCloseTo(40, 3);
    expect(sim.requestLog.at(-1)).toMatchObject({
      status: 429,
      fault: 'budget',
      tenant: T,
      clientId: DEMO_TENANT.clientId,
    });
    now += 40_001;
    // The first five left the window; the throttled one still counts: four more fit.
    for (let i = 0; i < 4; i++) expect((await alerts()).status).toBe(200);
    const again = await alerts();
    expect(again.status).toBe(429);
    // Retry-After says when a request fits again: the throttled one of 20 s ago leaving is not enough (the four and
    // this one, throttled, still count); all five of now leaving is.
    expect(Number(again.headers['retry-after'])).toBeCloseTo(60, 3);
    now += 59_999;
    expect((await alerts()).status).toBe(429);
    now += 60_000;
    expect((await alerts()).status).toBe(200);
  });

  it("revokes issued tokens (401 before expiry) with revokeTokens, and every token with 'all'", async () => {
    const fresh = () => simulatorToken(sim);
    const before = await fresh();
    const get = (t: string) => callSimulator(sim, '/v1.0/security/alerts_v2?$top=1', { token: t });
    expect((await get(before)).status).toBe(200);
    sim.setFaults({ revokeTokens: 'issued' });
    const refused = await get(before);
    expect(refused).toMatchObject({ status: 401, json: { error: { code: 'InvalidAuthenticationToken' } } });
    expect(refused.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(sim.requestLog.at(-1)).toMatchObject({ status: 401, fault: 'revoked', tenant: T, resource: 'alerts_v2' });
    const after = await fresh();
    expect((await get(after)).status).toBe(200);
    sim.setFaults({ revokeTokens: 'all' });
    expect((await get(after)).status).toBe(401);
    sim.setFaults({ revokeTokens: null });
    expect((await get(before)).status).toBe(200);
    expect(() => sim.setFaults({ revokeTokens: 'some' as 'all' })).toThrow(RangeError);
  });

  it('answers every Graph request with errorStatus and Graph\u2019s error body', async () => {
    sim.setFaults({ errorStatus: 403 });
    const r = await alerts();
    expect(r).toMatchObject({ status: 403, json: { error: { code: 'Forbidden' } } });
    expect(sim.requestLog.at(-1)).toMatchObject({ status: 403, fault: 'error', tenant: T, resource: 'alerts_v2' });
    sim.setFaults({ errorStatus: 410 });
    expect((await alerts()).status).toBe(410);
    expect(() => sim.setFaults({ errorStatus: 200 })).toThrow(RangeError);
    sim.setFaults({ errorStatus: null });
    expect((await alerts()).status).toBe(200);
  });

  it('delays every Graph response by slowMs', async () => {
    sim.setFaults({ slowMs: 150 });
    const started = performance.now();
    expect((await alerts()).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
    expect(sim.requestLog.at(-1)?.ms).toBeGreaterThanOrEqual(145);
  });

  it('logs every request with what tests need, and offers the log and faults over /_sim for other processes', async () => {
    await callSimulator(sim, `/v1.0/security/alerts_v2?$filter=${encodeURIComponent("severity eq 'high'")}`, { token });
    await callSimulator(sim, '/v1.0/security/incidents');
    expect(sim.requestLog).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: '/v1.0/security/alerts_v2',
        query: { $filter: "severity eq 'high'" },
        status: 200,
        tenant: T,
        resource: 'alerts_v2',
        at: new Date(now).toISOString(),
      }),
      expect.objectContaining({ path: '/v1.0/security/incidents', status: 401, tenant: null }),
    ]);
    // request headers are logged, the bearer token is not
    await callSimulator(sim, '/v1.0/security/alerts_v2', {
      token,
      headers: { Prefer: 'include-unknown-enum-members' },
    });
    const withHeaders = sim.requestLog.pop()!;
    expect(withHeaders.headers).toMatchObject({ prefer: 'include-unknown-enum-members' });
    expect(withHeaders.headers.authorization).toBeUndefined();
    expect(JSON.stringify(withHeaders)).not.toContain(token);
    const log = await callSimulator(sim, '/_sim/log');
    expect((log.json as { value: unknown[] }).value).toHaveLength(2);

    const set = await callSimulator(sim, '/_sim/faults', {
      method: 'POST',
      body: { throttleRate: 1, retryAfterS: 3.5 },
    });
    expect(set).toMatchObject({ status: 200, json: { throttleRate: 1, retryAfterS: 3.5 } });
    expect(sim.faults.throttleRate).toBe(1);
    expect((await alerts()).status).toBe(429);
    expect((await callSimulator(sim, '/_sim/faults', { method: 'POST', body: { throttleRate: 2 } })).status).toBe(400);

    expect((await callSimulator(sim, '/_sim/log', { method: 'DELETE' })).status).toBe(204);
    expect(sim.requestLog).toEqual([]);
    const created = await callSimulator(sim, `/_sim/tenants/${T}/alerts`, {
      method: 'POST',
      body: { severity: 'high' },
    });
    expect(created).toMatchObject({ status: 201, json: { severity: 'high', azureTenantId: T } });
  });
});
