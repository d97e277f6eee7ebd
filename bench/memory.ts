/**
 * Memory of the daemon (`alertbridge run` as a child process; RSS read from /proc every 250 ms) and of Redis:
 *
 * 1. steady state: partner pushes of realistic alerts at a fixed rate into a daemon with two sinks (a file sink and
 *    splunk_hec against the HEC peer), both keeping up;
 * 2. backlog: the HEC peer answers every request 503 "server busy" while `backlog` more records arrive. The file sink
 *    keeps delivering; HEC's records pile up — in Redis, and the daemon's RSS should not follow them;
 * 3. the peer heals and the backlog drains.
 *
 * Redis bytes per queued record = (used_memory with the backlog queued − used_memory after it drained) ÷ backlog,
 * so the dedup state every record leaves behind (reported on its own) is not counted as queue.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import type { GraphObject } from '../src/simulator/generate.js';
import { delivered, metricSum, startDaemon, type Daemon, type Runtime } from './lib/daemon.js';
import { forkPeer, type ChildPeer } from './lib/peer-child.js';
import { RssSampler, cpuMs } from './lib/proc.js';
import { envelopeBytes, toRecords } from './lib/records.js';
import type { BenchRedis } from './lib/redis.js';
import { MiB, percentile, sleep, until } from './lib/stats.js';

const TOKEN = 'bench-push-token';
const PER_REQUEST = 200;

export interface MemoryResult {
  /** RSS of the daemon started and idle (nothing ingested yet). */
  idle_rss_mib: number;
  /** The daemon's own view at the end of the steady phase (prom-client process metrics). */
  steady_process: { heap_used_mib: number; heap_total_mib: number; external_mib: number };
  steady: {
    rate_offered: number;
    rate_achieved: number;
    seconds: number;
    rss_median_mib: number;
    rss_peak_mib: number;
    daemon_cpu_pct: number;
  };
  backlog: {
    records: number;
    /** RSS when the backlog started, at each quarter of it, and its peak while it grew. */
    rss_at_mib: Array<{ backlog: number; rss_mib: number }>;
    rss_peak_mib: number;
    push_per_s: number;
    redis_before_mib: number;
    redis_with_backlog_mib: number;
    redis_after_drain_mib: number;
    redis_bytes_per_queued_record: number;
    redis_dedup_bytes_per_record: number;
    drain_seconds: number;
    drain_per_s: number;
  };
  /** Envelope bytes of an average record (for comparison with bytes per queued record). */
  record_bytes: number;
  series: Array<{ t: number; rss_mib: number; backlog?: number }>;
}

function config(redisUrl: string, peerUrl: string): string {
  return `
redis: { url: "${redisUrl}", key_prefix: "mem" }
server: { listen: "127.0.0.1:\${PORT}", max_body_bytes: 16777216 }
log: { level: warn, format: json }
sources:
  - { name: push, type: webhook, token: ${TOKEN} }
sinks:
  - { name: file, type: file, path: /dev/null }
  - name: hec
    type: splunk_hec
    url: ${peerUrl}
    token: test-token
    retry: { max_attempts: 1000, initial_backoff_ms: 1000, max_backoff_ms: 30000 }
`;
}

/** Pushes `bodies` to the daemon, one request in flight; paced to `perSecond` records when given. Retries refusals. */
async function push(d: Daemon, bodies: string[], perSecond?: number, onSent?: (n: number) => void): Promise<number> {
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  const t0 = Date.now();
  let sent = 0;
  try {
    for (const body of bodies) {
      if (perSecond) {
        const due = t0 + (sent / perSecond) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
      }
      for (;;) {
        const res = await undiciFetch(`http://127.0.0.1:${d.port}/ingest/push`, {
          method: 'POST',
          body,
          dispatcher: agent,
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        }).catch(() => undefined);
        await res?.arrayBuffer();
        if (res?.status === 202) break;
        await sleep(200);
      }
      sent += PER_REQUEST;
      onSent?.(sent);
    }
  } finally {
    await agent.close();
  }
  return Date.now() - t0;
}

