import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  callSimulator,
  DEMO_TENANT,
  startSimulator,
  type GraphObject,
  type Simulator,
} from '../../src/simulator/index.js';
import { waitFor } from '../helpers/wait.js';
import { simulatorToken } from '../helpers/simulator.js';

const T = DEMO_TENANT.tenantId;
const vendor = (provider: string): GraphObject => ({
  vendorInformation: { provider, providerVersion: null, subProvider: null, vendor: 'Microsoft' },
});

interface Received {
  path: string;
  query: URLSearchParams;
  contentType: string;
  body: string;
}
type Behaviour = (r: Received, res: http.ServerResponse) => void;

/** A webhook receiver on loopback: records every request; answers as the test says (default: echo / 202). */
async function receiver(): Promise<{
  url: string;
  got: Received[];
  behave: (b: Behaviour) => void;
  close: () => Promise<void>;
}> {
  const got: Received[] = [];
  const echo: Behaviour = (r, res) => {
    const token = r.query.get('validationToken');
    if (token !== null) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
    } else res.writeHead(202).end();
  };
  let behaviour: Behaviour = echo;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const r = {
        path: u.pathname,
        query: u.searchParams,
        contentType: String(req.headers['content-type']),
        body: Buffer.concat(chunks).toString(),
      };
      got.push(r);
      behaviour(r, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    got,
    behave: (b) => (behaviour = (r, res) => (r.query.has('validationToken') ? echo(r, res) : b(r, res))),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('simulator: change-notification subscriptions', () => {
  let now = Date.now();
  let sim: Simulator;
  let token: string;
  let hook: Awaited<ReturnType<typeof receiver>>;
  const api = (path: string, method = 'GET', body?: unknown) =>
    callSimulator(sim, `/v1.0/subscriptions${path}`, { token, method, body });
  const inMinutes = (m: number): string => new Date(now + m * 60_000).toISOString();
  const subscribe = async (extra: GraphObject = {}) =>
    api('', 'POST', {
      changeType: 'updated',
      notificationUrl: `${hook.url}/hook`,
      resource: 'security/alerts',
      expirationDateTime: inMinutes(60),
      clientState: 'sekret',
      ...extra,
    });
  const notifications = (): GraphObject[] =>
    hook.got
      .filter((r) => r.path === '/hook' && !r.query.has('validationToken'))
      .flatMap((r) => (JSON.parse(r.body) as { value: GraphObject[] }).value);

  beforeAll(async () => {
    sim = await startSimulator({
      clock: () => new Date(now),
      subscriptions: { batchMs: 100, retryBaseMs: 50, retryWindowMs: 2000, validationTimeoutMs: 500 },
    });
    token = await simulatorToken(sim);
  });
  afterAll(() => sim.close());
  beforeEach(async () => {
    await hook?.close();
    hook = await receiver();
    for (const s of ((await api('')).json as { value: GraphObject[] }).value) await api(`/${s.id}`, 'DELETE');
    now = Date.now();
    sim.clearLog();
  });

  it('validates the endpoint with a URL-encoded token it must echo as text/plain, then answers 201', async () => {
    const r = await subscribe();
    expect(r.status).toBe(201);
    const sub = r.json as GraphObject;
    expect(sub).toMatchObject({
      changeType: 'updated',
      resource: 'security/alerts',
      clientState: 'sekret',
      applicationId: DEMO_TENANT.clientId,
      notificationUrl: `${hook.url}/hook`,
    });
    const validation = hook.got[0] as Received;
    expect(validation.query.get('validationToken')).toMatch(
      /^Validation: Testing client application reachability for subscription Request-Id: /,
    );
    expect(sim.deliveryLog.at(-1)).toMatchObject({ kind: 'validation', status: 200 });
    expect(((await api('')).json as { value: GraphObject[] }).value.map((s) => s.id)).toEqual([sub.id]);
  });

  it('refuses endpoints that do not echo, answer late, or are not https, and lifetimes beyond 43200 minutes', async () => {
    const cases: Array<[string, (res: http.ServerResponse, token: string) => void]> = [
      ['must respond with 200 OK', (res) => res.writeHead(500).end()],
      ['exactly match', (res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('something else')],
      ['text/plain', (res, t) => res.writeHead(200, { 'content-type': 'text/html' }).end(t)],
      ['timed out', () => {}],
    ];
    for (const [message, answer] of cases) {
      const server = http.createServer((req, res) =>
        answer(res, new URL(req.url ?? '/', 'http://x').searchParams.get('validationToken') ?? ''),
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v`;
      const r = await api('', 'POST', {
        changeType: 'updated',
        notificationUrl: url,
        resource: 'security/alerts',
        expirationDateTime: inMinutes(60),
      });
      server.closeAllConnections();
      server.close();
      expect(r.status, message).toBe(400);
      expect((r.json as { error: { message: string } }).error.message, message).toContain(message);
    }
    const tooLong = await subscribe({ expirationDateTime: inMinutes(43_201) });
    expect(tooLong).toMatchObject({
      status: 400,
      json: { error: { message: expect.stringContaining('43200 minutes') } },
    });
    expect((await subscribe({ expirationDateTime: inMinutes(43_199) })).status).toBe(201);
    expect((await subscribe({ notificationUrl: 'http://example.com/hook' })).status).toBe(400);
    expect((await subscribe({ changeType: 'created' })).status).toBe(400);
  });

  it('delivers updated notifications for new and changed legacy alerts, several per POST', async () => {
    const sub = (await subscribe()).json as GraphObject;
    const a = sim.create(T, 'alerts', vendor('ASC'));
    const b = sim.create(T, 'alerts', vendor('IPC'));
    sim.create(T, 'alerts', vendor('Microsoft Defender ATP')); // Graph cannot subscribe to this provider.
    sim.create(T, 'alerts_v2'); // not a legacy alert
    sim.update(T, 'alerts', String(a.id));
    await waitFor(() => notifications().length >= 3, { what: 'three notifications' });
    await new Promise((r) => setTimeout(r, 250));
    const items = notifications();
    expect(items.map((n) => n.resource)).toEqual([
      `security/alerts/${a.id}`,
      `security/alerts/${b.id}`,
      `security/alerts/${a.id}`,
    ]);
    expect(items[0]).toEqual({
      subscriptionId: sub.id,
      subscriptionExpirationDateTime: sub.expirationDateTime,
      clientState: 'sekret',
      changeType: 'updated',
      resource: `security/alerts/${a.id}`,
      resourceData: { id: a.id, '@odata.type': '#Microsoft.Graph.alert', '@odata.id': `security/alerts/${a.id}` },
      tenantId: T,
    });
    const posts = sim.deliveryLog.filter((d) => d.kind === 'notification');
    expect(posts.some((d) => d.items > 1)).toBe(true);
    expect(posts.every((d) => d.status === 202)).toBe(true);
  });

  it('honours the $filter in the subscription resource', async () => {
    await subscribe({ resource: "security/alerts?$filter=vendorInformation/provider eq 'ASC'" });
    sim.create(T, 'alerts', vendor('IPC'));
    const asc = sim.create(T, 'alerts', vendor('ASC'));
    await waitFor(() => notifications().length >= 1, { what: 'a notification' });
    await new Promise((r) => setTimeout(r, 250));
    expect(notifications().map((n) => (n.resourceData as GraphObject).id)).toEqual([asc.id]);
  });

  it('retries failed deliveries with backoff, and gives up after the retry window', async () => {
    await subscribe();
    let failures = 2;
    hook.behave((_r, res) => res.writeHead(failures-- > 0 ? 500 : 202).end());
    const a = sim.create(T, 'alerts', vendor('ASC'));
    await waitFor(() => sim.deliveryLog.some((d) => d.kind === 'notification' && d.status === 202), {
      what: 'a successful retry',
    });
    const attempts = sim.deliveryLog.filter((d) => d.kind === 'notification');
    expect(attempts.map((d) => [d.status, d.attempt])).toEqual([
      [500, 1],
      [500, 2],
      [202, 3],
    ]);
    expect(notifications().map((n) => (n.resourceData as GraphObject).id)).toEqual([a.id, a.id, a.id]);

    sim.clearLog();
    hook.behave((_r, res) => res.writeHead(503).end());
    sim.create(T, 'alerts', vendor('ASC'));
    await new Promise((r) => setTimeout(r, 2600));
    const tries = sim.deliveryLog.filter((d) => d.kind === 'notification').length;
    expect(tries).toBeGreaterThanOrEqual(3);
    expect(tries).toBeLessThanOrEqual(7);
    await new Promise((r) => setTimeout(r, 500));
    expect(sim.deliveryLog.filter((d) => d.kind === 'notification')).toHaveLength(tries);
  });

  it('renews with PATCH, deletes with DELETE, and stops delivering once expired', async () => {
    const sub = (await subscribe({ expirationDateTime: inMinutes(10) })).json as GraphObject;
    const renewed = await api(`/${sub.id}`, 'PATCH', { expirationDateTime: inMinutes(30) });
    expect(renewed).toMatchObject({ status: 200, json: { id: sub.id, expirationDateTime: inMinutes(30) } });
    expect((await api(`/${sub.id}`, 'PATCH', { expirationDateTime: inMinutes(50_000) })).status).toBe(400);
    now += 31 * 60_000;
    sim.create(T, 'alerts', vendor('ASC'));
    await new Promise((r) => setTimeout(r, 300));
    expect(notifications()).toEqual([]);
    expect((await api(`/${sub.id}`)).status).toBe(404);

    const other = (await subscribe()).json as GraphObject;
    expect((await api(`/${other.id}`, 'DELETE')).status).toBe(204);
    expect((await api(`/${other.id}`)).status).toBe(404);
  });

  it('sends lifecycle notifications to the lifecycle URL', async () => {
    const sub = (await subscribe({ lifecycleNotificationUrl: `${hook.url}/lifecycle` })).json as GraphObject;
    expect(hook.got.filter((r) => r.query.has('validationToken')).map((r) => r.path)).toEqual(['/hook', '/lifecycle']);
    expect(await sim.lifecycle(String(sub.id), 'reauthorizationRequired')).toBe(202);
    const got = hook.got.find((r) => r.path === '/lifecycle' && !r.query.has('validationToken')) as Received;
    expect(JSON.parse(got.body)).toEqual({
      value: [
        {
          subscriptionId: sub.id,
          subscriptionExpirationDateTime: sub.expirationDateTime,
          tenantId: T,
          clientState: 'sekret',
          lifecycleEvent: 'reauthorizationRequired',
        },
      ],
    });
    expect((await api(`/${sub.id}/reauthorize`, 'POST')).status).toBe(204);
  });
});
