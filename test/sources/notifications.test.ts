/**
 * The change-notification route on its own, against a real Redis (and a blackholed one): what it persists, what it
 * refuses and with which status. The whole flow with the Graph simulator is in graph-webhook.test.ts.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observability/metrics.js';
import { connect } from '../../src/pipeline/redis.js';
import { buildServer } from '../../src/server/server.js';
import { registerNotificationRoutes } from '../../src/sources/graph/notifications.js';
import { startBlackhole, type Blackhole } from '../helpers/blackhole.js';
import { metricValue, silentLogger } from '../helpers/pipeline.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

const STATE = 'notify-client-state';
const note = (over: Record<string, unknown> = {}) => ({
  subscriptionId: 's-1',
  clientState: STATE,
  changeType: 'updated',
  resource: 'security/alerts/a-1',
  resourceData: { id: 'a-1' },
  ...over,
});

interface Route {
  server: FastifyInstance;
  redis: Redis;
  metrics: Metrics;
  stream: string;
  post(body: unknown): Promise<LightMyRequestResponse>;
}

const opened: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

async function route(url = redisUrl()): Promise<Route> {
  const prefix = uniquePrefix('notify');
  const redis = connect({ url });
  const metrics = new Metrics({ defaultMetrics: false });
  const server = buildServer({
    maxBodyBytes: 64 * 1024,
    requestTimeoutMs: 10_000,
    metrics,
    logger: silentLogger,
    readiness: async () => ({}),
  });
  const stream = `${prefix}:notifications`;
  registerNotificationRoutes(server, {
    sources: [{ name: 'contoso', tenantId: 't', clientState: STATE, onLifecycle: () => undefined }],
    redis,
    streamKey: stream,
    metrics,
    logger: silentLogger,
  });
  await server.ready();
  opened.push(async () => {
    await server.close();
    redis.disconnect();
    if (url === redisUrl()) await deletePrefix(prefix);
  });
  const post = (body: unknown) =>
    server.inject({
      method: 'POST',
      url: '/webhooks/graph/contoso',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
  return { server, redis, metrics, stream, post };
}

describe('POST /webhooks/graph/{source}', () => {
  it('persists the valid items and answers 202 with how many', async () => {
    const r = await route();
    const res = await r.post({ value: [note(), note({ resourceData: { id: 'a-2' } })] });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 2 });
    expect(await r.redis.xlen(r.stream)).toBe(2);
  });

  it.each([
    ['no resourceData', [note({ resourceData: undefined })]],
    [
      'resourceData without id',
      [note({ resourceData: {} }), note({ resourceData: { '@odata.type': '#Microsoft.Graph.security.alert' } })],
    ],
    [
      'ids that are not usable',
      [
        note({ resourceData: { id: '' } }),
        note({ resourceData: { id: 42 } }),
        note({ resourceData: { id: 'x'.repeat(513) } }),
      ],
    ],
  ])('answers 400 when no item has a usable resourceData.id (%s), and persists nothing', async (_what, items) => {
    const r = await route();
    const res = await r.post({ value: items });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: 'no notification has resourceData.id (a string of 1 to 512 characters): nothing to fetch',
    });
    expect(await r.redis.xlen(r.stream)).toBe(0);
    expect(
      await metricValue(r.metrics, 'alertbridge_webhook_rejected_total', { source: 'contoso', reason: 'invalid' }),
    ).toBe(items.length);
  });

  it('answers 400 when an item is not an object', async () => {
    const r = await route();
    for (const value of [[42], ['a-1'], [null], [note(), 'x']]) {
      const res = await r.post({ value });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'body must be {"value": [change notifications]}' });
    }
    expect(await r.redis.xlen(r.stream)).toBe(0);
  });

  it('drops and counts forged and id-less items beside valid ones, and accepts the valid ones', async () => {
    const r = await route();
    const res = await r.post({
      value: [note(), note({ clientState: 'forged', resourceData: { id: 'f-1' } }), note({ resourceData: {} })],
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 1 });
    expect(await r.redis.xlen(r.stream)).toBe(1);
    expect(
      await metricValue(r.metrics, 'alertbridge_webhook_rejected_total', { source: 'contoso', reason: 'client_state' }),
    ).toBe(1);
    expect(
      await metricValue(r.metrics, 'alertbridge_webhook_rejected_total', { source: 'contoso', reason: 'invalid' }),
    ).toBe(1);
    // only forged items: 403, as before
    expect((await r.post({ value: [note({ clientState: 'forged' })] })).statusCode).toBe(403);
  });

  it('answers 503 with Retry-After when Redis accepts the connection but never answers', async () => {
    const hole: Blackhole = await startBlackhole();
    opened.push(() => hole.close());
    const r = await route(hole.url);
    const res = await r.post({ value: [note()] });
    expect(hole.connections()).toBeGreaterThan(0); // it really was waiting on the blackhole
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('10');
    expect(res.json()).toEqual({ error: 'could not persist the notifications; retry later' });
  }, 30_000);
});
