import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Metrics } from '../../src/observability/metrics.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { mintReplicaId } from '../../src/pipeline/replica.js';
import { connect } from '../../src/pipeline/redis.js';
import { buildServer } from '../../src/server/server.js';
import { registerPushRoute } from '../../src/sources/push/route.js';
import { signPush } from '../../src/sources/push/auth.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { cleanup, silentLogger, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { alertV2, record } from '../helpers/records.js';
import { metricValue } from '../helpers/pipeline.js';
import { startBlackhole } from '../helpers/blackhole.js';
import { uniquePrefix } from '../helpers/redis.js';
import { loadSample } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait.js';

let tp: TestPipeline;
let sink: RecordingSink;
let app: FastifyInstance;
const TOKEN = 'partner-token-123';
const HMAC = 'hmac-secret-456';

beforeEach(async () => {
  sink = new RecordingSink('out');
  tp = await startTestPipeline([{ sink }]);
  app = buildServer({
    maxBodyBytes: 4096,
    requestTimeoutMs: 5000,
    metrics: tp.metrics,
    logger: silentLogger,
    readiness: async () => ({ ok: true }),
  });
  registerPushRoute(app, {
    sources: [
      { name: 'partner', token: TOKEN, hmac_replay_window_ms: 300_000 },
      { name: 'signed', hmac_secret: HMAC, hmac_replay_window_ms: 300_000, tenant_id: 'fallback-tenant' },
      { name: 'both', token: TOKEN, hmac_secret: HMAC, hmac_replay_window_ms: 300_000 },
    ],
    emit: (r) => tp.pipeline.emit(r),
    logger: silentLogger,
    onRejected: (source, reason) => tp.metrics.webhookRejected.inc({ source, reason }),
  });
  await app.ready();
});
afterEach(async () => {
  await app.close();
  await cleanup(tp);
});

const post = (source: string, payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: `/ingest/${source}`,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });

