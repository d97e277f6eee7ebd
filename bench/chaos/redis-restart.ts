/**
 * Redis killed (`kill -9`, AOF with appendfsync everysec, as `startRedisServer` runs it) in the middle of a stream,
 * then started again on the same port and data folder after a pause: the daemon answers 503 meanwhile, the sender
 * re-sends, and every acknowledged record must reach the file sink.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../lib/daemon.js';
import { graphAlerts } from '../lib/records.js';
import { startBenchRedis } from '../lib/redis.js';
import { sleep, until } from '../lib/stats.js';
import { DeliveryCounter } from '../lib/tail.js';
import { PushSender, pushConfig, tally, type ChaosResult, type ScenarioOptions } from './common.js';

export async function redisRestart(
  o: ScenarioOptions & { records?: number; downMs?: number; restarts?: number } = {},
): Promise<ChaosResult> {
  const n = o.records ?? 50_000;
  const downMs = o.downMs ?? 5000;
  const restarts = o.restarts ?? 2;
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-chaos-redis-'));
  const redis = await startBenchRedis();
  const out = join(dir, 'out.ndjson');
  const daemon = await startDaemon({
    config: pushConfig(
      redis.url,
      'redis',
      `  - { name: out, type: file, path: "${out}", batch: { max_records: 100 } }`,
    ),
    dir,
    name: 'redis-restart',
    runtime: o.runtime ?? 'tsx',
  });
  const alerts = graphAlerts(n, o.seed ?? 11);
  const counter = new DeliveryCounter([out]);
  const sender = new PushSender(() => daemon.port);
  try {
    let sending = true;
    const stream = sender.send(alerts).finally(() => (sending = false));
    const events: string[] = [];
    for (let i = 1; i <= restarts; i++) {
      const mark = Math.floor((i / (restarts + 1)) * n);
      while (sending && sender.acked.size < mark) await sleep(5);
      if (!sending) break;
      counter.poll();
      events.push(`at ${sender.acked.size} acked / ${counter.distinct} delivered`);
      await redis.kill();
      await sleep(downMs);
      await redis.restart();
    }
    await stream;
    log(`redis killed and restarted ${events.join('; ')}`);
    await until(
      () => {
        counter.poll();
        return [...sender.acked].every((id) => counter.seen.has(id));
      },
      120_000,
      250,
    );
    const alive = daemon.alive();
    await daemon.stop();
    counter.close();
    const notes = [
      `redis-server kill -9 + restart after ${downMs / 1000} s, ${events.length} × (${events.join('; ')})`,
      `${sender.refusals} refused or unanswered requests re-sent`,
      alive ? 'the daemon stayed up throughout' : 'THE DAEMON EXITED',
    ];
    const result = tally(
      `Redis kill -9 + restart (AOF) × ${restarts} during ${n.toLocaleString('en-US')} records`,
      sender.acked,
      counter.seen,
      (Date.now() - t0) / 1000,
      notes,
    );
    if (!alive) result.problems.push('the daemon exited while Redis was down');
    return result;
  } finally {
    counter.close();
    await daemon.kill();
    await sender.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
