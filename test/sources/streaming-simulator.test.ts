/**
 * The simulator publishes the Streaming API's AlertInfo/AlertEvidence events of the alerts it creates into the Event
 * Hubs peer, and an app with a 60 s poll interval gets them through the streaming path (the test asserts arrival,
 * not timing: `npm run bench` is where the latency lives). At Graph's own budget (150 requests a minute, which the
 * simulator enforces too): a burst of 500 alerts, whose events arrive one alert at a time over many small batches,
 * must make the source ask for a poll instead of spending 200 s of budget on reads by id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { startSimulator } from '../../src/simulator/server.js';
import { streamingRecords } from '../../src/simulator/streaming.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { parseStreamEvent } from '../../src/sources/streaming/message.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/server.js';
import { graphSourceYaml } from '../helpers/e2e.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { maxInWindow } from '../helpers/window.js';

const T: TenantCredentials = {
  tenantId: 'abababab-0000-4000-8000-00000000000a',
  clientId: 'app-ab',
  clientSecret: 'secret-ab',
};
const HUB = 'defender-stream';
const BUDGET = 150;
const prefix = uniquePrefix('streaming-sim');
let sim: Simulator;
let peer: EventHubsPeer;
let app: App;
const sink = new RecordingSink('out');

beforeAll(async () => {
  peer = await startEventHubsPeer({ hubs: { [HUB]: 2 } });
  sim = await startSimulator({ tenants: [T], seed: 21, streaming: { connectionString: peer.connectionString(HUB) } });
  // Graph's own enforcement of the budget: a request over it would be answered 429 (fault `budget`).
  sim.setFaults({ requestBudgetPerMinute: BUDGET });
  const res = parseConfig(
    `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { enabled: false }
pipeline: { takeover_ms: 2000 }
sources:
${graphSourceYaml(sim, T, { name: 'contoso', resources: ['alerts_v2'], extra: `    poll_interval_ms: 60000\n    page_size: 1000\n    request_budget_per_minute: ${BUDGET}\n` })}  - name: stream
    type: defender_streaming
    connection_string: "${peer.connectionString(HUB)}"
    start_position: earliest
sinks:
  - { name: out, type: file, path: /dev/null }
`,
    { baseDir: '/', env: {} },
  );
  if (!res.ok) throw new Error(res.errors.join('\n'));
  app = buildApp(res.config, { logger: pino({ level: 'silent' }), sinkOverrides: { out: sink } });
  await app.start();
  await waitFor(() => sim.requestLog.some((r) => r.path.endsWith('/security/alerts_v2')), { what: 'the first poll' });
});
afterAll(async () => {
  await app.stop();
  await sim.close();
  await peer.close();
  await deletePrefix(prefix);
});

describe('simulator → Event Hub → defender_streaming', () => {
  it("writes Microsoft's record shape for an alert and its evidence", () => {
    const alert = sim.create(T.tenantId, 'alerts_v2');
    const records = streamingRecords(T.tenantId, alert) as Array<{
      category: string;
      properties: Record<string, unknown>;
    }>;
    const evidence = (alert.evidence as unknown[]).length;
    expect(records.map((r) => r.category)).toEqual([
      'AdvancedHunting-AlertInfo',
      ...Array.from({ length: evidence }, () => 'AdvancedHunting-AlertEvidence'),
    ]);
    expect(records[0]!.properties).toMatchObject({ AlertId: alert.id, Title: alert.title });
    expect(['Informational', 'Low', 'Medium', 'High', 'Unknown']).toContain(records[0]!.properties.Severity);
    const parsed = parseStreamEvent(JSON.stringify({ records }), { tenants: new Set([T.tenantId]), tables: new Set() });
    expect(parsed.skipped).toEqual([]);
    expect(new Set(parsed.triggers.map((t) => t.alertId))).toEqual(new Set([alert.id]));
  });

  it('alerts created after the first poll arrive via streaming, one Graph read each', async () => {
    const alerts = Array.from({ length: 10 }, () => sim.create(T.tenantId, 'alerts_v2'));
    const ids = new Set(alerts.map((a) => String(a.id)));
    await waitFor(() => ids.size === new Set(sink.received.filter((r) => ids.has(r.id)).map((r) => r.id)).size, {
      timeoutMs: 30_000,
      what: 'the 10 alerts',
    });
    const got = sink.received.filter((r) => ids.has(r.id));
    expect(got.every((r) => r.via === 'streaming')).toBe(true);
    expect(peer.received.filter((e) => e.hub === HUB).length).toBeGreaterThanOrEqual(20);
    const reads = sim.requestLog.filter(
      (r) => r.method === 'GET' && ids.has(decodeURIComponent(r.path.split('/security/alerts_v2/')[1] ?? '')),
    );
    expect(reads).toHaveLength(10);
  });

  it('a burst of 500: all delivered once, far fewer reads than alerts, the budget never exceeded', async () => {
    const logged = sim.requestLog.length;
    const ids = new Set(sim.createMany(T.tenantId, 'alerts_v2', 500).map((a) => String(a.id)));
    const got = () => new Set(sink.received.filter((r) => ids.has(r.id)).map((r) => r.id));
    // Generous: reads by id alone would need 200 s of budget (the 60 s poll would bring the rest first).
    await waitFor(() => got().size === 500, { timeoutMs: 150_000, intervalMs: 200, what: 'the 500 alerts' });
    expect(sink.received.filter((r) => ids.has(r.id))).toHaveLength(500);

    const burst = sim.requestLog.slice(logged).filter((r) => r.method === 'GET');
    const readsById = burst.filter((r) => ids.has(decodeURIComponent(r.path.split('/security/alerts_v2/')[1] ?? '')));
    // Most came with a poll the burst asked for (1 request), a few by reads before the burst was seen.
    expect(burst.filter((r) => r.path.endsWith('/security/alerts_v2')).length).toBeGreaterThanOrEqual(1);
    expect(readsById.length).toBeLessThan(100);
    expect(sink.received.filter((r) => ids.has(r.id) && r.via === 'poll').length).toBeGreaterThan(400);

    const graph = sim.requestLog.filter((r) => r.path.includes('/security/'));
    expect(
      maxInWindow(
        graph.map((r) => Date.parse(r.at)),
        60_000,
      ),
    ).toBeLessThanOrEqual(BUDGET);
    expect(graph.filter((r) => r.fault === 'budget')).toEqual([]);
  }, 240_000);
});
