/**
 * Latency at an offered load: alerts are created in the Graph simulator at a fixed rate, the daemon (`alertbridge
 * run`, a child process) picks them up, and the bench sees each record appear in the daemon's file sink.
 *
 * - notification: the simulator's subscription delivery POSTs change notifications to the daemon's webhook, which
 *   persists them; its notification worker fetches each alert and emits it. Measured from the moment the bench
 *   created the alert in the simulator to the moment the record is in the sink file (so the simulator's own
 *   batching of notifications, 200 ms like Graph's, is included). Polling is off (one poll at start).
 * - poll: the poller reads alerts_v2 every second (`--latency-poll-ms`). Measured from the record's `ingested_at`
 *   (the daemon normalized the page it came in) to the sink write — and from creation (which adds the wait for the
 *   next poll). Also reports the Graph requests spent per alert, as streaming does.
 *
 * - streaming: the simulator publishes each new alert's Defender Streaming API events (AlertInfo, AlertEvidence) to
 *   the Event Hubs peer (in the bench process); the daemon's `defender_streaming` source queues one Graph read per
 *   alert and the notification worker emits it. alerts_v2 are polled every 60 s besides (the safety net), so what
 *   arrives sooner shows which path brought it. Also reports the Graph requests spent per alert. Runs at rates the
 *   request budget can serve with one read per alert (≤ 100/s here, at request_budget_per_minute 10000; Graph's
 *   own is 150 a minute, where a burst switches to a poll: see `burst` below).
 *
 * Rates are offered loads; what was achieved (created, and delivered) is reported beside them.
 *
 * `burst`: the streaming path at Graph's own budget (150 requests a minute, poll every 60 s): 500 alerts created at
 * once, the time until all 500 are in the sink (one read by id each would take 500 / 150 minutes = 200 s), which path
 * brought them, and the most Graph requests the simulator saw in any 60 s window (the budget must hold).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalize } from '../src/record/normalize.js';
import type { Resource } from '../src/record/types.js';
import { startSimulator } from '../src/simulator/server.js';
import { startEventHubsPeer, type EventHubsPeer } from '../test/peers/eventhubs/server.js';
import type { Simulator, TenantCredentials } from '../src/simulator/types.js';
import { startDaemon, type Runtime } from './lib/daemon.js';
import { CpuMeter } from './lib/proc.js';
import type { BenchRedis } from './lib/redis.js';
import { percentile, sleep, until } from './lib/stats.js';
import { NdjsonTail } from './lib/tail.js';
import { maxInWindow } from '../test/helpers/window.js';

const TENANT: TenantCredentials = {
  tenantId: '5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f',
  clientId: 'bench-app',
  clientSecret: 'bench-secret',
};
const CLIENT_STATE = 'bench-client-state-4f9a';
/** Legacy alerts from a provider Graph can notify about (Defender ATP and O365 alerts send no notifications). */
const IPC = { vendorInformation: { provider: 'IPC', vendor: 'Microsoft', providerVersion: '2.0', subProvider: null } };

export type LatencyMode = 'notification' | 'poll' | 'streaming';
/** Streaming runs only at rates one Graph read per alert can serve within the bench's request budget. */
const STREAMING_MAX_RATE = 100;
const STREAM_HUB = 'defender-stream';

export interface LatencyRow {
  mode: LatencyMode;
  offered_per_s: number;
  /** Alerts the bench managed to create per second (the simulator runs in the bench process). */
  created_per_s: number;
  created: number;
  delivered: number;
  /** Delivered records ÷ (last arrival − first creation). */
  delivered_per_s: number;
  /** Creation → sink write (records never delivered count as infinitely late). */
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Among the records that did arrive (differs from the above only when some never did). */
  delivered_p50_ms: number;
  delivered_p99_ms: number;
  /** Poll mode: `ingested_at` (page normalized) → sink write. */
  ingest_p50_ms?: number;
  ingest_p99_ms?: number;
  /** Poll mode: the poll interval. */
  poll_interval_ms?: number;
  /** Poll and streaming modes: Graph requests on alerts_v2 (reads by id and list pages) per alert created. */
  graph_requests_per_alert?: number;
  /** Streaming mode: records that arrived through the stream (the rest came by the 60 s poll). */
  via_streaming?: number;
  cpu: Record<string, number>;
  note?: string;
}