describe('POST /ingest/{source}', () => {
  it('accepts one alert, an array, or {value: [...]}, v1 and v2 shapes, and reports duplicates', async () => {
    const v1 = {
      ...loadSample('alert-resource-representation.v1.json'),
      id: 'legacy-1',
      vendorInformation: { provider: 'IPC', vendor: 'Microsoft' },
    };
    expect((await post('partner', alertV2(1))).json()).toEqual({ accepted: 1, duplicates: 0 });
    expect((await post('partner', [alertV2(1), alertV2(2)])).json()).toEqual({ accepted: 1, duplicates: 1 });
    const res = await post('partner', { value: [alertV2(3), v1] });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 2, duplicates: 0 });
    await waitFor(() => sink.received.length >= 4);
    expect(sink.received.map((r) => [r.resource, r.via, r.source])).toContainEqual(['alerts', 'push', 'partner']);
    expect(sink.received.every((r) => r.via === 'push')).toBe(true);
  });

  it('accepts an HMAC-signed push within the replay window and uses the fallback tenant', async () => {
    const body = JSON.stringify({ ...alertV2(9), tenantId: undefined });
    const ts = String(Math.floor(Date.now() / 1000));
    const res = await post('signed', body, {
      authorization: '',
      'x-alertbridge-timestamp': ts,
      'x-alertbridge-signature': signPush(HMAC, ts, body),
    });
    expect(res.statusCode).toBe(202);
    await waitFor(() => sink.received.length >= 1);
    expect(sink.received[0]!.tenant_id).toBe('fallback-tenant');
  });

  it.each([
    ['wrong token', 'partner', { authorization: 'Bearer nope' }, 401, 'invalid bearer token'],
    ['no credentials', 'partner', { authorization: '' }, 401, 'missing credentials (send Authorization: Bearer)'],
    [
      'bad signature',
      'signed',
      {
        authorization: '',
        'x-alertbridge-timestamp': String(Math.floor(Date.now() / 1000)),
        'x-alertbridge-signature': 'sha256=00',
      },
      401,
      'invalid signature',
    ],
    [
      'replayed signature',
      'signed',
      {
        authorization: '',
        'x-alertbridge-timestamp': '1000000000',
        'x-alertbridge-signature': signPush(HMAC, '1000000000', JSON.stringify(alertV2(1))),
      },
      401,
      'timestamp outside the replay window',
    ],
    ['unknown source', 'nobody', {}, 404, 'no push source named "nobody"'],
    [
      'wrong content type',
      'partner',
      { 'content-type': 'text/plain' },
      415,
      'unsupported content type "text/plain": send application/json',
    ],
  ])('refuses %s', async (_what, source, headers, status, error) => {
    const res = await post(source, alertV2(1), headers as Record<string, string>);
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ error });
  });

  it('requires every scheme a source configures: with a token and an HMAC secret, neither alone passes', async () => {
    const body = JSON.stringify(alertV2(11));
    const ts = String(Math.floor(Date.now() / 1000));
    const signed = { 'x-alertbridge-timestamp': ts, 'x-alertbridge-signature': signPush(HMAC, ts, body) };
    const refused = [
      [{}, 'missing credentials (send X-Alertbridge-Signature)'],
      [{ ...signed, authorization: '' }, 'missing credentials (send Authorization: Bearer)'],
      [{ authorization: '' }, 'missing credentials (send Authorization: Bearer and X-Alertbridge-Signature)'],
      [{ ...signed, authorization: 'Bearer nope' }, 'invalid bearer token'],
      [{ ...signed, 'x-alertbridge-signature': 'sha256=00' }, 'invalid signature'],
    ] as const;
    for (const [headers, error] of refused) {
      const res = await post('both', body, headers);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error });
    }
    const res = await post('both', body, signed);
    expect(res.statusCode).toBe(202);
    await waitFor(() => sink.received.length >= 1);
    await waitFor(() => tp.pipeline.idle());
    expect(sink.received.map((r) => r.id)).toEqual([alertV2(11).id]);
  });

  it('refuses invalid JSON, an oversized body, and invalid items, and nothing reaches the sink', async () => {
    const bad = await post('partner', '{"id": ');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/^invalid JSON: /);
    const big = await post('partner', { ...alertV2(1), description: 'x'.repeat(5000) });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toEqual({ error: 'request body is larger than 4096 bytes' });
    const { id: _id, ...noId } = alertV2(2);
    const items = await post('partner', [alertV2(3), noId, 42]);
    expect(items.statusCode).toBe(422);
    expect(items.json()).toEqual({
      error: '2 of 3 item(s) invalid; nothing was accepted',
      errors: [
        { index: 1, error: 'record has no id' },
        { index: 2, error: 'not a Graph security alert (neither the alerts_v2 nor the legacy alert shape)' },
      ],
    });
    const scalar = await post('partner', '"hello"');
    expect(scalar.statusCode).toBe(400);
    // a valid push afterwards proves the process is fine and the pipeline only ever saw that one
    expect((await post('partner', alertV2(4))).statusCode).toBe(202);
    await waitFor(() => sink.received.length >= 1);
    await waitFor(() => tp.pipeline.idle());
    expect(sink.received.map((r) => r.id)).toEqual([alertV2(4).id]);
  });

  it('answers 503 when the records cannot be persisted', async () => {
    const failing = buildServer({
      maxBodyBytes: 4096,
      requestTimeoutMs: 5000,
      metrics: tp.metrics,
      logger: silentLogger,
      readiness: async () => ({}),
    });
    registerPushRoute(failing, {
      sources: [{ name: 'partner', token: TOKEN, hmac_replay_window_ms: 1 }],
      emit: () => Promise.reject(new Error('Connection is closed.')),
      logger: silentLogger,
    });
    const res = await failing.inject({
      method: 'POST',
      url: '/ingest/partner',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      payload: alertV2(1),
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toEqual({ error: 'could not persist the records; retry later' });
    await failing.close();
  });
});

