import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revisionOrder } from '../../src/record/revision.js';
import { RESOURCES } from '../../src/record/types.js';
import {
  callSimulator,
  DEMO_TENANT,
  simulateCommand,
  startSimulator,
  type GraphObject,
  type Simulator,
} from '../../src/simulator/index.js';
import { UPDATE_FIELD } from '../../src/simulator/store.js';
import { waitFor } from '../helpers/wait.js';
import { simulatorToken } from '../helpers/simulator.js';

const T = DEMO_TENANT.tenantId;
const later = (a: unknown, b: unknown): boolean => String(revisionOrder(String(a))) > String(revisionOrder(String(b)));

describe('simulator: updates', () => {
  let sim: Simulator;
  let token: string;
  beforeAll(async () => {
    sim = await startSimulator({ initial: 3 });
    token = await simulatorToken(sim);
  });
  afterAll(() => sim.close());

  it('sim.update stores a new revision with a strictly later update time, for every resource', () => {
    for (const resource of RESOURCES) {
      const before = sim.list(T, resource)[0] as GraphObject;
      const next = sim.update(T, resource, String(before.id));
      const field = UPDATE_FIELD[resource];
      expect(next.id).toBe(before.id);
      expect(later(next[field], before[field]), resource).toBe(true);
      expect(sim.list(T, resource).find((o) => o.id === before.id)?.[field]).toBe(next[field]);
    }
  });

  it('PATCH alerts_v2 answers 200 with the alert, its new status and a bumped lastUpdateDateTime', async () => {
    const alert = sim.create(T, 'alerts_v2', { status: 'new', resolvedDateTime: null });
    const path = `/v1.0/security/alerts_v2/${alert.id}`;
    const r = await callSimulator(sim, path, {
      token,
      method: 'PATCH',
      body: {
        status: 'resolved',
        classification: 'truePositive',
        determination: 'malware',
        assignedTo: 'soc@contoso.com',
      },
    });
    expect(r.status).toBe(200);
    const body = r.json as GraphObject;
    expect(body).toMatchObject({
      id: alert.id,
      status: 'resolved',
      classification: 'truePositive',
      determination: 'malware',
      assignedTo: 'soc@contoso.com',
    });
    expect(later(body.lastUpdateDateTime, alert.lastUpdateDateTime)).toBe(true);
    expect(body.resolvedDateTime).toEqual(expect.stringMatching(/\.\d{7}Z$/));
    expect(sim.requestLog.at(-1)).toMatchObject({
      method: 'PATCH',
      status: 200,
      resource: 'alerts_v2',
      provider: alert.serviceSource,
    });

    const readOnly = await callSimulator(sim, path, { token, method: 'PATCH', body: { title: 'x' } });
    expect(readOnly).toMatchObject({
      status: 400,
      json: { error: { code: 'BadRequest', message: expect.stringContaining("'title'") } },
    });
    expect((await callSimulator(sim, path, { token, method: 'PATCH', body: { status: 'closed' } })).status).toBe(400);
    expect(
      (
        await callSimulator(sim, '/v1.0/security/alerts_v2/nope', {
          token,
          method: 'PATCH',
          body: { status: 'resolved' },
        })
      ).status,
    ).toBe(404);

    const incident = sim.list(T, 'incidents')[0] as GraphObject;
    const inc = await callSimulator(sim, `/v1.0/security/incidents/${incident.id}`, {
      token,
      method: 'PATCH',
      body: { status: 'resolved', customTags: ['Demo'] },
    });
    expect(inc.status).toBe(200);
    expect(later((inc.json as GraphObject).lastUpdateDateTime, incident.lastUpdateDateTime)).toBe(true);
  });
});

describe('simulator: data over time', () => {
  it('forgets the oldest objects past `retain`, so long runs stay bounded', async () => {
    const sim = await startSimulator({ retain: 5 });
    try {
      const ids = Array.from({ length: 8 }, () => String(sim.create(T, 'alerts', {}).id));
      expect(sim.list(T, 'alerts').map((a) => a.id)).toEqual(ids.slice(3));
    } finally {
      await sim.close();
    }
  });

  it('creates and updates alerts per tenant at the configured rate, stamped with the clock', async () => {
    const start = new Date();
    const sim = await startSimulator({ rate: 40, updateRatio: 0.4, initial: { alerts_v2: 5, alerts: 5 } });
    try {
      const firstIds = new Set(sim.list(T, 'alerts_v2').map((a) => a.id));
      await waitFor(() => sim.list(T, 'alerts_v2').length + sim.list(T, 'alerts').length >= 30, {
        what: 'the feed to create alerts',
      });
      const v2 = sim.list(T, 'alerts_v2');
      const fresh = v2.filter((a) => !firstIds.has(a.id));
      expect(fresh.length).toBeGreaterThan(0);
      expect(fresh.every((a) => Date.parse(String(a.lastUpdateDateTime)) >= start.getTime() - 1)).toBe(true);
      expect(sim.list(T, 'alerts').length).toBeGreaterThan(5);
      // New alerts_v2 belong to incidents.
      const incidents = new Set(sim.list(T, 'incidents').map((i) => i.id));
      expect(fresh.every((a) => incidents.has(a.incidentId))).toBe(true);
      // Some seeded objects were moved on: updated now, created in the seeded past.
      await waitFor(
        () =>
          [...sim.list(T, 'alerts_v2'), ...sim.list(T, 'alerts'), ...sim.list(T, 'incidents')].some((o) => {
            const updated = Date.parse(String(o.lastUpdateDateTime ?? o.lastModifiedDateTime));
            return updated >= start.getTime() && Date.parse(String(o.createdDateTime)) < start.getTime() - 60_000;
          }),
        { what: 'an update of a seeded object' },
      );
    } finally {
      await sim.close();
    }
  });
});

describe('alertbridge simulate', () => {
  it('prints the CA file, Graph URL, authority host and demo credentials, and stops on abort', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const abort = new AbortController();
    let sim: Simulator | undefined;
    const running = simulateCommand({
      port: 0,
      rate: 0,
      seed: 3,
      out,
      signal: abort.signal,
      onStarted: (s) => (sim = s),
    });
    await waitFor(() => sim, { what: 'the simulator to start' });
    const s = sim as Simulator;
    expect(text).toContain(s.caFile);
    expect(text).toContain(`${s.url}/v1.0/security/alerts_v2`);
    expect(text).toContain(s.authorityHost);
    for (const v of [DEMO_TENANT.tenantId, DEMO_TENANT.clientId, DEMO_TENANT.clientSecret]) expect(text).toContain(v);
    expect(s.list(T, 'alerts_v2').length).toBeGreaterThan(0);
    abort.abort();
    await running;
    await expect(callSimulator(s, '/_sim/info')).rejects.toThrow();
  });
});
