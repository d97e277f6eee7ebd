/**
 * Fuzzing every route with random and mutated bodies, content types and credentials: the server answers only 2xx
 * or 4xx, stays up, and exactly what it acknowledged reaches the queue — nothing stray.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/server/server.js';
import { registerPushRoute } from '../../src/sources/push/route.js';
import { registerNotificationRoutes } from '../../src/sources/graph/notifications.js';
import { signPush } from '../../src/sources/push/auth.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { cleanup, silentLogger, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { alertV2 } from '../helpers/records.js';
import { loadSample } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'fuzz-token';
const HMAC = 'fuzz-hmac';
const STATE = 'fuzz-client-state';
let tp: TestPipeline;
let sink: RecordingSink;
let app: FastifyInstance;
let stream: string;

beforeAll(async () => {
  sink = new RecordingSink('out');
  tp = await startTestPipeline([{ sink, maxRecords: 500 }]);
  stream = `${tp.prefix}:notifications`;
  app = buildServer({ maxBodyBytes: 64 * 1024, requestTimeoutMs: 5000, metrics: tp.metrics, logger: silentLogger, readiness: async () => ({ ok: true }) });
  registerPushRoute(app, { sources: [{ name: 'partner', token: TOKEN, hmac_secret: HMAC, hmac_replay_window_ms: 300_000 }], emit: (r) => tp.pipeline.emit(r), logger: silentLogger });
  registerNotificationRoutes(app, { sources: [{ name: 'contoso', tenantId: 't', clientState: STATE, onLifecycle: () => undefined }], redis: tp.redis, streamKey: stream, metrics: tp.metrics, logger: silentLogger });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await cleanup(tp);
});

const v1 = { ...loadSample('alert-resource-representation.v1.json'), id: 'legacy-x', vendorInformation: { provider: 'IPC', vendor: 'Microsoft' } };

/** Valid-looking alerts with random damage: fields dropped, replaced by random JSON, or added. */
const mutatedAlert = fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.boolean(), fc.array(fc.tuple(fc.constantFrom('id', 'tenantId', 'severity', 'status', 'serviceSource', 'lastUpdateDateTime', 'vendorInformation', 'title', 'x'), fc.option(fc.jsonValue(), { nil: undefined })), { maxLength: 4 }))
  .map(([i, legacy, edits]) => {
    const base: Record<string, unknown> = legacy ? { ...v1, id: `legacy-${i}` } : alertV2(i);
    for (const [k, v] of edits) {
      if (v === undefined) delete base[k];
      else base[k] = v;
    }
    return base;
  });

const body = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 300 }),
  mutatedAlert.map((a) => JSON.stringify(a)),
  fc.array(mutatedAlert, { maxLength: 5 }).map((a) => JSON.stringify(a)),
  fc.array(mutatedAlert, { maxLength: 5 }).map((a) => JSON.stringify({ value: a })),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.constant('x'.repeat(70 * 1024)),
);

const notification = fc.tuple(fc.constantFrom(STATE, 'forged', ''), fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }), fc.integer({ min: 0, max: 4 }))
  .map(([clientState, id, n]) => JSON.stringify({ value: Array.from({ length: n }, () => ({ clientState, subscriptionId: 's', changeType: 'updated', resourceData: id === undefined ? {} : { id } })) }));

const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/merge-patch+json', '');

describe('fuzzed HTTP traffic', () => {
  it('answers only 2xx/4xx and queues exactly what it acknowledged', async () => {
    let acceptedPush = 0;
    let acceptedNotifications = 0;
    const statuses = new Map<number, number>();
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('/ingest/partner', '/ingest/nobody', '/webhooks/graph/contoso', '/webhooks/graph/contoso/lifecycle', '/webhooks/graph/other', '/elsewhere'),
      fc.oneof(body, notification),
      contentType,
      fc.constantFrom('bearer+hmac', 'bearer', 'wrong-bearer', 'hmac', 'stale-hmac', 'none'),
      fc.boolean(),
      async (url, payload, type, auth, validation) => {
        const headers: Record<string, string> = {};
        if (type) headers['content-type'] = type;
        const ts = auth === 'stale-hmac' ? '1000' : String(Math.floor(Date.now() / 1000));
        if (auth === 'bearer' || auth === 'bearer+hmac') headers.authorization = `Bearer ${TOKEN}`;
        if (auth === 'wrong-bearer') headers.authorization = 'Bearer nope';
        if (auth === 'hmac' || auth === 'stale-hmac' || auth === 'bearer+hmac') {
          headers['x-alertbridge-timestamp'] = ts;
          headers['x-alertbridge-signature'] = signPush(HMAC, ts, payload);
        }
        const target = validation && url.startsWith('/webhooks') ? `${url}?validationToken=${encodeURIComponent(payload.slice(0, 50))}` : url;
        const res = await app.inject({ method: 'POST', url: target, headers, payload });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        expect(res.statusCode >= 200 && res.statusCode < 500).toBe(true);
        expect(res.body).not.toMatch(/\bat \S+ \(|node_modules/); // no stack traces
        if (res.statusCode === 202 && url === '/ingest/partner') acceptedPush += (res.json() as { accepted: number }).accepted;
        if (res.statusCode === 202 && url === '/webhooks/graph/contoso') acceptedNotifications += (res.json() as { accepted: number }).accepted;
      },
    ), { numRuns: 3000, seed: 20261122 });

    // the process is fine and the queue holds exactly what was acknowledged
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    await waitFor(() => sink.received.length >= acceptedPush, { what: 'acknowledged pushes delivered' });
    await waitFor(() => tp.pipeline.idle());
    expect(sink.received).toHaveLength(acceptedPush);
    expect(await tp.redis.xlen(stream)).toBe(acceptedNotifications);
    expect(acceptedPush).toBeGreaterThan(0);
    expect(acceptedNotifications).toBeGreaterThan(0);
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([200, 202, 400, 401, 403, 404, 413, 415, 422]));
  }, 180_000);
});
