/**
 * A full Redis (`maxmemory` reached, `noeviction`) refuses a batch as a whole, whatever its first record is: the
 * dedup script's first command is the write Redis checks memory on. A batch that began with a duplicate used to
 * start with PEXPIRE (not a command Redis refuses when full), after which Redis let the script's every write past
 * maxmemory. The sender gets 503 with Retry-After and re-sends once Redis has room; nothing is half-written.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/server/server.js';
import { registerPushRoute } from '../../src/sources/push/route.js';
import { startRedisServer, type RedisServer } from '../../src/util/redis-server.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { inboxLength, silentLogger, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { alertV2, records } from '../helpers/records.js';

let server: RedisServer | undefined;
let tp: TestPipeline | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  await tp?.close();
  await server?.stop();
  tp = server = app = undefined;
});

/** Redis's own figure for a full Redis: maxmemory below what it uses already. */
const fill = (t: TestPipeline) => t.redis.config('SET', 'maxmemory', '1');
const makeRoom = (t: TestPipeline) => t.redis.config('SET', 'maxmemory', '0');

describe('a full Redis', () => {
  it('refuses a whole batch that begins with a duplicate: nothing staged, no dedup mark; accepted once there is room', async () => {
    server = await startRedisServer({ args: ['--appendonly', 'no'] });
    tp = await startTestPipeline([{ sink: new RecordingSink('s') }], { redisUrl: server.url, consume: false });
    const seen = records(5);
    expect((await tp.pipeline.emit(seen)).accepted).toBe(5);
    const inboxBefore = await inboxLength(tp.redis, tp.pipeline.keys);
    const keysBefore = await tp.redis.dbsize();

    await fill(tp);
    const batch = [seen[0]!, ...records(10, {}, 100)];
    await expect(tp.pipeline.emit(batch)).rejects.toThrow(/^OOM command not allowed/);
    expect(await inboxLength(tp.redis, tp.pipeline.keys)).toBe(inboxBefore);
    expect(await tp.redis.dbsize()).toBe(keysBefore);
    // Every first record fares alike: a new one was refused before too.
    await expect(tp.pipeline.emit(records(10, {}, 100))).rejects.toThrow(/^OOM/);

    await makeRoom(tp);
    expect(await tp.pipeline.emit(batch)).toMatchObject({ accepted: 10, duplicates: 1 });
  });

  it('push: 503 with Retry-After while Redis is full, 202 once it has room', async () => {
    server = await startRedisServer({ args: ['--appendonly', 'no'] });
    tp = await startTestPipeline([{ sink: new RecordingSink('s') }], { redisUrl: server.url, consume: false });
    const pipeline = tp.pipeline;
    app = buildServer({
      maxBodyBytes: 1 << 20,
      requestTimeoutMs: 5000,
      metrics: tp.metrics,
      logger: silentLogger,
      readiness: async () => ({}),
    });
    registerPushRoute(app, {
      sources: [{ name: 'partner', token: 'tok', hmac_replay_window_ms: 300_000 }],
      emit: (r) => pipeline.emit(r),
      logger: silentLogger,
    });
    await app.ready();
    const push = (items: unknown[]) =>
      app!.inject({
        method: 'POST',
        url: '/ingest/partner',
        payload: JSON.stringify(items),
        headers: { authorization: 'Bearer tok', 'content-type': 'application/json' },
      });
    expect((await push([alertV2(1)])).statusCode).toBe(202);
    await fill(tp);
    const full = await push([alertV2(1), alertV2(2), alertV2(3)]);
    expect(full.statusCode).toBe(503);
    expect(full.headers['retry-after']).toBe('5');
    expect(await inboxLength(tp.redis, pipeline.keys)).toBe(1);
    await makeRoom(tp);
    const again = await push([alertV2(1), alertV2(2), alertV2(3)]);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual({ accepted: 2, duplicates: 1 });
  });
});