export async function memory(o: {
  redis: BenchRedis;
  alerts: GraphObject[];
  steadyRate: number;
  steadySeconds: number;
  backlog: number;
  runtime: Runtime;
  log: (l: string) => void;
}): Promise<MemoryResult> {
  const steadyN = Math.min(o.alerts.length - o.backlog, o.steadyRate * o.steadySeconds);
  const bodies = (from: number, n: number) =>
    Array.from({ length: Math.ceil(n / PER_REQUEST) }, (_, i) =>
      JSON.stringify(o.alerts.slice(from + i * PER_REQUEST, Math.min(from + n, from + (i + 1) * PER_REQUEST))),
    );
  const steadyBodies = bodies(0, steadyN);
  const backlogBodies = bodies(steadyN, o.backlog);
  const recordBytes = Math.round(envelopeBytes(toRecords(o.alerts.slice(0, 500), 'push')) / 500);
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-bench-memory-'));
  const peer: ChildPeer = await forkPeer('hec', { ack: false });
  const daemon = await startDaemon({
    config: config(o.redis.url, peer.address),
    dir,
    name: 'memory',
    runtime: o.runtime,
  });
  const sampler = new RssSampler(daemon.pid, 250);
  const mib = (b: number) => Math.round(b / MiB);
  try {
    await sleep(3000);
    const idle = sampler.samples.at(-1)!.rss;
    // 1. Steady state.
    o.log(`memory: steady state, ${o.steadyRate} records/s for ${o.steadySeconds} s`);
    const cpu0 = cpuMs(daemon.pid);
    const s0 = sampler.now();
    const steadyMs = await push(daemon, steadyBodies, o.steadyRate);
    await until(
      async () => (await delivered(daemon, 'file')) >= steadyN && (await delivered(daemon, 'hec')) >= steadyN,
      120_000,
      200,
    );
    const steadyCpu = Math.round((100 * (cpuMs(daemon.pid) - cpu0)) / steadyMs);
    // The second half of the steady phase: past start-up and JIT warm-up.
    const steadySamples = sampler.samples.filter((s) => s.t >= s0 + steadyMs / 2).map((s) => s.rss);
    const steady = {
      rate_offered: o.steadyRate,
      rate_achieved: Math.round(steadyN / (steadyMs / 1000)),
      seconds: Math.round(steadyMs / 1000),
      rss_median_mib: mib(percentile(steadySamples, 50)),
      rss_peak_mib: mib(Math.max(...steadySamples)),
      daemon_cpu_pct: steadyCpu,
    };
    const m = (await daemon.get('/metrics')).body;
    const gauge = (name: string) => Math.round(metricSum(m, `alertbridge_${name}`) / MiB);
    const steadyProcess = {
      heap_used_mib: gauge('nodejs_heap_size_used_bytes'),
      heap_total_mib: gauge('nodejs_heap_size_total_bytes'),
      external_mib: gauge('nodejs_external_memory_bytes'),
    };
    o.log(
      `  idle RSS ${mib(idle)} MiB; after the steady phase the daemon reports heap ${steadyProcess.heap_used_mib}/${steadyProcess.heap_total_mib} MiB used/total, external ${steadyProcess.external_mib} MiB`,
    );
    o.log(
      `  steady: ${steady.rate_achieved} records/s, RSS median ${steady.rss_median_mib} MiB, peak ${steady.rss_peak_mib} MiB, daemon CPU ${steadyCpu}%`,
    );

    // 2. Backlog: HEC refuses everything; the file sink keeps up.
    await sleep(2000);
    const before = await o.redis.usedMemory();
    await peer.setFaults({ busyRate: 1 });
    const tStart = sampler.now();
    sampler.mark = 0;
    o.log(`memory: HEC down (503 busy) while ${o.backlog.toLocaleString('en-US')} records arrive`);
    const hecBefore = await delivered(daemon, 'hec');
    const pushMs = await push(daemon, backlogBodies, undefined, (n) => (sampler.mark = n));
    await until(async () => (await delivered(daemon, 'file')) >= steadyN + o.backlog, 300_000, 250);
    // Everything is in the HEC queue now (the inbox is empty once the file sink had it all).
    await until(
      async () => metricSum((await daemon.get('/metrics')).body, 'alertbridge_queue_depth', { queue: 'inbox' }) === 0,
      60_000,
      250,
    );
    await sleep(1000);
    const withBacklog = await o.redis.usedMemory();
    const backlogSamples = sampler.samples.filter((s) => s.t >= tStart);
    const at = [0, 0.25, 0.5, 0.75, 1].map((q) => {
      const target = q * o.backlog;
      const s = backlogSamples.find((x) => (x.mark ?? 0) >= target) ?? backlogSamples.at(-1)!;
      return { backlog: Math.round(target), rss_mib: mib(s.rss) };
    });
    const peak = Math.max(...backlogSamples.map((s) => s.rss));
    o.log(
      `  backlog: pushed at ${Math.round(o.backlog / (pushMs / 1000))} records/s; RSS ${at.map((a) => `${a.backlog}: ${a.rss_mib} MiB`).join(', ')}; peak ${mib(peak)} MiB; ` +
        `Redis ${mib(before)} → ${mib(withBacklog)} MiB; HEC delivered meanwhile ${(await delivered(daemon, 'hec')) - hecBefore}`,
    );

    // 3. Heal and drain.
    sampler.mark = undefined;
    await peer.setFaults({ busyRate: 0 });
    const t = Date.now();
    const drained = await until(async () => (await delivered(daemon, 'hec')) >= steadyN + o.backlog, 600_000, 250);
    const drainMs = Date.now() - t;
    await until(
      async () =>
        metricSum((await daemon.get('/metrics')).body, 'alertbridge_queue_depth', { queue: 'sink:hec' }) === 0,
      60_000,
      250,
    );
    await sleep(1000);
    const after = await o.redis.usedMemory();
    o.log(
      `  drain: ${drained ? '' : 'NOT COMPLETE '}${(drainMs / 1000).toFixed(1)} s (${Math.round(o.backlog / (drainMs / 1000))} records/s); Redis after drain ${mib(after)} MiB`,
    );
    return {
      idle_rss_mib: mib(idle),
      steady_process: steadyProcess,
      steady,
      backlog: {
        records: o.backlog,
        rss_at_mib: at,
        rss_peak_mib: mib(peak),
        push_per_s: Math.round(o.backlog / (pushMs / 1000)),
        redis_before_mib: mib(before),
        redis_with_backlog_mib: mib(withBacklog),
        redis_after_drain_mib: mib(after),
        redis_bytes_per_queued_record: Math.round((withBacklog - after) / o.backlog),
        redis_dedup_bytes_per_record: Math.round((after - before) / o.backlog),
        drain_seconds: Math.round(drainMs / 100) / 10,
        drain_per_s: Math.round(o.backlog / (drainMs / 1000)),
      },
      record_bytes: recordBytes,
      series: sampler
        .stop()
        .filter((_, i) => i % 4 === 0)
        .map((s) => ({
          t: Math.round(s.t / 100) / 10,
          rss_mib: mib(s.rss),
          ...(s.mark !== undefined ? { backlog: s.mark } : {}),
        })),
    };
  } finally {
    sampler.stop();
    await daemon.stop();
    await peer.close();
    await o.redis.flush();
    rmSync(dir, { recursive: true, force: true });
  }
}
