/**
 * `alertbridge doctor`'s Redis checks against real redis-servers started with each setting: AOF on passes, RDB
 * snapshots alone warn (a crash loses what came since the last one), no persistence at all fails, and any
 * maxmemory-policy but noeviction fails with the fix.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisChecks } from '../../src/cli/doctor-redis.js';
import { startRedisServer, type RedisServer } from '../../src/util/redis-server.js';

const servers: RedisServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function checksOf(args: string[]) {
  const server = await startRedisServer({ args });
  servers.push(server);
  const redis = new Redis(server.url);
  try {
    const lines = await redisChecks(redis, 10_000, (err) => String(err));
    return Object.fromEntries(lines.map((l) => [l.check, l]));
  } finally {
    redis.disconnect();
  }
}

describe('doctor: Redis', () => {
  it('passes AOF and noeviction', async () => {
    const c = await checksOf([]);
    expect(c.version!.status).toBe('pass');
    expect(c.persistence!.status).toBe('pass');
    expect(c['maxmemory-policy']!.status).toBe('pass');
  });

  it('warns about RDB snapshots alone, fails without any persistence', async () => {
    const rdb = await checksOf(['--appendonly', 'no', '--save', '3600 1']);
    expect(rdb.persistence!.status).toBe('warn');
    expect(rdb.persistence!.detail).toContain('3600 1');
    const none = await checksOf(['--appendonly', 'no', '--save', '']);
    expect(none.persistence!.status).toBe('fail');
    expect(none.persistence!.fix).toContain('appendonly yes');
  });

  it('fails an evicting maxmemory-policy with the fix', async () => {
    const c = await checksOf(['--maxmemory-policy', 'volatile-lru']);
    expect(c['maxmemory-policy']!.status).toBe('fail');
    expect(c['maxmemory-policy']!.fix).toContain('CONFIG SET maxmemory-policy noeviction');
  });
});
