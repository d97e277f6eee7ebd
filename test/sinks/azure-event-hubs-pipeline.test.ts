/**
 * The `azure_event_hubs` sink in the real pipeline (Redis, BullMQ, retries, dead letters) against the AMQP peer:
 * 100,000 records exactly once, server-busy refusals without loss, an oversize record dead-lettered alone, and
 * the Basic tier's 256 KB batch limit held.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../sinks/types.js';
import { buildApp } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { cleanup, metricValue, silentLogger, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { redisUrl, uniquePrefix } from '../helpers/redis.js';
import { emitPerKeyOrder, perKeyOrderProblems, revision } from '../helpers/per-key-order.js';
import { records } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/server.js';
import { eventHubsSink, ident, identOf } from '../peers/eventhubs/sink.js';

const padded = (r: AlertRecord, bytes: number): AlertRecord => ({ ...r, data: { ...r.data, blob: 'x'.repeat(bytes) } });
const delivered = (tp: TestPipeline) =>
  metricValue(tp.metrics, 'alertbridge_records_delivered_total', { sink: 'eventhubs' });

describe('azure_event_hubs through the pipeline', () => {
  let peer: EventHubsPeer | undefined;
  let tp: TestPipeline | undefined;
  afterEach(async () => {
    await cleanup(tp);
    tp = undefined;
    await peer?.close();
    peer = undefined;
  });

  it('holds the records while the event hub does not exist (no attempt spent, nothing dead-lettered) and delivers them once it does', async () => {
    peer = await startEventHubsPeer();
    const sink = eventHubsSink(peer, { connection_string: peer.connectionString('soon'), auth_pause_ms: 200 });
    tp = await startTestPipeline([{ sink, maxRecords: 10, maxAttempts: 2 }]);
    await tp.pipeline.emit(records(25));
    const errors = () =>
      metricValue(tp!.metrics, 'alertbridge_delivery_errors_total', { sink: 'eventhubs', kind: 'retryable' });
    // Several rounds of probes, far more than max_attempts: none of them may count against the records.
    await waitFor(async () => (await errors()) >= 6 * 10, { timeoutMs: 60_000, what: 'several paused rounds' });
    expect(await tp.pipeline.deadLetters.count('eventhubs')).toBe(0);
    expect(await metricValue(tp.metrics, 'alertbridge_sink_ready', { sink: 'eventhubs' })).toBe(0);
    peer.createHub('soon');
    await waitFor(async () => (await delivered(tp!)) >= 25, {
      timeoutMs: 60_000,
      what: 'delivery once the hub exists',
    });
    expect(await tp.pipeline.deadLetters.count('eventhubs')).toBe(0);
    expect(new Set(peer.received.map(identOf)).size).toBe(25);
  });

  it('/readyz names the missing hub', async () => {
    peer = await startEventHubsPeer();
    const res = parseConfig(
      `redis: { url: "${redisUrl()}", key_prefix: "${uniquePrefix('eh-ready')}" }\nsinks: [{ name: eventhubs, type: file, path: /dev/null }]\n`,
      { baseDir: '/', env: {} },
    );
    if (!res.ok) throw new Error(res.errors.join('\n'));
    const sink = eventHubsSink(peer, { connection_string: peer.connectionString('nope') });
    const app = buildApp(res.config, { logger: silentLogger, sinkOverrides: { eventhubs: sink } });
    try {
      await app.start({ listen: false });
      await waitFor(() => !sink.ready(), { what: 'the sink to pause at start' });
      const readyz = await app.server.inject('/readyz');
      expect(readyz.statusCode).toBe(503);
      expect(readyz.json().reasons).toMatchObject({ 'sink:eventhubs': 'event hub nope does not exist' });
    } finally {
      await app.stop();
    }
  });

  it('delivers 100,000 records (25,000 alerts × 4 revisions) exactly once, each alert on one partition, in order', async () => {
    peer = await startEventHubsPeer({ hubs: { alerts: 8 } });
    tp = await startTestPipeline([{ sink: eventHubsSink(peer), maxRecords: 500 }]);
    const t0 = Date.now();
    const all = await emitPerKeyOrder(tp.pipeline, { alerts: 25_000 });
    await waitFor(async () => (await delivered(tp!)) >= 100_000, {
      timeoutMs: 300_000,
      intervalMs: 100,
      what: '100,000 deliveries',
    });
    const seconds = (Date.now() - t0) / 1000;
    await waitFor(() => tp!.pipeline.idle());
    console.log(
      `[azure_event_hubs] 100,000 records through the pipeline in ${seconds.toFixed(1)} s (${Math.round(100_000 / seconds)} records/s), ` +
        `${peer.batches.length} batches`,
    );

    expect(peer.received).toHaveLength(100_000);
    expect(new Set(peer.received.map(identOf))).toEqual(new Set(all.map(ident)));
    expect(await tp.pipeline.deadLetters.count('eventhubs')).toBe(0);
    const arrivals = peer.received.map((e) => ({
      key: e.partitionKey!,
      revision: String(e.properties['alertbridge-revision']),
      partition: e.partition,
    }));
    expect(perKeyOrderProblems(all, arrivals)).toEqual([]);
    const headers = [
      'alertbridge-key',
      'alertbridge-provider',
      'alertbridge-resource',
      'alertbridge-revision',
      'alertbridge-tenant',
    ];
    const wrong = peer.received.filter(
      (e) =>
        e.properties['alertbridge-key'] !== e.partitionKey ||
        JSON.stringify(Object.keys(e.properties).sort()) !== JSON.stringify(headers),
    );
    expect(wrong, 'events whose key or properties do not match').toEqual([]);
    expect(new Set(peer.received.map((e) => e.partition)).size).toBe(8);
  }, 360_000);

  it('loses nothing when 20% of deliveries are refused as server busy', async () => {
    peer = await startEventHubsPeer({ serverBusyRate: 0.2, seed: 7 });
    tp = await startTestPipeline([{ sink: eventHubsSink(peer), maxRecords: 200, maxAttempts: 100 }]);
    const batch = records(5000);
    for (let i = 0; i < batch.length; i += 1000) await tp.pipeline.emit(batch.slice(i, i + 1000));
    await waitFor(async () => (await delivered(tp!)) >= 5000, {
      timeoutMs: 90_000,
      intervalMs: 100,
      what: '5,000 deliveries',
    });
    await waitFor(() => tp!.pipeline.idle());
    const unique = new Set(peer.received.map(identOf));
    const retried = await metricValue(tp.metrics, 'alertbridge_delivery_errors_total', {
      sink: 'eventhubs',
      kind: 'retryable',
    });
    console.log(
      `[azure_event_hubs] 20% server busy: ${peer.stats.busy} deliveries refused, ${retried} records retried, ` +
        `${peer.received.length} events stored, ${unique.size} distinct, ${peer.received.length - unique.size} duplicate(s)`,
    );
    expect(unique).toEqual(new Set(batch.map(ident)));
    expect(peer.stats.busy).toBeGreaterThan(0);
    expect(await tp.pipeline.deadLetters.count('eventhubs')).toBe(0);
  }, 120_000);

  it('dead-letters only an oversize record, with the reason, and delivers the rest', async () => {
    peer = await startEventHubsPeer();
    tp = await startTestPipeline([{ sink: eventHubsSink(peer), maxRecords: 50 }]);
    const batch = records(50);
    const big = padded(batch[20]!, 1_100_000);
    batch[20] = big;
    await tp.pipeline.emit(batch);
    await waitFor(async () => (await tp!.pipeline.deadLetters.count('eventhubs')) === 1, { what: 'the dead letter' });
    await waitFor(() => tp!.pipeline.idle());
    const [dl] = await tp.pipeline.deadLetters.list('eventhubs');
    expect(dl!.record.key).toBe(big.key);
    expect(dl!.error).toMatch(
      new RegExp(
        `^record ${big.key} \\(revision ${big.revision}\\) does not fit an empty Event Hubs batch of 1048576 bytes`,
      ),
    );
    expect(peer.received.map(identOf).sort()).toEqual(
      batch
        .filter((r) => r !== big)
        .map(ident)
        .sort(),
    );
  });

  it('holds records while the key is refused (paused, nothing dead-lettered); a sink with the right key on the same prefix delivers them', async () => {
    peer = await startEventHubsPeer();
    const wrong = eventHubsSink(peer, {
      connection_string: peer.connectionString(undefined, { key: 'd3Jvbmc=' }),
      auth_pause_ms: 100,
    });
    // Two attempts only: a paused sink must not spend them (the refusals below would otherwise dead-letter).
    tp = await startTestPipeline([{ sink: wrong, maxRecords: 50, maxAttempts: 2 }]);
    const prefix = tp.prefix;
    const batch = records(200);
    await tp.pipeline.emit(batch);
    await waitFor(() => peer!.stats.tokensRefused >= 6, { what: 'several refused attempts' });
    expect(wrong.ready()).toBe(false);
    expect(await metricValue(tp.metrics, 'alertbridge_sink_ready', { sink: 'eventhubs' })).toBe(0);
    expect(await tp.pipeline.deadLetters.count('eventhubs')).toBe(0);
    expect(peer.received).toHaveLength(0);

    await tp.close(); // keep the prefix: the queue survives, as across a restart with a fixed config
    const right = eventHubsSink(peer);
    tp = await startTestPipeline([{ sink: right, maxRecords: 50 }], { prefix });
    await waitFor(async () => (await delivered(tp!)) >= 200, { what: '200 held records delivered' });
    await waitFor(() => tp!.pipeline.idle());
    expect(new Set(peer.received.map(identOf))).toEqual(new Set(batch.map(ident)));
    expect(peer.received).toHaveLength(200);
    expect(await tp.pipeline.deadLetters.count('eventhubs')).toBe(0);
    expect(right.ready()).toBe(true);
  });

  it('never sends a batch above max_batch_bytes 262144 (Basic tier)', async () => {
    peer = await startEventHubsPeer();
    tp = await startTestPipeline([{ sink: eventHubsSink(peer, { max_batch_bytes: 262_144 }), maxRecords: 100 }]);
    // 9 revisions of 20 alerts, ~30 KB each: up to 270 KB per alert in one delivery.
    const all = Array.from({ length: 9 }, (_, rev) =>
      Array.from({ length: 20 }, (_, i) => padded(revision(i, rev + 1), 30_000)),
    ).flat();
    for (let rev = 0; rev < 9; rev++) await tp.pipeline.emit(all.slice(rev * 20, rev * 20 + 20));
    await waitFor(async () => (await delivered(tp!)) >= all.length, { what: `${all.length} deliveries` });
    await waitFor(() => tp!.pipeline.idle());
    expect(new Set(peer.received.map(identOf))).toEqual(new Set(all.map(ident)));
    expect(Math.max(...peer.batches.map((b) => b.bytes))).toBeLessThanOrEqual(262_144);
    expect(await tp.pipeline.deadLetters.count('eventhubs')).toBe(0);
  });
});
