/**
 * `/metrics` serves queue depths from a cache refreshed in the background, so a scrape neither blocks Redis (the
 * inbox count used to XRANGE up to 100,000 entries in one Lua call: 80–110 ms of a blocked Redis on a big backlog)
 * nor waits on a slow Redis for longer than a bound. Own redis-server: DEBUG SLEEP stalls the whole server.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { INBOX_COUNT_MAX } from '../../src/pipeline/pipeline.js';
import { startRedisServer, type RedisServer } from '../../src/util/redis-server.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { metricValue, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

let server: RedisServer | undefined;
let tp: TestPipeline | undefined;
let other: Redis | undefined;
afterEach(async () => {
  other?.disconnect();
  await tp?.close();
  await server?.stop();
  tp = server = other = undefined;
});

/** Calls Redis has served, all commands together (INFO commandstats). */
async function commandsServed(r: Redis): Promise<Record<string, number>> {
  const stats = await r.info('commandstats');
  const n: Record<string, number> = {};
  for (const m of stats.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) if (m[1] !== 'info') n[m[1]!] = Number(m[2]);
  return n;
}

describe('queue depth metrics', () => {
  it('are read with a bounded count, and served from a cache between refreshes', async () => {
    server = await startRedisServer({ args: ['--appendonly', 'no', '--enable-debug-command', 'yes'] });
    tp = await startTestPipeline([{ sink: new RecordingSink('s') }], {
      redisUrl: server.url,
      consume: false,
      depthRefreshMs: 60_000,
    });
    // A backlog beyond the bound: entries the (stopped) dispatcher has not read.
    const fill = tp.redis.pipeline();
    for (let i = 0; i < INBOX_COUNT_MAX + 500; i++) fill.xadd(tp.pipeline.keys.inbox(0), '*', 'b', `batch${i}`);
    await fill.exec();
    expect(INBOX_COUNT_MAX).toBeLessThanOrEqual(10_000);

    const inbox = () => metricValue(tp!.metrics, 'alertbridge_queue_depth', { queue: 'inbox' });
    expect(await inbox()).toBe(INBOX_COUNT_MAX); // saturates at the bound: a metric, not a census
    await tp.metrics.registry.metrics(); // the first scrape reads the dead-letter counts too
    const before = await commandsServed(tp.redis);
    await tp.metrics.registry.metrics();
    await tp.metrics.registry.metrics();
    expect(await commandsServed(tp.redis)).toEqual(before); // two scrapes within the refresh period: no Redis call
  });

  it('a scrape while Redis is stalled answers with the last figures', async () => {
    server = await startRedisServer({ args: ['--appendonly', 'no', '--enable-debug-command', 'yes'] });
    tp = await startTestPipeline([{ sink: new RecordingSink('s') }], {
      redisUrl: server.url,
      consume: false,
      depthRefreshMs: 1,
    });
    await tp.redis.xadd(tp.pipeline.keys.inbox(0), '*', 'b', 'batch0');
    expect(await metricValue(tp.metrics, 'alertbridge_queue_depth', { queue: 'inbox' })).toBe(1);

    other = new Redis(server.url);
    let asleep = true;
    const sleeping = other.debug('SLEEP', 10).finally(() => (asleep = false));
    await new Promise((r) => setTimeout(r, 200)); // the DEBUG SLEEP reaches Redis
    const text = await tp.metrics.registry.metrics();
    expect(asleep).toBe(true); // answered while Redis was still stalled
    expect(text).toMatch(/^alertbridge_queue_depth\{queue="inbox"\} 1$/m);
    await sleeping;
  }, 30_000);
});
