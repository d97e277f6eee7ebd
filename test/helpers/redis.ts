/**
 * Per-test Redis isolation: a unique key prefix on the shared test redis-server, deleted afterwards. With
 * ALERTBRIDGE_TEST_REDIS=cluster (global-setup.ts), {@link testRedisConfig} names the run's Redis Cluster instead.
 */
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { inject } from 'vitest';
import type { RedisConnectionConfig } from '../../src/pipeline/redis.js';

export function redisUrl(): string {
  return inject('redisUrl');
}

/** Whether this run's pipelines use the Redis Cluster (ALERTBRIDGE_TEST_REDIS=cluster). */
export function clusterMode(): boolean {
  return (inject('redisCluster') ?? []).length > 0;
}

/** The Redis of this run as `redis` configuration: the cluster in cluster mode, else the shared server. */
export function testRedisConfig(): RedisConnectionConfig {
  const nodes = inject('redisCluster') ?? [];
  return nodes.length ? { url: redisUrl(), cluster: { nodes } } : { url: redisUrl() };
}

export function uniquePrefix(label = 't'): string {
  return `abtest:${label}:${randomBytes(4).toString('hex')}`;
}

/** Every key matching `pattern`, on the shared server or on every primary of the cluster. */
export async function scanKeys(pattern: string): Promise<string[]> {
  const nodes = inject('redisCluster') ?? [];
  if (!nodes.length) return withServer(redisUrl(), (r) => scanNode(r, pattern));
  const cluster = new Cluster(nodes.map((n) => ({ host: n.replace(/:\d+$/, ''), port: Number(n.split(':').pop()) })));
  try {
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', resolve);
      cluster.once('error', reject);
    });
    const found = await Promise.all(cluster.nodes('master').map((r) => scanNode(r, pattern)));
    return found.flat();
  } finally {
    cluster.disconnect();
  }
}

async function scanNode(r: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

async function withServer<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url);
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export async function deletePrefix(prefix: string): Promise<void> {
  const keys = await scanKeys(`${prefix}:*`);
  if (!keys.length) return;
  const nodes = inject('redisCluster') ?? [];
  if (!nodes.length) {
    await withServer(redisUrl(), async (r) => {
      for (let i = 0; i < keys.length; i += 1000) await r.del(...keys.slice(i, i + 1000));
    });
    return;
  }
  const cluster = new Cluster(nodes.map((n) => ({ host: n.replace(/:\d+$/, ''), port: Number(n.split(':').pop()) })));
  try {
    // One key per command: they span slots.
    await Promise.all(keys.map((k) => cluster.del(k)));
  } finally {
    cluster.disconnect();
  }
}
