/**
 * Fuzzing every route with random and mutated bodies, content types and credentials: the server answers only 2xx
 * or 4xx, stays up, and exactly what it acknowledged reaches the queue — nothing stray.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { Metrics } from '../../src/observability/metrics.js';
import { revisionOrder } from '../../src/record/revision.js';
import type { AlertRecord } from '../../src/record/types.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { buildServer } from '../../src/server/server.js';
import { registerPushRoute } from '../../src/sources/push/route.js';
import { registerNotificationRoutes } from '../../src/sources/graph/notifications.js';
import { signPush } from '../../src/sources/push/auth.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { cleanup, silentLogger, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { alertV2 } from '../helpers/records.js';
import { loadSample } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait.js';
import { keysFor } from '../../src/pipeline/keys.js';

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
  stream = keysFor(tp.prefix).notifications;
  app = buildServer({
    maxBodyBytes: 64 * 1024,
    requestTimeoutMs: 5000,
    metrics: tp.metrics,
    logger: silentLogger,
    readiness: async () => ({ ok: true }),
  });
  registerPushRoute(app, {
    sources: [{ name: 'partner', token: TOKEN, hmac_secret: HMAC, hmac_replay_window_ms: 300_000 }],
    emit: (r) => tp.pipeline.emit(r),
    logger: silentLogger,
  });
  registerNotificationRoutes(app, {
    sources: [{ name: 'contoso', tenantId: 't', clientState: STATE, onLifecycle: () => undefined }],
    redis: tp.redis,
    streamKey: stream,
    metrics: tp.metrics,
    logger: silentLogger,
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await cleanup(tp);
});

const v1 = {
  ...loadSample('alert-resource-representation.v1.json'),
  id: 'legacy-x',
  vendorInformation: { provider: 'IPC', vendor: 'Microsoft' },
};

/** Valid-looking alerts with random damage: fields dropped, replaced by random JSON, or added. */
const mutatedAlert = fc
  .tuple(
    fc.integer({ min: 0, max: 5000 }),
    fc.boolean(),
    fc.array(
      fc.tuple(
        fc.constantFrom(
          'id',
          'tenantId',
          'severity',
          'status',
          'serviceSource',
          'lastUpdateDateTime',
          'vendorInformation',
          'title',
          'x',
        ),
        fc.option(fc.jsonValue(), { nil: undefined }),
      ),
      { maxLength: 4 },
    ),
  )
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

const notification = fc
  .tuple(
    fc.constantFrom(STATE, 'forged', ''),
    fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
    fc.integer({ min: 0, max: 4 }),
  )
  .map(([clientState, id, n]) =>
    JSON.stringify({
      value: Array.from({ length: n }, () => ({
        clientState,
        subscriptionId: 's',
        changeType: 'updated',
        resourceData: id === undefined ? {} : { id },
      })),
    }),
  );

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/merge-patch+json',
  '',
);