function config(
  mode: LatencyMode,
  sim: Simulator,
  redisUrl: string,
  prefix: string,
  out: string,
  peer?: EventHubsPeer,
  o: { pollMs?: number; budget?: number } = {},
): string {
  const common = `
    tenant_id: ${TENANT.tenantId}
    client_id: ${TENANT.clientId}
    client_secret: ${TENANT.clientSecret}
    graph_url: ${sim.url}
    authority_url: ${sim.authorityHost}
    ca_file: ${sim.caFile}
    initial_lookback_ms: 60000
    page_size: 1000
    request_budget_per_minute: ${o.budget ?? 10000}`;
  const source =
    mode === 'notification'
      ? `${common}
    resources: [alerts]
    poll_interval_ms: 3600000
    webhook: { enabled: true, client_state: "${CLIENT_STATE}" }`
      : mode === 'streaming'
        ? `${common}
    resources: [alerts_v2]
    poll_interval_ms: 60000
  - name: stream
    type: defender_streaming
    connection_string: "${peer!.connectionString(STREAM_HUB)}"
    start_position: earliest`
        : `${common}
    resources: [alerts_v2]
    poll_interval_ms: ${o.pollMs ?? 1000}
    overlap_ms: 2000`;
  return `
redis: { url: "${redisUrl}", key_prefix: "${prefix}" }
server: { listen: "127.0.0.1:\${PORT}"${mode === 'notification' ? ', public_url: "http://127.0.0.1:${PORT}"' : ''} }
log: { level: warn, format: json }
sources:
  - name: graph
    type: graph_security${source}
sinks:
  - { name: out, type: file, path: "${out}" }
`;
}

