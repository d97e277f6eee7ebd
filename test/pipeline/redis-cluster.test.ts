/**
 * `redis.cluster`: what the configuration accepts and refuses, and real connections to a real 3-primary / 3-replica
 * Redis Cluster — a Cluster client for every connection, and `durability.replicas` waiting on the primary that owns
 * the slot written (WAIT is per node).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Durability } from '../../src/pipeline/durability.js';
import { clusterSlot } from '../../src/pipeline/keys.js';
import { connect, describeRedisTarget, isCluster } from '../../src/pipeline/redis.js';
import { hostPort, startClusterTopology, type Address, type ClusterTopology } from '../helpers/redis-topology.js';

const dir = mkdtempSync(join(tmpdir(), 'ab-redis-cluster-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function parse(redisYaml: string, extra = '') {
  return parseConfig(`redis:\n${redisYaml}\n${extra}sinks:\n  - { name: out, type: file, path: /dev/null }\n`, {
    baseDir: dir,
    env: {},
  });
}

describe('redis.cluster configuration', () => {
  it('reads the nodes, TLS and the credentials every node gets', () => {
    writeFileSync(join(dir, 'pw'), 'cluster-secret\n');
    const res = parse(`  username: alertbridge
  password_file: pw
  cluster: { nodes: ['10.0.0.1:6379', 'redis-1.redis:6379'], tls: true }`);
    if (!res.ok) throw new Error(res.errors.join('\n'));
    expect(res.config.redis.cluster).toEqual({ nodes: ['10.0.0.1:6379', 'redis-1.redis:6379'], tls: true });
    expect(res.config.redis.password).toBe('cluster-secret');
    expect(describeRedisTarget(res.config.redis)).toBe('the Redis Cluster of 10.0.0.1:6379, redis-1.redis:6379');
  });

  it('refuses a url or sentinels next to it, an empty node list, a CA without TLS, naming each path', () => {
    writeFileSync(join(dir, 'ca.pem'), 'x');
    const res = parse(`  url: redis://cache.example.com:6379/0
  sentinel: { master_name: m, nodes: ['127.0.0.1:26379'] }
  cluster: { nodes: [] }
  tls: { ca_file: ca.pem }`);
    expect(!res.ok && res.errors).toEqual([
      'redis.url: not used with redis.sentinel (the sentinels name the primary): remove one of the two',
      'redis.url: not used with redis.cluster (the cluster nodes are the servers): remove one of the two',
      'redis.cluster: redis.cluster and redis.sentinel exclude each other: keep the one your Redis is',
      'redis.cluster.nodes: at least one cluster node is required',
      'redis.tls.ca_file: only used with cluster.tls: true',
    ]);
    const bad = parse(`  cluster: { nodes: ['redis-0'] }`);
    expect(!bad.ok && bad.errors).toEqual(['redis.cluster.nodes[0]: must be host:port (e.g. redis-0.redis:6379)']);
  });

  it('refuses, with security.require_tls, the password sent to remote nodes in the clear', () => {
    const res = parse(
      `  password: pw\n  cluster: { nodes: ['10.1.1.1:6379', '10.1.1.2:6379'] }`,
      'security: { require_tls: true }\n',
    );
    expect(!res.ok && res.errors).toEqual([
      'redis.cluster.tls: redis sends the Redis password unencrypted to 10.1.1.1, 10.1.1.2: set redis.cluster.tls: true (security.require_tls is true)',
    ]);
  });
});

describe('on a real Redis Cluster', () => {
  let topo: ClusterTopology;
  beforeAll(async () => {
    topo = await startClusterTopology();
  }, 120_000);
  afterAll(async () => {
    await topo?.stop();
  });

  /** The replica of a primary (ROLE on every node). */
  async function replicaOf(primary: Address): Promise<Address> {
    for (const s of topo.servers) {
      const r = new Redis({ host: '127.0.0.1', port: s.port, lazyConnect: true });
      try {
        await r.connect();
        const role = (await r.call('ROLE')) as unknown[];
        if (role[0] === 'slave' && Number(role[2]) === primary.port) return { host: '127.0.0.1', port: s.port };
      } finally {
        r.disconnect();
      }
    }
    throw new Error(`no replica of ${hostPort(primary)}`);
  }

  it('durability.replicas waits on the primary that owns the slot written, not on another', async () => {
    const redis = connect({ url: 'redis://unused', cluster: { nodes: topo.nodes.map(hostPort) } });
    const durability = new Durability(
      redis,
      { replicas: 1, aof_fsync: false, timeout_ms: 1000 },
      pino({ level: 'silent' }),
    );
    try {
      expect(isCluster(redis)).toBe(true);
      await redis.set('probe', '1'); // connected, slots known
      // Two keys on different primaries.
      const slots = (redis as unknown as { slots: string[][] }).slots;
      const owner = (key: string) => slots[clusterSlot(key)]![0]!;
      const a = 'ab:inbox:{i0}';
      let b = 'ab:inbox:{i1}';
      for (let i = 1; owner(b) === owner(a); i++) b = `ab:other:{k${i}}`;
      const [host, port] = owner(a).split(':');
      const stalled = await replicaOf({ host: host!, port: Number(port) });

      let mark = durability.mark();
      await Promise.all([redis.set(a, 'x'), redis.set(b, 'y')]);
      await durability.wait(mark, [a, b]); // both primaries' replicas have them

      // The replica of a's primary stops answering: a write there cannot be confirmed, one on b's primary can.
      const sleeper = new Redis({ host: stalled.host, port: stalled.port });
      let asleep = true;
      const sleeping = sleeper
        .call('DEBUG', 'SLEEP', '4')
        .catch(() => undefined)
        .finally(() => (asleep = false));
      await new Promise((r) => setTimeout(r, 300)); // the DEBUG SLEEP reaches the replica
      try {
        mark = durability.mark();
        await redis.set(a, 'x2');
        await expect(durability.wait(mark, [a])).rejects.toThrow(
          /only 0 of 1 replica\(s\) acknowledged it within 1000 ms/,
        );
        mark = durability.mark();
        await redis.set(b, 'y2');
        await durability.wait(mark, [b]);
        expect(asleep).toBe(true); // all of it while the replica was stalled
      } finally {
        await sleeping;
        sleeper.disconnect();
      }
    } finally {
      redis.disconnect();
    }
  });
});
