/**
 * The splunk_hec sink through the real pipeline (Redis, BullMQ, retry, dead letters) against the HEC peer over real
 * HTTP: exactly-once without faults, at-least-once under busy indexers and lost acks, one invalid event dead-lettered
 * alone, and a refused token that holds records instead of dead-lettering them — probed once per pause, and reported
 * by the app's /readyz until a restart with the right token delivers everything.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SplunkHecSink } from '../../sinks/splunk-hec/index.js';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { Metrics } from '../../src/observability/metrics.js';
import { cleanup, metricValue, silentLogger, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { record, records, recordsInOneShard } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';
import { startHecPeer, type HecPeer, type HecPeerOptions } from '../peers/hec/server.js';
import { TOKEN, hecSink, ident, identOf } from '../peers/hec/sink.js';

const FAST_ACKS = { enabled: true, poll_interval_ms: 10, timeout_ms: 10_000 };

describe('splunk_hec through the pipeline', () => {
  const peers: HecPeer[] = [];
  let tp: TestPipeline | undefined;
  afterEach(async () => {
    await cleanup(tp);
    tp = undefined;
    for (const p of peers.splice(0)) await p.close();
  });
  const peer = async (opts: HecPeerOptions): Promise<HecPeer> => {
    const p = await startHecPeer(opts);
    peers.push(p);
    return p;
  };
  const emitAll = async (batch: ReturnType<typeof records>) => {
    for (let i = 0; i < batch.length; i += 1000) await tp!.pipeline.emit(batch.slice(i, i + 1000));
  };

  it('delivers 100,000 records, each indexed and acknowledged exactly once', async () => {
    const hec = await peer({ ackDelayMs: 20 });
    const sink = hecSink(hec, { ack: FAST_ACKS, max_events: 200 });
    tp = await startTestPipeline([{ sink, maxRecords: 500, concurrency: 4 }]);
    const batch = records(100_000);
    const t0 = Date.now();
    await emitAll(batch);
    await waitFor(() => hec.indexed.length >= 100_000, { what: '100,000 events indexed', timeoutMs: 300_000 });
    await waitFor(() => tp!.pipeline.idle(), { timeoutMs: 30_000 });
    const seconds = (Date.now() - t0) / 1000;
    console.log(
      `[splunk_hec] 100,000 records indexed and acknowledged in ${seconds.toFixed(1)} s (${Math.round(100_000 / seconds)} records/s), ${hec.requests.length} requests`,
    );
    const got = hec.indexed.map(identOf);
    expect(got).toHaveLength(100_000);
    expect(new Set(got)).toEqual(new Set(batch.map(ident)));
    expect(hec.indexed.every((e) => hec.acknowledged(e))).toBe(true);
    expect(await tp.pipeline.deadLetters.count('hec')).toBe(0);
  }, 360_000);

  it('under 20% "Server is busy" and 10% lost acks, indexes every record (duplicates allowed, counted)', async () => {
    const hec = await peer({ busyRate: 0.2, ackLossRate: 0.1, ackDelayMs: 5, seed: 42 });
    const sink = hecSink(hec, { ack: { enabled: true, poll_interval_ms: 10, timeout_ms: 300 }, max_events: 50 });
    tp = await startTestPipeline([{ sink, maxRecords: 100, concurrency: 4, maxAttempts: 1000 }]);
    const batch = records(2000);
    await emitAll(batch);
    const want = new Set(batch.map(ident));
    // Done when every record has a copy whose ack came (the sink resent the others) and nothing is left queued.
    const confirmed = () => new Set(hec.indexed.filter((e) => hec.acknowledged(e)).map(identOf));
    await waitFor(() => confirmed().size >= want.size, { what: 'every record acknowledged', timeoutMs: 120_000 });
    await waitFor(() => tp!.pipeline.idle(), { timeoutMs: 30_000 });
    expect(confirmed()).toEqual(want);
    expect(new Set(hec.indexed.map(identOf))).toEqual(want);
    const busy = hec.requests.filter((q) => q.code === 9).length;
    const lost = new Set(hec.indexed.filter((e) => e.ackLost).map((e) => e.ackId)).size;
    const duplicates = hec.indexed.length - want.size;
    console.log(
      `splunk_hec chaos: ${want.size} records, ${hec.indexed.length} indexed, ${duplicates} duplicates ` +
        `(${((100 * duplicates) / want.size).toFixed(1)}%), ${busy} busy answers, ${lost} lost acks, ${hec.requests.length} requests`,
    );
    expect(busy).toBeGreaterThan(0);
    expect(lost).toBeGreaterThan(0);
    // Every duplicate comes from a resend after a lost ack, never from a 503 (HEC indexed nothing then).
    expect(duplicates).toBeLessThanOrEqual(hec.indexed.filter((e) => e.ackLost).length);
    expect(await tp.pipeline.deadLetters.count('hec')).toBe(0);
  }, 180_000);

  it.each([
    ['acks off: the 321 before it count as indexed, the 178 after it are resent', false],
    ['acks on: the 321 before it had no ack and are resent too (duplicates, never loss)', true],
  ])("dead-letters the one invalid event of a batch of 500 with HEC's reason (%s)", async (_what, acks) => {
    // One inbox shard: the 500 records are one staged batch, so one request of 500 (keys.ts).
    const batch = recordsInOneShard(500);
    const bad = batch[321]!;
    const hec = await peer({
      ack: acks,
      ackDelayMs: 5,
      invalidEvent: (e) => (e.event as { id?: string }).id === bad.id,
    });
    const sink = hecSink(hec, { ack: acks ? FAST_ACKS : { enabled: false }, max_events: 500 });
    tp = await startTestPipeline([{ sink, maxRecords: 500 }]);
    await tp.pipeline.emit(batch);
    const want = new Set(batch.filter((r) => r.id !== bad.id).map(ident));
    // with acks on, a record counts once a copy of it was acknowledged
    const confirmed = () => new Set(hec.indexed.filter((e) => !acks || hec.acknowledged(e)).map(identOf));
    await waitFor(async () => (await tp!.pipeline.deadLetters.count('hec')) === 1 && confirmed().size >= 499, {
      what: '499 confirmed + 1 dead letter',
    });
    await waitFor(() => tp!.pipeline.idle());
    const [dl] = await tp.pipeline.deadLetters.list('hec');
    expect(dl!.record.id).toBe(bad.id);
    expect(dl!.error).toContain('Invalid data format (code 6, event 321 of the request)');
    expect(dl!.attempts).toBe(1);
    expect(await tp.pipeline.deadLetters.count('hec')).toBe(1);
    expect(confirmed()).toEqual(want);
    const got = hec.indexed.map(identOf);
    expect(new Set(got)).toEqual(want);
    // the only duplicates are the unacknowledged first copies of the 321 before the invalid event
    expect(got).toHaveLength(acks ? 499 + 321 : 499);
  });

  it('dead-letters only the event behind a bare 400 (a proxy in front of HEC) of a batch sent as several requests', async () => {
    const bad = record(137);
    const hec = await peer({ ackDelayMs: 5, proxyRefusal: (e) => (e.event as { id?: string }).id === bad.id });
    const sink = hecSink(hec, { ack: FAST_ACKS, max_events: 50 });
    tp = await startTestPipeline([{ sink, maxRecords: 500 }]);
    const batch = records(500);
    await tp.pipeline.emit(batch);
    await waitFor(async () => (await tp!.pipeline.deadLetters.count('hec')) === 1 && hec.indexed.length >= 499, {
      what: '499 indexed + 1 dead letter',
    });
    await waitFor(() => tp!.pipeline.idle());
    const dead = await tp.pipeline.deadLetters.list('hec');
    expect(dead.map((d) => d.record.id)).toEqual([bad.id]);
    expect(dead[0]!.error).toContain('request refused: 400');
    const got = hec.indexed.map(identOf);
    expect(got).toHaveLength(499); // each once: no request that went through was resent
    expect(new Set(got)).toEqual(new Set(batch.filter((r) => r.id !== bad.id).map(ident)));
  });

  it('holds records while the token is refused (paused, nothing dead-lettered), and delivers them once it is fixed', async () => {
    const hec = await peer({ tokens: ['another-token'], ackDelayMs: 5 });
    const sink: SplunkHecSink = hecSink(hec, { ack: FAST_ACKS, auth_pause_ms: 100 });
    // Two attempts only: a paused sink must not spend them (five refusals below would otherwise dead-letter).
    tp = await startTestPipeline([{ sink, maxRecords: 50, maxAttempts: 2 }]);
    const batch = records(120);
    await tp.pipeline.emit(batch);
    await waitFor(() => hec.requests.filter((q) => q.code === 4).length >= 5, { what: 'several refused attempts' });
    expect(sink.ready()).toBe(false);
    expect(hec.indexed).toHaveLength(0);
    expect(await tp.pipeline.deadLetters.count('hec')).toBe(0);
    expect((await tp.metrics.registry.getSingleMetric('alertbridge_sink_ready')!.get()).values).toContainEqual(
      expect.objectContaining({ labels: { sink: 'hec' }, value: 0 }),
    );

    hec.setFaults({ tokens: [TOKEN] }); // the operator fixes the token in Splunk
    await waitFor(() => hec.indexed.length >= 120, { what: 'held records delivered' });
    await waitFor(() => tp!.pipeline.idle());
    expect(sink.ready()).toBe(true);
    expect(new Set(hec.indexed.map(identOf))).toEqual(new Set(batch.map(ident)));
    expect(hec.indexed).toHaveLength(120);
    expect(await tp.pipeline.deadLetters.count('hec')).toBe(0);
  });

  it('asks a refusing HEC once per auth_pause_ms, not once per queued batch', async () => {
    const hec = await peer({ tokens: ['another-token'] });
    // An hour's pause: once the first refusal is known, no batch may ask again during this test.
    const sink = hecSink(hec, { ack: FAST_ACKS, auth_pause_ms: 3_600_000 });
    tp = await startTestPipeline([{ sink, maxRecords: 10, concurrency: 4 }]);
    await tp.pipeline.emit(records(120)); // 12 batches
    await waitFor(
      async () =>
        (await metricValue(tp!.metrics, 'alertbridge_delivery_errors_total', { sink: 'hec', kind: 'retryable' })) >= 12,
      { what: 'every batch attempted' },
    );
    expect(sink.ready()).toBe(false);
    // at most the deliveries already in flight when the first refusal came back (concurrency 4) asked HEC
    expect(hec.requests.filter((q) => q.path === '/services/collector/event').length).toBeLessThanOrEqual(4);
    expect(await tp.pipeline.deadLetters.count('hec')).toBe(0);
  });

  describe('through the app (buildApp)', () => {
    const apps: App[] = [];
    afterEach(async () => {
      for (const a of apps.splice(0)) await a.stop();
    });
    const startApp = async (hec: HecPeer, token: string, prefix: string): Promise<App> => {
      const res = parseConfig(
        `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
sinks:
  - name: hec
    type: splunk_hec
    url: ${hec.url}
    token: ${token}
    auth_pause_ms: 100
    batch: { max_records: 50 }
    retry: { max_attempts: 2, initial_backoff_ms: 20, max_backoff_ms: 200 }
    ack: { enabled: true, poll_interval_ms: 10, timeout_ms: 10000 }
`,
        { baseDir: '/', env: {} },
      );
      if (!res.ok) throw new Error(res.errors.join('\n'));
      const app = buildApp(res.config, { logger: silentLogger, metrics: new Metrics({ defaultMetrics: false }) });
      apps.push(app);
      await app.start({ listen: false });
      return app;
    };
    const readyz = async (app: App) => {
      const res = await app.server.inject('/readyz');
      return { status: res.statusCode, body: res.json() as { ready: boolean; checks: Record<string, boolean> } };
    };
    const sinkReadyMetric = async (app: App) =>
      /^alertbridge_sink_ready\{sink="hec"\} (\d+)$/m.exec((await app.server.inject('/metrics')).body)?.[1];

    it('a wrong token: paused sink, /readyz 503, nothing lost; restarted with the right token, everything is delivered and /readyz is 200', async () => {
      const hec = await peer({ ackDelayMs: 5 });
      const prefix = uniquePrefix('hec-app');
      try {
        const wrong = await startApp(hec, 'wrong-token', prefix);
        const batch = records(120);
        await wrong.pipeline.emit(batch);
        // a few pause periods: two attempts per record would dead-letter them if a paused sink spent attempts
        await waitFor(() => hec.requests.filter((q) => q.code === 4).length >= 3, { what: 'refused probes' });
        expect(await readyz(wrong)).toEqual({
          status: 503,
          body: {
            ready: false,
            checks: { started: true, redis: true, 'sink:hec': false, dispatcher: true },
            reasons: { 'sink:hec': '403 Invalid token (code 4)' },
          },
        });
        expect(await sinkReadyMetric(wrong)).toBe('0');
        expect(hec.indexed).toHaveLength(0);
        expect(await wrong.pipeline.deadLetters.count('hec')).toBe(0);
        await wrong.stop();
        apps.splice(0);

        const fixed = await startApp(hec, TOKEN, prefix); // the same Redis and prefix, as after a restart
        await waitFor(() => new Set(hec.indexed.filter((e) => hec.acknowledged(e)).map(identOf)).size >= 120, {
          what: 'held records delivered',
        });
        await waitFor(() => fixed.pipeline.idle());
        expect(await readyz(fixed)).toEqual({
          status: 200,
          body: { ready: true, checks: { started: true, redis: true, 'sink:hec': true, dispatcher: true } },
        });
        expect(await sinkReadyMetric(fixed)).toBe('1');
        expect(hec.indexed.map(identOf).sort()).toEqual(batch.map(ident).sort());
        expect(await fixed.pipeline.deadLetters.count('hec')).toBe(0);
      } finally {
        await deletePrefix(prefix);
      }
    });
  });
});