async function one(
  mode: LatencyMode,
  rate: number,
  o: {
    redis: BenchRedis;
    seconds: number;
    drainMs: number;
    pollMs: number;
    runtime: Runtime;
    log: (l: string) => void;
  },
): Promise<LatencyRow> {
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-bench-latency-'));
  const peer = mode === 'streaming' ? await startEventHubsPeer({ hubs: { [STREAM_HUB]: 4 } }) : undefined;
  const sim = await startSimulator({
    tenants: [TENANT],
    seed: rate,
    dir: join(dir, 'sim'),
    ...(peer ? { streaming: { connectionString: peer.connectionString(STREAM_HUB) } } : {}),
  });
  const out = join(dir, 'out.ndjson');
  const resource: Resource = mode === 'notification' ? 'alerts' : 'alerts_v2';
  const created = new Map<string, number>();
  const arrived = new Map<string, number>();
  const ingestLatency: number[] = [];
  let viaStreaming = 0;
  const tail = new NdjsonTail(
    out,
    (recs, at) => {
      for (const r of recs) {
        if (arrived.has(r.key)) continue;
        arrived.set(r.key, at);
        if (r.full?.via === 'streaming') viaStreaming++;
        if (mode === 'poll' && r.full) ingestLatency.push(at - Date.parse(String(r.full.ingested_at)));
      }
    },
    { full: mode !== 'notification', everyMs: 5 },
  );
  const daemon = await startDaemon({
    config: config(mode, sim, o.redis.url, `lat-${mode}-${rate}`, out, peer, { pollMs: o.pollMs }),
    dir,
    name: `latency-${mode}`,
    runtime: o.runtime,
  });
  try {
    if (mode === 'notification') {
      await until(() => sim.deliveryLog.some((d) => d.kind === 'validation' && d.status === 200), 30_000);
      await sleep(1000); // the subscription is stored once Graph answered the create
    } else {
      await sleep(1500); // the first poll has run
    }
    const meter = new CpuMeter({ self: undefined, daemon: daemon.pid, redis: o.redis.pid() });
    const t0 = Date.now();
    const end = t0 + o.seconds * 1000;
    let owed = 0;
    let last = t0;
    // Create alerts at `rate` per second in 10 ms ticks (fractions carry over), on the wall clock.
    while (Date.now() < end) {
      const now = Date.now();
      owed += ((now - last) * rate) / 1000;
      last = now;
      for (; owed >= 1; owed--) {
        const obj = sim.create(TENANT.tenantId, resource, mode === 'notification' ? IPC : undefined);
        const n = normalize(resource, obj, { source: 'graph', via: 'poll', tenantId: TENANT.tenantId });
        if (n.ok) created.set(n.record.key, Date.now());
      }
      await sleep(10);
    }
    const createdSecs = (Date.now() - t0) / 1000;
    await until(() => [...created.keys()].every((k) => arrived.has(k)), o.drainMs, 100);
    tail.poll();
    const cpu = meter.stop('simulator');
    const lat = [...created].map(([k, t]) => (arrived.has(k) ? arrived.get(k)! - t : Number.POSITIVE_INFINITY));
    const delivered = [...created.keys()].filter((k) => arrived.has(k));
    const lastArrival = Math.max(...delivered.map((k) => arrived.get(k)!));
    const rowOut: LatencyRow = {
      mode,
      offered_per_s: rate,
      created_per_s: Math.round(created.size / createdSecs),
      created: created.size,
      delivered: delivered.length,
      delivered_per_s: Math.round(delivered.length / Math.max(0.001, (lastArrival - t0) / 1000)),
      p50_ms: percentile(lat, 50),
      p99_ms: percentile(lat, 99),
      max_ms: percentile(lat, 100),
      delivered_p50_ms: percentile(lat.filter(Number.isFinite), 50),
      delivered_p99_ms: percentile(lat.filter(Number.isFinite), 99),
      cpu,
      ...(mode === 'poll'
        ? {
            poll_interval_ms: o.pollMs,
            ingest_p50_ms: percentile(ingestLatency, 50),
            ingest_p99_ms: percentile(ingestLatency, 99),
          }
        : {}),
      ...(mode !== 'notification'
        ? { graph_requests_per_alert: alertsV2Requests(sim).length / Math.max(1, created.size) }
        : {}),
      ...(mode === 'streaming' ? { via_streaming: viaStreaming } : {}),
      ...(delivered.length < created.size
        ? { note: `${created.size - delivered.length} not delivered ${o.drainMs / 1000} s after the load stopped` }
        : {}),
    };
    o.log(
      `  ${mode} @ ${rate}/s: created ${rowOut.created_per_s}/s, delivered ${rowOut.delivered}/${rowOut.created} at ${rowOut.delivered_per_s}/s; ` +
        `creation→sink p50 ${rowOut.p50_ms} ms p99 ${rowOut.p99_ms} ms (of those delivered: ${rowOut.delivered_p50_ms} / ${rowOut.delivered_p99_ms} ms)` +
        (mode === 'poll'
          ? `; every ${o.pollMs} ms; ingest→sink p50 ${rowOut.ingest_p50_ms} ms p99 ${rowOut.ingest_p99_ms} ms`
          : '') +
        (mode === 'streaming' ? `; via streaming ${rowOut.via_streaming}` : '') +
        (mode !== 'notification' ? `; Graph requests per alert ${rowOut.graph_requests_per_alert?.toFixed(3)}` : '') +
        `; CPU % ${JSON.stringify(cpu)}`,
    );
    return rowOut;
  } finally {
    tail.close();
    await daemon.stop();
    await sim.close();
    await peer?.close();
    await o.redis.flush();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Graph requests on alerts_v2 the simulator answered: list pages and reads by id. */
const alertsV2Requests = (sim: Simulator) =>
  sim.requestLog.filter((r) => r.method === 'GET' && r.path.includes('/security/alerts_v2'));

export async function latency(o: {
  redis: BenchRedis;
  rates: number[];
  seconds: number;
  modes?: readonly LatencyMode[];
  drainMs?: number;
  /** Poll mode's interval. @defaultValue 1000 */
  pollMs?: number;
  runtime: Runtime;
  log: (l: string) => void;
}): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = [];
  for (const mode of o.modes ?? (['notification', 'poll', 'streaming'] as const)) {
    for (const rate of o.rates) {
      if (mode === 'streaming' && rate > STREAMING_MAX_RATE) continue;
      o.log(`latency: ${mode} at ${rate} alerts/s for ${o.seconds} s`);
      try {
        rows.push(await one(mode, rate, { ...o, drainMs: o.drainMs ?? 30_000, pollMs: o.pollMs ?? 1000 }));
      } catch (err) {
        o.log(`  FAILED: ${(err as Error).stack}`);
      }
    }
  }
  return rows;
}

export interface BurstResult {
  alerts: number;
  budget_per_minute: number;
  poll_interval_ms: number;
  delivered: number;
  /** Creation of the burst → the last of its records in the sink. */
  all_in_sink_ms: number;
  p50_ms: number;
  /** What one read by id per alert would take at the budget: alerts ÷ budget minutes. */
  one_get_each_s: number;
  via: Record<string, number>;
  /** Graph requests during the burst: reads by id, list pages (alerts_v2). */
  reads_by_id: number;
  list_requests: number;
  /** The most Graph requests (any resource, tokens excluded) the simulator saw in any 60 s window of the run. */
  max_requests_per_60s: number;
  cpu: Record<string, number>;
}

/**
 * A burst through the streaming path at Graph's own budget: `alerts` new alerts at once, their 2 × `alerts` events
 * published by the simulator, the 60 s poll as the safety net. The source sees more new alerts in a batch than reads
 * by id serve in 5 s and asks the poller for a poll now; the figures show what that gives, and that the budget held.
 */
export async function burst(o: {
  redis: BenchRedis;
  alerts?: number;
  runtime: Runtime;
  log: (l: string) => void;
}): Promise<BurstResult> {
  const alerts = o.alerts ?? 500;
  const budget = 150;
  const pollMs = 60_000;
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-bench-burst-'));
  const peer = await startEventHubsPeer({ hubs: { [STREAM_HUB]: 4 } });
  const sim = await startSimulator({
    tenants: [TENANT],
    seed: 500,
    dir: join(dir, 'sim'),
    streaming: { connectionString: peer.connectionString(STREAM_HUB) },
  });
  const out = join(dir, 'out.ndjson');
  const arrived = new Map<string, { at: number; via: string }>();
  const tail = new NdjsonTail(
    out,
    (recs, at) => {
      for (const r of recs) if (!arrived.has(r.key)) arrived.set(r.key, { at, via: String(r.full?.via) });
    },
    { full: true, everyMs: 5 },
  );
  // The streaming config: alerts_v2 polled every 60 s, page_size 1000, here at Graph's own budget.
  const yaml = config('streaming', sim, o.redis.url, 'burst', out, peer, { budget });
  o.log(
    `burst: ${alerts} new alerts at once, streaming path, budget ${budget} requests/min, poll every ${pollMs / 1000} s`,
  );
  const daemon = await startDaemon({ config: yaml, dir, name: 'burst', runtime: o.runtime });
  try {
    await until(() => alertsV2Requests(sim).length > 0, 30_000);
    await sleep(1500); // the first poll has run, and the consumer reads the hub
    const meter = new CpuMeter({ self: undefined, daemon: daemon.pid, redis: o.redis.pid() });
    const logged = sim.requestLog.length;
    const t0 = Date.now();
    const keys = sim.createMany(TENANT.tenantId, 'alerts_v2', alerts).flatMap((obj) => {
      const n = normalize('alerts_v2', obj, { source: 'graph', via: 'poll', tenantId: TENANT.tenantId });
      return n.ok ? [n.record.key] : [];
    });
    await until(() => keys.every((k) => arrived.has(k)), 300_000, 50).catch(() => undefined);
    tail.poll();
    const cpu = meter.stop('simulator');
    const mine = keys.filter((k) => arrived.has(k)).map((k) => arrived.get(k)!);
    const via: Record<string, number> = {};
    for (const a of mine) via[a.via] = (via[a.via] ?? 0) + 1;
    const during = sim.requestLog.slice(logged).filter((r) => r.method === 'GET');
    const graph = sim.requestLog.filter((r) => r.path.includes('/security/')).map((r) => Date.parse(r.at));
    const result: BurstResult = {
      alerts,
      budget_per_minute: budget,
      poll_interval_ms: pollMs,
      delivered: mine.length,
      all_in_sink_ms: mine.length === keys.length ? Math.max(...mine.map((a) => a.at)) - t0 : Number.POSITIVE_INFINITY,
      p50_ms: percentile(
        mine.map((a) => a.at - t0),
        50,
      ),
      one_get_each_s: (alerts / budget) * 60,
      via,
      reads_by_id: during.filter((r) => /\/security\/alerts_v2\/./.test(r.path)).length,
      list_requests: during.filter((r) => r.path.endsWith('/security/alerts_v2')).length,
      max_requests_per_60s: maxInWindow(graph, 60_000),
      cpu,
    };
    o.log(
      `  ${result.delivered}/${alerts} in the sink ${result.all_in_sink_ms} ms after creation (p50 ${result.p50_ms} ms; one read each: ${result.one_get_each_s} s); ` +
        `via ${JSON.stringify(via)}; ${result.reads_by_id} reads by id, ${result.list_requests} list requests; ` +
        `at most ${result.max_requests_per_60s} Graph requests in any 60 s (budget ${budget}); CPU % ${JSON.stringify(cpu)}`,
    );
    return result;
  } finally {
    tail.close();
    await daemon.stop();
    await sim.close();
    await peer.close();
    await o.redis.flush();
    rmSync(dir, { recursive: true, force: true });
  }
}
