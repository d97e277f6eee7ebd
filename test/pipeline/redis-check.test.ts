import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRedis, connect } from '../../src/pipeline/redis.js';
import { startRedisServer, type RedisServer } from '../../src/util/redis-server.js';
import { captureLogger } from '../helpers/graph.js';
import { redisUrl } from '../helpers/redis.js';

describe('Redis requirements at start', () => {
  let risky: RedisServer;
  beforeAll(async () => {
    risky = await startRedisServer({ args: ['--maxmemory-policy', 'allkeys-lru', '--appendonly', 'no'] });
  });
  afterAll(async () => {
    await risky.stop();
  });

  it('accepts the test server (noeviction, AOF on) without warnings', async () => {
    const r = connect({ url: redisUrl() });
    const { logger, lines } = captureLogger();
    const res = await checkRedis(r, logger);
    expect(res.warnings).toEqual([]);
    expect(lines).toEqual([]);
    expect(Number(res.version.split('.')[0])).toBeGreaterThanOrEqual(6);
    r.disconnect();
  });

  it('warns loudly about an evicting policy and a missing AOF', async () => {
    const r = connect({ url: risky.url });
    const { logger, lines } = captureLogger();
    const res = await checkRedis(r, logger);
    expect(res.warnings).toEqual([
      'Redis maxmemory-policy is "allkeys-lru": queued alerts can be evicted under memory pressure; set it to noeviction',
      'Redis append-only file (AOF) is off: a Redis restart loses queued alerts; enable appendonly yes',
    ]);
    expect(lines.filter((l) => l.level === 40)).toHaveLength(2);
    r.disconnect();
  });

  it('speaks RESP2 on command and blocking connections (ioredis 6 would otherwise ask for RESP3)', async () => {
    for (const blocking of [false, true]) {
      const r = connect({ url: redisUrl() }, { blocking });
      expect(await r.client('INFO')).toMatch(/ resp=2\b/);
      r.disconnect();
    }
  });
});
