/**
 * `redis.sentinel` and the managed-Redis options (`username`, timeouts): what the configuration accepts and refuses,
 * and real connections through real sentinels that follow the primary after a failover (BullMQ's included).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { RedisConfig } from '../../src/config/schema.js';
import { connect, describeRedisFailure, redisOptions } from '../../src/pipeline/redis.js';
import { startRedisServer } from '../../src/util/redis-server.js';
import { hostPort, startSentinelTopology, type SentinelTopology } from '../helpers/redis-topology.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'ab-redis-sentinel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function parse(redisYaml: string) {
  return parseConfig(`redis:\n${redisYaml}\nsinks:\n  - { name: out, type: file, path: /dev/null }\n`, {
    baseDir: dir,
    env: {},
  });
}

function redisConfig(redisYaml: string): RedisConfig {
  const res = parse(redisYaml);
  if (!res.ok) throw new Error(res.errors.join('\n'));
  return res.config.redis;
}

describe('redis.sentinel configuration', () => {
  it('reads the sentinels, the master name, both passwords (files too) and the ACL user', () => {
    writeFileSync(join(dir, 'sentinel-pw'), 'sentinel-secret\n');
    const cfg = redisConfig(`  username: alertbridge
  password: data-secret
  sentinel:
    master_name: mymaster
    nodes: [10.0.0.1:26379, 'sentinel-1.redis:26379', '[fd00::2]:26379']
    password_file: sentinel-pw
    tls: true`);
    expect(cfg.sentinel).toMatchObject({
      master_name: 'mymaster',
      password: 'sentinel-secret',
      tls: true,
    });
    const o = redisOptions(cfg);
    expect(o).toMatchObject({
      name: 'mymaster',
      role: 'master',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'sentinel-1.redis', port: 26379 },
        { host: 'fd00::2', port: 26379 },
      ],
      username: 'alertbridge',
      password: 'data-secret',
      sentinelPassword: 'sentinel-secret',
      enableTLSForSentinelMode: true,
    });
    expect(o.tls?.rejectUnauthorized).toBe(true);
    expect(o.sentinelTLS?.rejectUnauthorized).toBe(true);
  });

  it('refuses a url next to the sentinels, an empty sentinel list, and bad addresses, naming each path', () => {
    const res = parse(`  url: redis://cache.example.com:6379/0
  sentinel:
    master_name: mymaster
    nodes: []`);
    expect(res.ok).toBe(false);
    expect(!res.ok && res.errors).toEqual([
      'redis.url: not used with redis.sentinel (the sentinels name the primary): remove one of the two',
      'redis.sentinel.nodes: at least one sentinel is required',
    ]);
    const bad = parse(`  sentinel: { master_name: m, nodes: ['sentinel-0:port'] }`);
    expect(!bad.ok && bad.errors).toEqual(['redis.sentinel.nodes[0]: must be host:port (e.g. sentinel-0.redis:26379)']);
  });

  it('refuses a CA file without TLS to the sentinels, and a durability wait the command timeout would cut', () => {
    writeFileSync(join(dir, 'ca.pem'), 'x');
    const res = parse(`  sentinel: { master_name: m, nodes: ['127.0.0.1:26379'] }
  tls: { ca_file: ca.pem }
  command_timeout_ms: 2000
  durability: { replicas: 1, timeout_ms: 2000 }`);
    expect(!res.ok && res.errors).toEqual([
      'redis.tls.ca_file: only used with sentinel.tls: true',
      'redis.durability.timeout_ms: must be less than redis.command_timeout_ms (2000): the wait is a command',
    ]);
  });

  it('refuses, with security.require_tls, the password sent to remote sentinels in the clear', () => {
    const res = parseConfig(
      `redis:
  password: pw
  sentinel: { master_name: m, nodes: ['10.1.1.1:26379'] }
security: { require_tls: true }
sinks:
  - { name: out, type: file, path: /dev/null }
`,
      { baseDir: dir, env: {} },
    );
    expect(!res.ok && res.errors).toEqual([
      'redis.sentinel.tls: redis sends the Redis password unencrypted to 10.1.1.1: set redis.sentinel.tls: true (security.require_tls is true)',
    ]);
  });

  it('bounds commands on command connections only (blocking reads wait), with the configured timeouts', () => {
    const cfg = redisConfig(`  url: redis://127.0.0.1:6379/0
  connect_timeout_ms: 3000
  command_timeout_ms: 4000`);
    expect(redisOptions(cfg)).toMatchObject({ connectTimeout: 3000, commandTimeout: 4000 });
    expect(redisOptions(cfg, { blocking: true }).commandTimeout).toBeUndefined();
  });
});

describe('ACL user (managed Redis)', () => {
  it('logs in as redis.username, and a refused login names the setting to check', async () => {
    const server = await startRedisServer({
      args: ['--user', 'default', 'off', '--user', 'alertbridge', 'on', '>acl-secret', '~*', '&*', '+@all'],
    });
    try {
      const ok = connect({ url: server.url, username: 'alertbridge', password: 'acl-secret' });
      try {
        expect(await ok.call('ACL', 'WHOAMI')).toBe('alertbridge');
      } finally {
        ok.disconnect();
      }
      const wrong = connect({ url: server.url, username: 'alertbridge', password: 'nope' });
      const err = await new Promise<Error>((resolve) => wrong.once('error', resolve));
      wrong.disconnect();
      expect(describeRedisFailure({ url: server.url }, err).message).toMatch(
        /refused the credentials \(WRONGPASS.*\): check redis.password \(or password_file\) and the user \(redis.username or the URL's\)$/,
      );
    } finally {
      await server.stop();
    }
  });
});

describe('through real sentinels', () => {
  let topo: SentinelTopology;
  beforeAll(async () => {
    topo = await startSentinelTopology({ password: 'data-pw', sentinelPassword: 'sentinel-pw' });
  });
  afterAll(async () => {
    await topo?.stop();
  });

  it('a refused sentinel login is described with the primary and the sentinels, without the password', async () => {
    const cfg = redisConfig(`  password: data-pw
  sentinel:
    master_name: ${topo.masterName}
    nodes: [${topo.sentinels.map(hostPort).join(', ')}]
    password: wrong-sentinel-pw`);
    const conn = connect(cfg);
    const err = await new Promise<Error>((resolve) => conn.once('error', resolve));
    conn.disconnect();
    const described = describeRedisFailure(cfg, err).message;
    expect(described).toContain(
      `the Redis primary "${topo.masterName}" of the sentinels ${topo.sentinels.map(hostPort).join(', ')}`,
    );
    expect(described).not.toContain('wrong-sentinel-pw');
  });

  it('a master name the sentinels do not know is named in the start-up error', async () => {
    const cfg = redisConfig(`  password: data-pw
  sentinel:
    master_name: not-monitored
    nodes: [${topo.sentinels.map(hostPort).join(', ')}]
    password: sentinel-pw`);
    const conn = connect(cfg);
    const err = await new Promise<Error>((resolve) => conn.once('error', resolve));
    conn.disconnect();
    expect(describeRedisFailure(cfg, err).message).toMatch(
      /cannot be used: no sentinel answered with the address of a primary named "not-monitored" \(All sentinels are unreachable\..*\): check redis.sentinel.nodes and master_name$/,
    );
  });

  it('every connection, BullMQ queue and worker included, follows the primary after it is killed', async () => {
    const cfg = redisConfig(`  password: data-pw
  sentinel:
    master_name: ${topo.masterName}
    nodes: [${topo.sentinels.map(hostPort).join(', ')}]
    password: sentinel-pw`);
    const commands = connect(cfg, { name: 'test-commands' });
    const queues = connect(cfg, { blocking: true, name: 'test-queues' });
    commands.on('error', () => undefined);
    queues.on('error', () => undefined);
    const queue = new Queue('sentinel-follow', { connection: queues, prefix: 'abtest-sentinel' });
    queue.on('error', () => undefined);
    const done = new Set<string>();
    const worker = new Worker('sentinel-follow', async (job) => void done.add(String(job.data.n)), {
      connection: queues,
      prefix: 'abtest-sentinel',
    });
    worker.on('error', () => undefined);
    try {
      const first = await topo.primary();
      const portOf = async () => Number(/tcp_port:(\d+)/.exec(await commands.info('server'))?.[1]);
      expect(await portOf()).toBe(first.port);
      await commands.set('abtest-sentinel:before', '1');
      expect(Number(await commands.call('WAIT', 2, 5000))).toBe(2);
      await queue.add('x', { n: 'before' });
      await waitFor(() => done.has('before'), { timeoutMs: 30_000, what: 'the job added before the failover' });

      const killed = await topo.killPrimary();
      const next = await topo.waitForFailover(killed);

      // The same client objects, no restart: writes land on the new primary, the worker takes new jobs.
      await waitFor(async () => (await commands.set('abtest-sentinel:after', '1').catch(() => null)) === 'OK', {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: 'a write through the command connection after the failover',
      });
      expect(await portOf()).toBe(next.port);
      expect(await commands.get('abtest-sentinel:before')).toBe('1');
      await waitFor(async () => !!(await queue.add('x', { n: 'after' }).catch(() => null)), {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: 'a job added after the failover',
      });
      await waitFor(() => done.has('after'), { timeoutMs: 60_000, what: 'the job added after the failover' });
    } finally {
      await worker.close(true).catch(() => undefined);
      await queue.close().catch(() => undefined);
      commands.disconnect();
      queues.disconnect();
    }
  }, 240_000);
});
