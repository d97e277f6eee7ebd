/**
 * `npm run test:valkey` runs the pipeline suites, an end-to-end `alertbridge run` and this file with
 * ALERTBRIDGE_TEST_REDIS_SERVER pointing at a valkey-server (scripts/valkey.sh). This file proves that the run's server
 * really is Valkey (else the slice would silently test Redis again), and that alertbridge's checks of the server
 * accept it and name it: `alertbridge doctor` says "Valkey 8.1.8", not the Redis version it reports for compatibility.
 * Skipped in ordinary runs (redis-server).
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { redisChecks } from '../../src/cli/doctor-redis.js';
import { checkRedis } from '../../src/pipeline/redis.js';
import { captureLogger } from '../helpers/graph.js';
import { redisUrl } from '../helpers/redis.js';

const server = process.env.ALERTBRIDGE_TEST_REDIS_SERVER;
const onValkey = !!server && /valkey/.test(server);

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

async function withRedis<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(redisUrl());
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

describe.skipIf(!onValkey)('on Valkey (npm run test:valkey; skipped without ALERTBRIDGE_TEST_REDIS_SERVER)', () => {
  it('the run’s server is Valkey', async () => {
    const info = await withRedis((r) => r.info('server'));
    expect(infoField(info, 'server_name')).toBe('valkey');
    expect(infoField(info, 'valkey_version')).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('doctor passes its version and names it Valkey with its own version', async () => {
    const [info, checks] = await withRedis(async (r) => [
      await r.info('server'),
      await redisChecks(r, 10_000, (err) => String(err)),
    ]);
    const version = checks.find((c) => c.check === 'version');
    expect(version).toEqual({
      check: 'version',
      status: 'pass',
      detail: `Valkey ${infoField(info, 'valkey_version')}`,
    });
    expect(checks.every((c) => c.status === 'pass')).toBe(true);
  });

  it('the daemon’s start-up check accepts it without warnings', async () => {
    const { logger, lines } = captureLogger();
    const res = await withRedis((r) => checkRedis(r, logger));
    expect(res.warnings).toEqual([]);
    expect(lines).toEqual([]);
  });
});
