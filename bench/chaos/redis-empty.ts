/**
 * Redis restarted empty in the middle of a stream: `kill -9`, its data folder wiped (as a restart without AOF, or a
 * failover to an empty node, would leave it), started again on the same port. What was queued in the old Redis is
 * gone with it; what alertbridge must do is carry on by itself: every record acknowledged after Redis came back must
 * reach the sink (the consumer groups are recreated on NOGROUP), and `/readyz` must be 503 while Redis is down.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../lib/daemon.js';
import { graphAlerts } from '../lib/records.js';
import { startBenchRedis } from '../lib/redis.js';
import { sleep, until } from '../lib/stats.js';
import { DeliveryCounter } from '../lib/tail.js';
import { PushSender, pushConfig, tally, type ChaosResult, type ScenarioOptions } from './common.js';

export async function redisEmpty(
  o: ScenarioOptions & { records?: number; downMs?: number } = {},
): Promise<ChaosResult> {
  const n = o.records ?? 50_000;
  const downMs = o.downMs ?? 3000;
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-chaos-empty-'));
  const redis = await startBenchRedis();
  const out = join(dir, 'out.ndjson');
  const daemon = await startDaemon({
    config: pushConfig(
      redis.url,
      'empty',
      `  - { name: out, type: file, path: "${out}", batch: { max_records: 100 } }`,
    ),
    dir,
    name: 'redis-empty',
    runtime: o.runtime ?? 'tsx',
  });
  const alerts = graphAlerts(n, o.seed ?? 13);
  const counter = new DeliveryCounter([out]);
  const sender = new PushSender(() => daemon.port);
  try {
    let sending = true;
    const stream = sender.send(alerts).finally(() => (sending = false));
    while (sending && sender.acked.size < n / 2) await sleep(5);
    counter.poll();
    const at = `at ${sender.acked.size} acked / ${counter.distinct} delivered`;
    await redis.kill();
    for (const f of readdirSync(redis.dir)) rmSync(join(redis.dir, f), { recursive: true, force: true });
    const down = await daemon.get('/readyz');
    await sleep(downMs);
    // Acknowledged so far: written to the Redis that is gone (a 202 in flight at the kill arrives within this pause).
    const before = new Set(sender.acked);
    await redis.restart();
    const empty = (await redis.client.dbsize()) === 0;
    await stream;
    const after = [...sender.acked].filter((id) => !before.has(id));
    log(`redis wiped and restarted ${at}; ${after.length} acked after`);
    await until(
      () => {
        counter.poll();
        return after.every((id) => counter.seen.has(id));
      },
      120_000,
      250,
    );
    const ready = await daemon.get('/readyz');
    const alive = daemon.alive();
    await daemon.stop();
    counter.close();
    const lostWithRedis = [...before].filter((id) => !counter.seen.has(id)).length;
    const notes = [
      `redis-server kill -9, data wiped, restarted empty after ${downMs / 1000} s ${at}`,
      `/readyz ${down.status} while Redis was down, ${ready.status} after`,
      `${lostWithRedis} of ${before.size} records acknowledged before the wipe were still queued in the old Redis and went with its data (not counted)`,
      `${sender.refusals} refused or unanswered requests re-sent`,
      alive ? 'the daemon stayed up throughout' : 'THE DAEMON EXITED',
    ];
    const result = tally(
      `Redis restarted empty (data wiped) during ${n.toLocaleString('en-US')} records: records acknowledged after`,
      after,
      counter.seen,
      (Date.now() - t0) / 1000,
      notes,
    );
    if (!alive) result.problems.push('the daemon exited');
    if (!empty) result.problems.push('Redis did not come back empty');
    if (down.status !== 503) result.problems.push(`/readyz answered ${down.status} while Redis was down`);
    if (ready.status !== 200) result.problems.push(`/readyz answered ${ready.status} after delivery resumed`);
    return result;
  } finally {
    counter.close();
    await daemon.kill();
    await sender.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
