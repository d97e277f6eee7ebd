/**
 * `POST /sync/{source}` and `GET /sync/{source}/changes/{id}` authentication and queueing, on a real Redis through
 * the app's own HTTP server (fastify inject): the partner-push schemes (bearer and/or HMAC over the raw body, with
 * the source's own sync secrets), a resent `change_id` queued once, and every bad item refused with its reason.
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observability/metrics.js';
import { buildServer } from '../../src/server/server.js';
import { signPush } from '../../src/sources/push/auth.js';
import { SyncQueue, syncKeys } from '../../src/sync/queue.js';
import { registerSyncRoutes } from '../../src/sync/route.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

const TENANT = '11111111-2222-3333-4444-555555555555';
const prefix = uniquePrefix('sync-route');
const redis = new Redis(redisUrl());
afterAll(async () => {
  redis.disconnect();
  await deletePrefix(prefix);
});

const logger = pino({ level: 'silent' });
const server = buildServer({
  maxBodyBytes: 1_000_000,
  requestTimeoutMs: 10_000,
  metrics: new Metrics({ defaultMetrics: false }),
  logger,
  readiness: async () => ({}),
});
const queue = (name: string) => new SyncQueue(redis, syncKeys(prefix, name));
registerSyncRoutes(server, {
  logger,
  sources: [
    {
      name: 'signed',
      tenantId: TENANT,
      auth: { hmac_secret: 'k', hmac_replay_window_ms: 300_000 },
      queue: queue('signed'),
    },
    {
      name: 'both',
      tenantId: TENANT,
      auth: { token: 't', hmac_secret: 'k', hmac_replay_window_ms: 300_000 },
      queue: queue('both'),
    },
  ],
});

function signed(body: string, extra: Record<string, string> = {}): Record<string, string> {
  const ts = String(Math.floor(Date.now() / 1000));
  return {
    'content-type': 'application/json',
    'x-alertbridge-timestamp': ts,
    'x-alertbridge-signature': signPush('k', ts, body),
    ...extra,
  };
}

describe('/sync routes', () => {
  const change = JSON.stringify({ resource: 'alerts_v2', id: 'a1', status: 'resolved', change_id: 'siem-42' });

  it('takes an HMAC-signed change, refuses an unsigned or forged one', async () => {
    const ok = await server.inject({ method: 'POST', url: '/sync/signed', headers: signed(change), payload: change });
    expect(ok.statusCode).toBe(202);
    expect(ok.json()).toEqual({ accepted: 1, duplicates: 0, ids: ['siem-42'] });
    const unsigned = await server.inject({
      method: 'POST',
      url: '/sync/signed',
      headers: { 'content-type': 'application/json' },
      payload: change,
    });
    expect(unsigned.statusCode).toBe(401);
    const forged = await server.inject({
      method: 'POST',
      url: '/sync/signed',
      headers: signed(change),
      payload: change.replace('resolved', 'new'),
    });
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error).toBe('invalid signature');
  });

  it('queues a resent change_id once', async () => {
    const again = await server.inject({
      method: 'POST',
      url: '/sync/signed',
      headers: signed(change),
      payload: change,
    });
    expect(again.json()).toEqual({ accepted: 0, duplicates: 1, ids: ['siem-42'] });
    expect(await redis.xlen(syncKeys(prefix, 'signed').queue)).toBe(1);
  });

  it('with token and HMAC configured, needs both', async () => {
    const tokenOnly = await server.inject({
      method: 'POST',
      url: '/sync/both',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
      payload: change,
    });
    expect(tokenOnly.statusCode).toBe(401);
    expect(tokenOnly.json().error).toContain('X-Alertbridge-Signature');
    const both = await server.inject({
      method: 'POST',
      url: '/sync/both',
      headers: signed(change, { authorization: 'Bearer t' }),
      payload: change,
    });
    expect(both.statusCode).toBe(202);
  });

  it('GET /sync/{source}/changes/{id} is authenticated the same way and shows the queued change', async () => {
    const res = await server.inject({ method: 'GET', url: '/sync/signed/changes/siem-42', headers: signed('') });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ change_id: 'siem-42', state: 'queued', outcome: null, requested_by: 'hmac' });
    const anon = await server.inject({ method: 'GET', url: '/sync/signed/changes/siem-42' });
    expect(anon.statusCode).toBe(401);
    const none = await server.inject({ method: 'POST', url: '/sync/nope', headers: signed(change), payload: change });
    expect(none.statusCode).toBe(404);
  });

  it('refuses a body with any bad item: 400, each reason by index, nothing queued', async () => {
    const body = JSON.stringify([
      { resource: 'incidents', id: 'i1', status: 'new', determination: 'clean' },
      { resource: 'incidents', id: 'i2', determination: 'nonsense' },
      { resource: 'alerts_v2', id: 'a/../b', status: 'resolved' },
      { resource: 'alerts_v2', id: 'a3' },
      { resource: 'alerts_v2', id: 'a4', status: 'resolved', color: 'red' },
    ]);
    const res = await server.inject({ method: 'POST', url: '/sync/signed', headers: signed(body), payload: body });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors.map((e: { index: number }) => e.index)).toEqual([1, 2, 3, 4]);
    expect(res.json().errors[0].error).toMatch(
      /^determination "nonsense" is not valid for incidents \(allowed: unknown, apt, .*compromisedUser.*clean/,
    );
    expect(res.json().errors[2].error).toContain('nothing to change');
    expect(res.json().errors[3].error).toContain('unknown field(s) "color"');
    expect(await redis.xlen(syncKeys(prefix, 'signed').queue)).toBe(1);
  });
});
