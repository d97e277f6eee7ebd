/**
 * `kill -9` of the daemon at random moments of a stream of pushed alerts, then a restart each time: every record the
 * daemon acknowledged must reach the file sink (duplicates allowed and counted).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/util/redis-server.js';
import { startDaemon, type Daemon } from '../lib/daemon.js';
import { graphAlerts } from '../lib/records.js';
import { startBenchRedis } from '../lib/redis.js';
import { seeded, sleep, until } from '../lib/stats.js';
import { DeliveryCounter } from '../lib/tail.js';
import { PushSender, pushConfig, tally, type ChaosResult, type ScenarioOptions } from './common.js';

export async function killNine(o: ScenarioOptions & { records?: number; kills?: number } = {}): Promise<ChaosResult> {
  const n = o.records ?? 50_000;
  const kills = o.kills ?? 5;
  const seed = o.seed ?? 9;
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-chaos-kill9-'));
  const redis = await startBenchRedis();
  const out = join(dir, 'out.ndjson');
  const port = await freePort();
  const config = pushConfig(
    redis.url,
    'kill9',
    `  - { name: out, type: file, path: "${out}", batch: { max_records: 100 } }`,
  );
  const start = () => startDaemon({ config, dir, name: 'kill9', runtime: o.runtime ?? 'tsx', port });
  const alerts = graphAlerts(n, seed);
  const counter = new DeliveryCounter([out]);
  const sender = new PushSender(() => port);
  let daemon: Daemon = await start();
  try {
    // Kill moments: uniformly random points of the stream (by records acknowledged), plus a random few ms.
    const dice = seeded(seed);
    const at = Array.from({ length: kills }, () => Math.floor((0.05 + 0.9 * dice()) * n)).sort((a, b) => a - b);
    log(`kill -9 at ${at.join(', ')} acknowledged records (seed ${seed})`);
    let sending = true;
    const stream = sender.send(alerts).finally(() => (sending = false));
    const killed: string[] = [];
    for (const mark of at) {
      while (sending && sender.acked.size < mark) await sleep(5);
      if (!sending) break;
      await sleep(Math.floor(dice() * 50));
      counter.poll();
      killed.push(`${sender.acked.size} acked / ${counter.distinct} delivered`);
      await daemon.kill();
      daemon = await start();
    }
    await stream;
    log(`kills at: ${killed.join('; ')}`);
    await until(
      () => {
        counter.poll();
        return [...sender.acked].every((id) => counter.seen.has(id));
      },
      120_000,
      250,
    );
    await daemon.stop();
    counter.close();
    const notes = [
      `${killed.length} × kill -9 (${killed.join('; ')})`,
      `${sender.refusals} refused or unanswered requests re-sent`,
      `${counter.cut} records cut short by a kill (written again after restart)`,
    ];
    return tally(
      `kill -9 × ${kills} during ${n.toLocaleString('en-US')} records`,
      sender.acked,
      counter.seen,
      (Date.now() - t0) / 1000,
      notes,
    );
  } finally {
    counter.close();
    await daemon.kill();
    await sender.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
