/**
 * The replica heartbeat that `alertbridge status` reads: written at start, rewritten at once when a sink's state
 * changes (not only at the periodic beat), removed on stop; the reader lists only heartbeats that have not expired.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { HeartbeatWriter, readHeartbeats, type SinkHeartbeat } from '../../src/pipeline/heartbeat.js';
import { keysFor } from '../../src/pipeline/keys.js';
import { silentLogger } from '../helpers/pipeline.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const prefix = uniquePrefix('heartbeat');
const keys = keysFor(prefix);
const redis = new Redis(redisUrl());
afterAll(async () => {
  await deletePrefix(prefix);
  redis.disconnect();
});

describe('replica heartbeat', () => {
  it('says a sink paused well before the next periodic beat, and is gone once the replica stops', async () => {
    const sinks: Record<string, SinkHeartbeat> = { out: { ready: true, reason: null } };
    // TTL 60 s: the periodic beat comes every 20 s; the change must show sooner than that.
    const writer = new HeartbeatWriter(redis, keys, 'replica-a', 60_000, () => ({ ...sinks }), silentLogger);
    writer.start();
    try {
      const first = await waitFor(async () => (await readHeartbeats(redis, keys))[0], { what: 'the first heartbeat' });
      expect(first).toMatchObject({ replica: 'replica-a', pid: process.pid, sinks: { out: { ready: true } } });
      expect(await redis.pttl(keys.replicaHeartbeat('replica-a'))).toBeGreaterThan(50_000);

      sinks.out = { ready: false, reason: 'token refused' };
      await waitFor(async () => (await readHeartbeats(redis, keys))[0]?.sinks.out?.ready === false, {
        timeoutMs: 10_000,
        what: 'the paused sink in the heartbeat',
      });
      expect((await readHeartbeats(redis, keys))[0]!.sinks.out).toEqual({ ready: false, reason: 'token refused' });
    } finally {
      await writer.stop();
    }
    expect(await readHeartbeats(redis, keys)).toEqual([]);
    expect(await redis.zscore(keys.replicas, 'replica-a')).toBeNull();
  });

  it('lists only heartbeats that have not expired, and skips what is not one', async () => {
    await redis.zadd(keys.replicas, Date.now(), 'expired', Date.now(), 'garbage', Date.now(), 'live');
    await redis.set(keys.replicaHeartbeat('garbage'), 'not json', 'PX', 60_000);
    await redis.set(
      keys.replicaHeartbeat('live'),
      JSON.stringify({ replica: 'live', host: 'h', pid: 1, started_at: 'x', at: 'y', sinks: {} }),
      'PX',
      60_000,
    );
    expect((await readHeartbeats(redis, keys)).map((h) => h.replica)).toEqual(['live']);
  });
});