describe('fuzzed HTTP traffic', () => {
  it('answers only 2xx/4xx and queues exactly what it acknowledged', async () => {
    let acceptedPush = 0;
    let acceptedNotifications = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          '/ingest/partner',
          '/ingest/nobody',
          '/webhooks/graph/contoso',
          '/webhooks/graph/contoso/lifecycle',
          '/webhooks/graph/other',
          '/elsewhere',
        ),
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
          const target =
            validation && url.startsWith('/webhooks')
              ? `${url}?validationToken=${encodeURIComponent(payload.slice(0, 50))}`
              : url;
          const res = await app.inject({ method: 'POST', url: target, headers, payload });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          expect(res.statusCode >= 200 && res.statusCode < 500).toBe(true);
          expect(res.body).not.toMatch(/\bat \S+ \(|node_modules/); // no stack traces
          if (res.statusCode === 202 && url === '/ingest/partner')
            acceptedPush += (res.json() as { accepted: number }).accepted;
          if (res.statusCode === 202 && url === '/webhooks/graph/contoso')
            acceptedNotifications += (res.json() as { accepted: number }).accepted;
        },
      ),
      { numRuns: 3000, seed: 20261122 },
    );

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

/**
 * The push route through the whole app (buildApp, the real pipeline on Redis, three sinks): hostile items — wrong
 * types, huge strings, control characters in every routed field, update times far ahead — never crash it, never
 * get a 5xx, and every record lands exactly where the sinks' filters say: an unfiltered sink receives what was
 * acknowledged, and each filtered sink exactly the part of that its filter matches.
 */
describe('fuzzed partner pushes through the app', () => {
  const PREFIX = uniquePrefix('fuzz-app');
  const sinks = { all: new RecordingSink('all'), alpha: new RecordingSink('alpha'), ipc: new RecordingSink('ipc') };
  let ab: App;

  beforeAll(async () => {
    const res = parseConfig(
      `
redis: { url: "${redisUrl()}", key_prefix: "${PREFIX}" }
server: { max_body_bytes: 262144 }
sources:
  - { name: alpha, type: webhook, token: ${TOKEN} }
  - { name: beta, type: webhook, token: ${TOKEN}, hmac_secret: ${HMAC} }
sinks:
  - { name: all, type: file, path: /dev/null }
  - { name: alpha, type: file, path: /dev/null, filter: { sources: [alpha] } }
  - { name: ipc, type: file, path: /dev/null, filter: { providers: [IPC], min_severity: high } }
`,
      { baseDir: '/', env: {} },
    );
    if (!res.ok) throw new Error(res.errors.join('\n'));
    ab = buildApp(res.config, {
      logger: silentLogger,
      sinkOverrides: sinks,
      metrics: new Metrics({ defaultMetrics: false }),
    });
    await ab.start({ listen: false });
  });
  afterAll(async () => {
    await ab.stop();
    await deletePrefix(PREFIX);
  });

  const hostile = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc
      .array(
        fc.constantFrom(
          'IPC',
          'alpha',
          'beta',
          'high',
          'alerts_v2',
          '\x1f',
          '\x00',
          '%',
          '%1F',
          '\n',
          '\u2028',
          '\x7f',
        ),
        { maxLength: 6 },
      )
      .map((p) => p.join('')),
    fc.constantFrom('IPC', 'ipc', 'IPC\x1f', 'x\x1fhigh\x1falerts_v2\x1fIPC\x1falpha', 'microsoftDefenderForEndpoint'),
    fc.integer({ min: 1000, max: 60_000 }).map((n) => 'y'.repeat(n)),
  );
  const time = fc.oneof(
    fc.constantFrom(
      '2026-11-01T10:00:00Z',
      '2026-11-01T10:00:00.1234567Z',
      'String (timestamp)',
      '2026-02-30T00:00:00Z',
      '2999-01-01T00:00:00Z',
      '9999-12-31T23:59:59Z',
    ),
    fc.integer({ min: -86_400_000, max: 86_400_000 * 365 }).map((ms) => new Date(Date.now() + ms).toISOString()),
    hostile,
  );
  const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 2 }), hostile);
  const item = fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .record({
          i: fc.integer({ min: 0, max: 40 }),
          provider: fc.oneof(hostile, anyJson),
          severity: fc.oneof(fc.constantFrom('high', 'HIGH', 'medium', 'informational', 'unknownFutureValue'), anyJson),
          tenant: fc.oneof(hostile, anyJson),
          time: fc.oneof(time, anyJson),
          id: fc.option(fc.oneof(hostile, anyJson), { nil: undefined }),
        })
        .map(({ i, provider, severity, tenant, time: t, id }) => ({
          ...alertV2(i),
          serviceSource: provider,
          severity,
          tenantId: tenant,
          lastUpdateDateTime: t,
          ...(id === undefined ? {} : { id }),
        })),
    },
    { weight: 1, arbitrary: anyJson },
  );

  const identity = (r: { key: string; revision: string; data: unknown }) => JSON.stringify([r.key, r.revision, r.data]);
  const count = (list: readonly AlertRecord[]) => {
    const m = new Map<string, number>();
    for (const r of list) m.set(identity(r), (m.get(identity(r)) ?? 0) + 1);
    return m;
  };

  it('answers 2xx/4xx and delivers each acknowledged record to exactly the sinks whose filter matches', async () => {
    let accepted = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('alpha', 'beta'),
        fc.oneof(
          item.map((x) => x as unknown),
          fc.array(item, { maxLength: 6 }),
          fc.array(item, { maxLength: 6 }).map((value) => ({ value })),
        ),
        async (source, payload) => {
          const body = JSON.stringify(payload);
          const ts = String(Math.floor(Date.now() / 1000));
          const headers: Record<string, string> = {
            authorization: `Bearer ${TOKEN}`,
            'content-type': 'application/json',
          };
          if (source === 'beta')
            Object.assign(headers, {
              'x-alertbridge-timestamp': ts,
              'x-alertbridge-signature': signPush(HMAC, ts, body),
            });
          const res = await ab.server.inject({ method: 'POST', url: `/ingest/${source}`, headers, payload: body });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          expect([202, 400, 413, 422]).toContain(res.statusCode);
          if (res.statusCode === 202) accepted += (res.json() as { accepted: number }).accepted;
          if (res.statusCode === 422) expect((res.json() as { errors: unknown[] }).errors.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 400, seed: 20261202 },
    );

    expect((await ab.server.inject('/healthz')).statusCode).toBe(200);
    await waitFor(() => sinks.all.received.length >= accepted, {
      what: 'acknowledged pushes delivered',
      timeoutMs: 60_000,
    });
    await waitFor(() => ab.pipeline.idle(), { timeoutMs: 60_000 });
    expect(sinks.all.received).toHaveLength(accepted);
    expect(accepted).toBeGreaterThan(20);
    expect(statuses.get(422)).toBeGreaterThan(20);
    // the oracle: the filters written out by hand over what the unfiltered sink received
    const toAlpha = sinks.all.received.filter((r) => r.source === 'alpha');
    const toIpc = sinks.all.received.filter((r) => r.provider.toLowerCase() === 'ipc' && r.severity === 'high');
    expect(toAlpha.length).toBeGreaterThan(0);
    expect(toAlpha.length).toBeLessThan(accepted);
    expect(toIpc.length).toBeGreaterThan(0);
    expect(count(sinks.alpha.received)).toEqual(count(toAlpha));
    expect(count(sinks.ipc.received)).toEqual(count(toIpc));
    // nothing pushed from the future got through
    const latest = revisionOrder(new Date(Date.now() + 300_000).toISOString())!;
    for (const r of sinks.all.received) if (r.updated_at) expect(revisionOrder(r.updated_at)! < latest).toBe(true);
  }, 300_000);
});