describe('a push source writes only its own keys', () => {
  const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

  it('refuses an update time far in the future, per item, and counts it', async () => {
    const forged = alertV2(1, { updated: '2099-01-01T00:00:00Z' });
    const legacy = {
      ...loadSample('alert-resource-representation.v1.json'),
      id: 'legacy-f',
      vendorInformation: { provider: 'IPC', vendor: 'Microsoft' },
      lastModifiedDateTime: inMinutes(60),
    };
    const res = await post('partner', [alertV2(2, { updated: inMinutes(2) }), forged, legacy]);
    expect(res.statusCode).toBe(422);
    const max =
      "is more than 300000 ms ahead of this server's clock (future_skew_ms): an update time from the future would hide every later update of this alert";
    expect(res.json()).toEqual({
      error: '2 of 3 item(s) invalid; nothing was accepted',
      errors: [
        { index: 1, error: `lastUpdateDateTime "2099-01-01T00:00:00Z" ${max}` },
        { index: 2, error: `lastModifiedDateTime ${JSON.stringify(legacy.lastModifiedDateTime)} ${max}` },
      ],
    });
    expect(
      await metricValue(tp.metrics, 'alertbridge_webhook_rejected_total', {
        source: 'partner',
        reason: 'future_revision',
      }),
    ).toBe(2);
    // within the tolerated clock skew it passes
    expect((await post('partner', alertV2(2, { updated: inMinutes(2) }))).json()).toEqual({
      accepted: 1,
      duplicates: 0,
    });
    await waitFor(() => sink.received.length >= 1);
    await waitFor(() => tp.pipeline.idle());
    expect(sink.received.map((r) => r.id)).toEqual([alertV2(2).id]);
  });

  it('keys pushed records under the source, so a forged copy of a Graph alert cannot hide its later updates', async () => {
    const real = record(5, { source: 'contoso', updated: new Date(Date.now() - 60_000).toISOString() });
    expect((await tp.pipeline.emit([real])).accepted).toBe(1);
    // the partner names the same tenant, provider and id, with an update time just inside the tolerated skew
    const forged = await post('partner', alertV2(5, { updated: inMinutes(4) }));
    expect(forged.json()).toEqual({ accepted: 1, duplicates: 0 });
    // another push source pushing the same alert has its own namespace too
    const ts = String(Math.floor(Date.now() / 1000));
    const body = JSON.stringify(alertV2(5, { updated: inMinutes(4) }));
    expect(
      (
        await post('signed', body, {
          authorization: '',
          'x-alertbridge-timestamp': ts,
          'x-alertbridge-signature': signPush(HMAC, ts, body),
        })
      ).json(),
    ).toEqual({ accepted: 1, duplicates: 0 });
    // Graph's next update of the real alert is older than the forged time, and still an update
    const update = record(5, { source: 'contoso', updated: new Date().toISOString() });
    expect(await tp.pipeline.emit([update])).toMatchObject({ accepted: 1, stale: 0 });
    await waitFor(() => sink.received.length >= 4);
    await waitFor(() => tp.pipeline.idle());
    const tenant = real.tenant_id;
    const seen = sink.received.map((r) => [r.key, r.source, r.revision]);
    // Records of different keys may arrive in any order (they are staged in their keys' inbox shards, keys.ts).
    expect(seen).toHaveLength(4);
    expect(seen).toEqual(
      expect.arrayContaining([
        [`${tenant}/alerts_v2/microsoftDefenderForEndpoint/${real.id}`, 'contoso', real.revision],
        [`push:partner/${tenant}/alerts_v2/microsoftDefenderForEndpoint/${real.id}`, 'partner', expect.any(String)],
        [`push:signed/${tenant}/alerts_v2/microsoftDefenderForEndpoint/${real.id}`, 'signed', expect.any(String)],
        [`${tenant}/alerts_v2/microsoftDefenderForEndpoint/${real.id}`, 'contoso', update.revision],
      ]),
    );
    // One key's revisions arrive in order: the real alert, then its update.
    expect(seen.filter(([, source]) => source === 'contoso').map(([, , revision]) => revision)).toEqual([
      real.revision,
      update.revision,
    ]);
  });
});

describe('POST /ingest/{source} with a Redis that never answers', () => {
  it('answers 503 with Retry-After instead of hanging (a blackholed host accepts the connection, then stays silent)', async () => {
    const hole = await startBlackhole();
    const conns = [
      connect({ url: hole.url }),
      connect({ url: hole.url }, { blocking: true }),
      connect({ url: hole.url }, { blocking: true }),
    ] as const;
    const pipeline = new Pipeline({
      takeoverMs: 30_000,
      replicaId: mintReplicaId(),
      prefix: uniquePrefix('push-hole'),
      dedupTtlMs: 60_000,
      dispatchBatchMax: 100,
      redis: conns[0],
      queueRedis: conns[1],
      dispatchRedis: conns[2],
      sinks: [],
      metrics: new Metrics({ defaultMetrics: false }),
      logger: silentLogger,
    });
    const server = buildServer({
      maxBodyBytes: 4096,
      requestTimeoutMs: 10_000,
      metrics: tp.metrics,
      logger: silentLogger,
      readiness: async () => ({}),
    });
    registerPushRoute(server, {
      sources: [{ name: 'partner', token: TOKEN, hmac_replay_window_ms: 1 }],
      emit: (r) => pipeline.emit(r),
      logger: silentLogger,
    });
    try {
      const res = await server.inject({
        method: 'POST',
        url: '/ingest/partner',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        payload: alertV2(1),
      });
      expect(hole.connections()).toBeGreaterThan(0);
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json()).toEqual({ error: 'could not persist the records; retry later' });
    } finally {
      await server.close();
      for (const c of conns) c.disconnect();
      await hole.close();
    }
  }, 30_000);
});

describe('health, readiness, metrics', () => {
  it('serves /healthz, /readyz and Prometheus metrics, with no stack traces on errors', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await app.inject('/readyz')).json()).toEqual({ ready: true, checks: { ok: true } });
    await post('partner', alertV2(1));
    const metrics = await app.inject('/metrics');
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toContain(
      'alertbridge_records_ingested_total{source="partner",resource="alerts_v2",via="push"} 1',
    );
    expect(metrics.body).toMatch(/alertbridge_queue_depth\{queue="inbox"\} \d+/);
    const missing = await app.inject('/nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'no route GET /nope' });
  });
});
