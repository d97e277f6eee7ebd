/**
 * Horizontal scale on one Redis: 1, 2 and 3 `alertbridge run` processes, each with a partner-push source and a
 * file sink, as they would run behind a load balancer. The bench pushes the same realistic alerts (pre-serialized,
 * 200 per request), spread evenly over the replicas, one request in flight per replica; each replica ingests
 * (parse, normalize, dedup + stage) and every replica's dispatcher and sink worker take part in delivery. The clock
 * runs from the first push until the replicas' /metrics add up to every record delivered.
 *
 * A count written `3c` runs that many replicas on a 3-primary / 3-replica Redis Cluster (`redis.cluster`, started
 * from redis-server binaries as the tests do) instead of the one Redis: the same load, side by side.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import type { GraphObject } from '../src/simulator/generate.js';
import { metricSum, startDaemon, type Daemon, type Runtime } from './lib/daemon.js';
import { CpuMeter } from './lib/proc.js';
import type { BenchRedis } from './lib/redis.js';
import { Redis } from 'ioredis';
import { hostPort, startClusterTopology, type ClusterTopology } from '../test/helpers/redis-topology.js';
import { MiB, sleep } from './lib/stats.js';

const TOKEN = 'bench-replica-token';
const PER_REQUEST = 200;

export interface ReplicaRow {
  replicas: number;
  /** `redis` (one server) or `cluster` (3 primaries, 3 replicas). */
  topology: 'redis' | 'cluster';
  records: number;
  seconds: number;
  records_per_s: number;
  mib_per_s: number;
  /** Records/s acknowledged by the push routes (ingest alone). */
  ingest_per_s: number;
  /** Percent of one core: each replica, redis-server, and the pushing bench process (`bench`). */
  cpu: Record<string, number>;
  /**
   * Older revisions that reached one replica after a newer one of the same alert had reached another: dropped as
   * stale (correctly: a record is delivered once per newest revision). The clock stops when the rest is delivered.
   */
  stale: number;
}

async function pushAll(d: Daemon, bodies: string[]): Promise<void> {
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  try {
    for (const body of bodies) {
      for (;;) {
        const res = await undiciFetch(`http://127.0.0.1:${d.port}/ingest/push`, {
          method: 'POST',
          body,
          dispatcher: agent,
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        }).catch(() => undefined);
        await res?.arrayBuffer();
        if (res?.status === 202) break;
        await sleep(100);
      }
    }
  } finally {
    await agent.close();
  }
}

export async function replicas(o: {
  redis: BenchRedis;
  alerts: readonly GraphObject[];
  bytes: number;
  /** Replica counts; `3c` is 3 replicas on a Redis Cluster. */
  counts: string[];
  runtime: Runtime;
  log: (l: string) => void;
}): Promise<ReplicaRow[]> {
  const rows: ReplicaRow[] = [];
  const n = o.alerts.length;
  const bodies = Array.from({ length: Math.ceil(n / PER_REQUEST) }, (_, i) =>
    JSON.stringify(o.alerts.slice(i * PER_REQUEST, (i + 1) * PER_REQUEST)),
  );
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-bench-replicas-'));
  let cluster: ClusterTopology | undefined;
  try {
    for (const count of o.counts) {
      const onCluster = count.endsWith('c');
      const k = Number.parseInt(count, 10);
      if (onCluster) cluster ??= await startClusterTopology();
      o.log(
        `replicas: ${k} × alertbridge run${onCluster ? ' on a 3-primary Redis Cluster' : ''}, ${n.toLocaleString('en-US')} records pushed over ${k} connection(s)`,
      );
      const redisLine =
        cluster && onCluster
          ? `redis: { cluster: { nodes: [${cluster.nodes.map(hostPort).join(', ')}] }, key_prefix: "rep${k}" }`
          : `redis: { url: "${o.redis.url}", key_prefix: "rep${k}" }`;
      const config = `
${redisLine}
server: { listen: "127.0.0.1:\${PORT}", max_body_bytes: 16777216 }
log: { level: warn, format: json }
sources:
  - { name: push, type: webhook, token: ${TOKEN} }
sinks:
  - { name: out, type: file, path: /dev/null }
`;
      const daemons: Daemon[] = [];
      try {
        for (let i = 0; i < k; i++)
          daemons.push(await startDaemon({ config, dir, name: `replica-${k}-${i}`, runtime: o.runtime }));
        // Sums over the replicas of ingested, duplicate/stale and delivered records.
        const sums = async () => {
          const texts = await Promise.all(daemons.map(async (d) => (await d.get('/metrics')).body));
          const sum = (name: string) => texts.reduce((a, t) => a + metricSum(t, name), 0);
          return {
            ingested: sum('alertbridge_records_ingested_total'),
            dropped: sum('alertbridge_records_duplicate_total'),
            delivered: sum('alertbridge_records_delivered_total'),
          };
        };
        const redisPids =
          cluster && onCluster
            ? Object.fromEntries(cluster.servers.map((srv, i) => [`redis${i + 1}`, srv.process.pid]))
            : { redis: o.redis.pid() };
        const meter = new CpuMeter({
          self: undefined,
          ...redisPids,
          ...Object.fromEntries(daemons.map((d, i) => [`replica${i + 1}`, d.pid])),
        });
        const t0 = performance.now();
        await Promise.all(
          daemons.map((d, i) =>
            pushAll(
              d,
              bodies.filter((_, j) => j % k === i),
            ),
          ),
        );
        const ingestMs = performance.now() - t0;
        const deadline = Date.now() + 15 * 60_000;
        let s = await sums();
        while (s.ingested < n || s.delivered < s.ingested - s.dropped) {
          if (Date.now() > deadline)
            throw new Error(`replicas delivered ${s.delivered} of ${s.ingested - s.dropped} accepted`);
          await sleep(50);
          s = await sums();
        }
        const ms = performance.now() - t0;
        const cpu = meter.stop('bench');
        const row: ReplicaRow = {
          replicas: k,
          topology: onCluster ? 'cluster' : 'redis',
          records: n,
          seconds: Math.round(ms) / 1000,
          records_per_s: Math.round(n / (ms / 1000)),
          mib_per_s: Math.round((o.bytes / MiB / (ms / 1000)) * 10) / 10,
          ingest_per_s: Math.round(n / (ingestMs / 1000)),
          cpu,
          stale: s.dropped,
        };
        o.log(
          `  ${k} replica(s)${onCluster ? ' on the cluster' : ''}: ${row.records_per_s.toLocaleString('en-US')} records/s end to end (${row.seconds} s; ingest ${row.ingest_per_s}/s; ${s.dropped} stale revisions dropped); CPU % ${JSON.stringify(cpu)}`,
        );
        rows.push(row);
      } finally {
        await Promise.all(daemons.map((d) => d.stop()));
        if (cluster && onCluster) {
          for (const p of await cluster.primaries()) {
            const r = new Redis({ host: p.host, port: p.port });
            await r.flushall().finally(() => r.disconnect());
          }
        } else await o.redis.flush();
      }
    }
  } finally {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
