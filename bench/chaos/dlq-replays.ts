/**
 * Two `alertbridge dlq replay` runs of one sink at once while the daemon delivers: every dead letter must reach the
 * sink exactly once (two runs used to queue the same head twice and trim twice as much: records duplicated and lost).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DeadLetterStore, type DeadLetter } from '../../src/pipeline/dead-letter.js';
import { keysFor } from '../../src/pipeline/keys.js';
import { ensureBuild, startDaemon, type Runtime } from '../lib/daemon.js';
import { ROOT } from '../lib/paths.js';
import { graphAlerts, identity, toRecords } from '../lib/records.js';
import { startBenchRedis } from '../lib/redis.js';
import { until } from '../lib/stats.js';
import { DeliveryCounter } from '../lib/tail.js';
import { pushConfig, tally, type ChaosResult, type ScenarioOptions } from './common.js';

function dlqReplay(runtime: Runtime, config: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const entry = runtime === 'dist' ? [ensureBuild()] : ['--import', 'tsx', join(ROOT, 'src', 'main.ts')];
  const child = spawn(process.execPath, [...entry, 'dlq', 'replay', '--config', config, '--sink', 'out'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

export async function dlqReplays(o: ScenarioOptions & { records?: number } = {}): Promise<ChaosResult> {
  const n = o.records ?? 20_000;
  const runtime = o.runtime ?? 'tsx';
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-chaos-dlq-'));
  const redis = await startBenchRedis();
  const out = join(dir, 'out.ndjson');
  const config = pushConfig(
    redis.url,
    'dlq',
    `  - { name: out, type: file, path: "${out}", batch: { max_records: 100 } }`,
  );
  const daemon = await startDaemon({ config, dir, name: 'dlq-replays', runtime });
  const counter = new DeliveryCounter([out]);
  const conn = new Redis(redis.url);
  try {
    const records = toRecords(graphAlerts(n, o.seed ?? 17), 'push', 'push');
    const store = new DeadLetterStore(conn, keysFor('dlq'));
    const failedAt = new Date().toISOString();
    for (let i = 0; i < n; i += 1000) {
      await store.add(
        'out',
        records.slice(i, i + 1000).map((record): DeadLetter => ({
          record,
          sink: 'out',
          error: 'chaos: seeded',
          attempts: 10,
          failed_at: failedAt,
        })),
        n,
      );
    }
    const cliConfig = join(dir, 'replay.yaml');
    writeFileSync(cliConfig, config.replaceAll('${PORT}', '0'));
    const runs = await Promise.all([dlqReplay(runtime, cliConfig), dlqReplay(runtime, cliConfig)]);
    const replayed = runs.map((r) =>
      r.code === 0 ? (JSON.parse(r.stdout) as { replayed: number }).replayed : Number.NaN,
    );
    log(`two replays at once: ${replayed.join(' + ')} replayed`);
    const expected = records.map(identity);
    await until(
      () => {
        counter.poll();
        return expected.every((id) => counter.seen.has(id));
      },
      120_000,
      250,
    ).catch(() => undefined);
    await until(
      async () => (await daemon.get('/metrics')).body.includes('alertbridge_queue_depth{queue="sink:out"} 0'),
      30_000,
      250,
    ).catch(() => undefined);
    const left = await store.count('out');
    const alive = daemon.alive();
    await daemon.stop();
    counter.close();
    const result = tally(
      `two dlq replays of one sink at once, ${n.toLocaleString('en-US')} dead letters`,
      expected,
      counter.seen,
      (Date.now() - t0) / 1000,
      [
        `replayed ${replayed.join(' + ')} = ${replayed.reduce((a, b) => a + b, 0)}`,
        `${left} left in the dead-letter queue`,
      ],
    );
    runs.forEach((r, i) => {
      if (r.code !== 0) result.problems.push(`replay ${i + 1} exited ${r.code}: ${r.stderr.slice(-300)}`);
    });
    if (replayed.reduce((a, b) => a + b, 0) !== n)
      result.problems.push(`the replays report ${replayed.join(' + ')}, not ${n}`);
    if (left) result.problems.push(`${left} dead letters left`);
    if (result.duplicated) result.problems.push(`${result.duplicated} records delivered twice`);
    if (!alive) result.problems.push('the daemon exited');
    return result;
  } finally {
    counter.close();
    conn.disconnect();
    await daemon.kill();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
