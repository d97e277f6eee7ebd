/**
 * The `defender_streaming` source through the whole app: Streaming API events in the Event Hubs peer name alerts
 * the simulator holds; the app reads them with the real EventHubConsumerClient, queues one Graph read per alert on
 * the notification stream, and the fetch worker delivers them with `via: streaming`. The poll interval is an hour, so
 * nothing but the stream can bring the alerts created after the first poll.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Redis } from 'ioredis';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { keysFor } from '../../src/pipeline/keys.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { RedisCheckpointStore } from '../../src/sources/streaming/checkpoint-store.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/server.js';
import { graphSourceYaml } from '../helpers/e2e.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'dddddddd-0000-4000-8000-000000000004',
  clientId: 'app-d',
  clientSecret: 'secret-d',
};
const HUB = 'defender-stream';
let sim: Simulator;
let peer: EventHubsPeer;

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 4 });
  peer = await startEventHubsPeer({ hubs: { [HUB]: 2 } });
});
afterAll(async () => {
  await peer.close();
  await sim.close();
});

let running: Array<{ app: App; prefix: string }> = [];
afterEach(async () => {
  for (const r of running) {
    await r.app.stop();
    await deletePrefix(r.prefix);
  }
  running = [];
});

async function start(opts: { prefix?: string; hub?: string; waitPoll?: boolean; budget?: number } = {}) {
  const prefix = opts.prefix ?? uniquePrefix('streaming');
  const res = parseConfig(
    `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { enabled: false }
pipeline: { takeover_ms: 2000 }
sources:
${graphSourceYaml(sim, T, { name: 'contoso', resources: ['alerts_v2'], extra: `    poll_interval_ms: 3600000\n${opts.budget ? `    request_budget_per_minute: ${opts.budget}\n` : ''}` })}  - name: stream
    type: defender_streaming
    connection_string: "${peer.connectionString(opts.hub ?? HUB)}"
    start_position: earliest
sinks:
  - { name: out, type: file, path: /dev/null }
`,
    { baseDir: '/', env: {} },
  );
  if (!res.ok) throw new Error(res.errors.join('\n'));
  const sink = new RecordingSink('out');
  const logged = sim.requestLog.length;
  const app = buildApp(res.config, {
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    sinkOverrides: { out: sink },
  });
  await app.start();
  running.push({ app, prefix });
  // The first poll (one day back) has run once the poll's request is in the log.
  if (opts.waitPoll !== false)
    await waitFor(() => sim.requestLog.slice(logged).some((r) => r.path.endsWith('/security/alerts_v2')), {
      what: 'the first poll',
    });
  return { app, sink, prefix };
}

const record = (table: string, alertId: string, tenantId = T.tenantId, extra: Record<string, unknown> = {}) => ({
  time: new Date().toISOString(),
  tenantId,
  operationName: 'Publish',
  category: `AdvancedHunting-${table}`,
  properties: {
    Timestamp: new Date().toISOString(),
    AlertId: alertId,
    Title: 'Suspicious PowerShell command line',
    Category: 'Execution',
    Severity: 'Medium',
    ServiceSource: 'Microsoft Defender for Endpoint',
    DetectionSource: 'EDR',
    AttackTechniques: '["PowerShell (T1059.001)"]',
    ...extra,
  },
});
const event = (records: unknown[]) => ({ body: JSON.stringify({ records }) });
const fetchesOf = (ids: Set<string>) =>
  sim.requestLog.filter(
    (r) => r.method === 'GET' && ids.has(decodeURIComponent(r.path.split('/security/alerts_v2/')[1] ?? '')),
  ).length;

describe('defender_streaming source', () => {
  it('200 events for 20 alerts: 20 records via streaming, at most 20 Graph reads; bad events are skipped', async () => {
    // A budget where reads by id serve 20 new alerts within the burst window (50 in 5 s): no poll, only coalescing.
    const { app, sink, prefix } = await start({ budget: 600 });
    const alerts = Array.from({ length: 20 }, () => sim.create(T.tenantId, 'alerts_v2'));
    const ids = new Set(alerts.map((a) => String(a.id)));
    // Ten events per alert (one AlertInfo, nine AlertEvidence), spread over both partitions and interleaved, with
    // a garbage event, a 5 MB event and an event of a tenant no source names among them.
    for (let round = 0; round < 10; round++) {
      for (const [i, a] of alerts.entries()) {
        const table = round === 0 ? 'AlertInfo' : 'AlertEvidence';
        peer.enqueue(HUB, String(i % 2), [
          event([record(table, String(a.id), T.tenantId, { EntityType: `e${round}` })]),
        ]);
      }
      if (round === 3) {
        peer.enqueue(HUB, '0', [
          { body: Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
          { body: Buffer.alloc(5 * 1024 * 1024, 0x7b) },
          event([record('AlertInfo', 'da999', 'eeeeeeee-0000-4000-8000-00000000000e')]),
        ]);
      }
    }
    await waitFor(() => sink.received.filter((r) => r.via === 'streaming').length >= 20, {
      timeoutMs: 60_000,
      what: '20 streamed records',
    });
    const streamed = sink.received.filter((r) => r.via === 'streaming');
    expect(new Set(streamed.map((r) => r.id))).toEqual(ids);
    expect(streamed.every((r) => r.resource === 'alerts_v2' && r.tenant_id === T.tenantId)).toBe(true);
    expect(fetchesOf(ids)).toBeLessThanOrEqual(20);
    expect(fetchesOf(ids)).toBeGreaterThanOrEqual(20);

    // The skipped events are counted with their reason, and the partitions moved past them.
    const metrics = await app.metrics.registry.getSingleMetricAsString('alertbridge_streaming_skipped_total');
    expect(metrics).toMatch(/reason="malformed_body"[^\n]* 1/);
    expect(metrics).toMatch(/reason="oversized"[^\n]* 1/);
    expect(metrics).toMatch(/reason="unknown_tenant"[^\n]* 1/);
    const redis = new Redis(redisUrl());
    try {
      const store = new RedisCheckpointStore(redis, keysFor(prefix));
      const ns = '127.0.0.1';
      await waitFor(
        async () => {
          const cps = await store.listCheckpoints(ns, HUB, '$Default');
          const last = (p: string) =>
            peer.received.filter((e) => e.hub === HUB && e.partition === p).at(-1)!.sequenceNumber;
          return cps.length === 2 && cps.every((c) => c.sequenceNumber === last(c.partitionId));
        },
        { what: 'checkpoints at the end of both partitions' },
      );
    } finally {
      redis.disconnect();
    }
  });

  it('an alert seen by polling and by the stream is delivered once', async () => {
    const a = sim.create(T.tenantId, 'alerts_v2');
    // Polled at start (one day back), then named by the stream. A hub of its own: the earlier tests' alerts, read
    // again from the start of a shared hub, would make a burst (a poll) of these two.
    const hub = 'stream-once';
    peer.createHub(hub, 2);
    const { sink } = await start({ hub });
    await waitFor(() => sink.received.some((r) => r.id === a.id), { what: 'the polled alert' });
    peer.enqueue(hub, '1', [event([record('AlertInfo', String(a.id))])]);
    const b = sim.create(T.tenantId, 'alerts_v2');
    peer.enqueue(hub, '1', [event([record('AlertInfo', String(b.id))])]);
    await waitFor(() => sink.received.some((r) => r.id === b.id), { timeoutMs: 60_000, what: 'the streamed alert' });
    await waitFor(() => fetchesOf(new Set([String(a.id)])) >= 1, { what: 'the read of the polled alert' });
    expect(sink.received.filter((r) => r.id === a.id)).toHaveLength(1);
  });

  it('two replicas split the partitions, and every streamed alert is delivered once', async () => {
    const hub = 'stream-two';
    peer.createHub(hub, 4);
    const a = await start({ hub });
    const b = await start({ hub, prefix: a.prefix, waitPoll: false });
    // Each partition is owned by one replica, and both own some.
    const redis = new Redis(redisUrl());
    try {
      const store = new RedisCheckpointStore(redis, keysFor(a.prefix));
      await waitFor(
        async () => {
          const owners = (await store.listOwnership('127.0.0.1', hub, '$Default')).filter((o) => o.ownerId);
          return owners.length === 4 && new Set(owners.map((o) => o.ownerId)).size === 2;
        },
        { timeoutMs: 60_000, what: 'the partitions split between the replicas' },
      );
    } finally {
      redis.disconnect();
    }
    const alerts = Array.from({ length: 12 }, () => sim.create(T.tenantId, 'alerts_v2'));
    alerts.forEach((al, i) =>
      peer.enqueue(hub, String(i % 4), [
        event([record('AlertInfo', String(al.id)), record('AlertEvidence', String(al.id))]),
      ]),
    );
    const ids = new Set(alerts.map((al) => String(al.id)));
    const delivered = () => [...a.sink.received, ...b.sink.received].filter((r) => ids.has(r.id));
    await waitFor(() => new Set(delivered().map((r) => r.id)).size === 12, {
      timeoutMs: 60_000,
      what: 'the 12 alerts',
    });
    expect(delivered()).toHaveLength(12);
    expect(delivered().every((r) => r.via === 'streaming')).toBe(true);
    // Both replicas' fetch workers took part or not; either way one read per alert.
    expect(fetchesOf(ids)).toBe(12);
  });

  it('a burst of 100 new alerts asks the tenant for one poll instead of 100 reads', async () => {
    const { app, sink } = await start();
    const lists = () =>
      sim.requestLog.filter((r) => r.method === 'GET' && r.path.endsWith('/security/alerts_v2')).length;
    const listsBefore = lists();
    const alerts = Array.from({ length: 100 }, () => sim.create(T.tenantId, 'alerts_v2'));
    const ids = new Set(alerts.map((a) => String(a.id)));
    // One event with 100 AlertInfo records, then evidence for each: more than 150 requests a minute serve in 5 s.
    peer.enqueue(HUB, '0', [event(alerts.map((a) => record('AlertInfo', String(a.id))))]);
    peer.enqueue(HUB, '1', [event(alerts.map((a) => record('AlertEvidence', String(a.id))))]);
    await waitFor(() => new Set(sink.received.filter((r) => ids.has(r.id)).map((r) => r.id)).size === 100, {
      timeoutMs: 60_000,
      what: 'the 100 alerts',
    });
    expect(fetchesOf(ids)).toBe(0);
    expect(lists() - listsBefore).toBeGreaterThanOrEqual(1);
    expect(lists() - listsBefore).toBeLessThanOrEqual(3);
    expect(sink.received.filter((r) => ids.has(r.id))).toHaveLength(100);
    const metric = await app.metrics.registry.getSingleMetricAsString('alertbridge_streaming_triggers_total');
    // The hub still holds the earlier tests' events, which this fresh deployment reads from the start too.
    const polled = Number(/outcome="polled"[^\n]* (\d+)/.exec(metric)?.[1]);
    expect(polled).toBeGreaterThanOrEqual(100);
  });
  it('a burst spread over four partitions is one burst: one poll, not a read per alert', async () => {
    const hub = 'stream-spread';
    peer.createHub(hub, 4);
    const { app, sink } = await start({ hub });
    // Every partition is read before the burst comes, so its four parts arrive together.
    await waitFor(() => peer.receivers().filter((r) => r.hub === hub).length === 4, {
      timeoutMs: 60_000,
      what: 'the four partitions read',
    });
    const lists = () =>
      sim.requestLog.filter((r) => r.method === 'GET' && r.path.endsWith('/security/alerts_v2')).length;
    const listsBefore = lists();
    // 48 new alerts, 12 per partition: each partition's share is within what reads by id serve in 5 s (12.5 at
    // 150 requests a minute), the whole is four times that.
    const alerts = Array.from({ length: 48 }, () => sim.create(T.tenantId, 'alerts_v2'));
    const ids = new Set(alerts.map((a) => String(a.id)));
    for (let p = 0; p < 4; p++) {
      const mine = alerts.filter((_, i) => i % 4 === p);
      peer.enqueue(hub, String(p), [
        event(mine.map((a) => record('AlertInfo', String(a.id)))),
        event(mine.map((a) => record('AlertEvidence', String(a.id)))),
      ]);
    }
    await waitFor(() => new Set(sink.received.filter((r) => ids.has(r.id)).map((r) => r.id)).size === 48, {
      timeoutMs: 60_000,
      what: 'the 48 alerts',
    });
    expect(sink.received.filter((r) => ids.has(r.id))).toHaveLength(48);
    // Reads by id only until the window over all partitions held more than 12.5 alerts; the rest came by a poll.
    expect(fetchesOf(ids)).toBeLessThanOrEqual(12);
    expect(lists() - listsBefore).toBeGreaterThanOrEqual(1);
    expect(lists() - listsBefore).toBeLessThanOrEqual(3);
    const metric = await app.metrics.registry.getSingleMetricAsString('alertbridge_streaming_triggers_total');
    expect(Number(/outcome="polled"[^\n]* (\d+)/.exec(metric)?.[1])).toBeGreaterThanOrEqual(36);
  });
});
