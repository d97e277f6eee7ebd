/**
 * `alertbridge dlq replay` killed (-9) in the middle: nothing is lost and nothing is queued twice. The next replay
 * (once the dead one's lock expired) queues what the dead one had taken, under the job id it had meant for it, and
 * then the rest.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { DeadLetterStore, type DeadLetter } from '../../src/pipeline/dead-letter.js';
import { keysFor } from '../../src/pipeline/keys.js';
import type { SinkJobData } from '../../src/pipeline/sink-worker.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { records } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'ab-dlq-kill-'));
const prefix = uniquePrefix('dlqkill');
const redis = new Redis(redisUrl());
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await deletePrefix(prefix);
  redis.disconnect();
});

const N = 3000;

describe('alertbridge dlq replay, killed in the middle', () => {
  it('loses nothing and queues each dead letter once when the next replay finishes the job', async () => {
    const config = join(dir, 'config.yaml');
    // One record per job: thousands of steps, so the kill lands in the middle.
    writeFileSync(
      config,
      `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
sources:
  - { name: feed, type: webhook, token: t0ken }
sinks:
  - { name: out, type: file, path: "${join(dir, 'out.ndjson')}", batch: { max_records: 1 } }
`,
    );
    const keys = keysFor(prefix);
    const store = new DeadLetterStore(redis, keys);
    const entries: DeadLetter[] = records(N).map((record) => ({
      record,
      sink: 'out',
      error: 'down',
      attempts: 3,
      failed_at: new Date().toISOString(),
    }));
    await store.add('out', entries, 100_000);

    const first = spawnCli(['dlq', 'replay', '--config', config, '--sink', 'out']);
    await waitFor(
      async () => {
        if (first.child.exitCode !== null) throw new Error(`replay ended before the kill: ${first.output()}`);
        return (await store.count('out')) < N - 200;
      },
      { timeoutMs: 60_000, intervalMs: 5, what: 'replay under way' },
    );
    first.child.kill('SIGKILL');
    await first.exited;
    const left = await store.count('out');
    expect(left).toBeGreaterThan(0);

    const second = await runCli(['dlq', 'replay', '--config', config, '--sink', 'out']);
    expect(second.code).toBe(0);
    const { replayed } = JSON.parse(second.stdout) as { replayed: number };
    expect(replayed).toBeGreaterThanOrEqual(left);
    expect(await store.count('out')).toBe(0);
    expect(await redis.llen(keys.replaying('out'))).toBe(0);

    const queue = new Queue<SinkJobData>(keys.sinkQueue('out'), { connection: redis, prefix });
    try {
      const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized', 'active']);
      const copies = new Map<string, number>();
      for (const job of jobs) for (const r of job.data.records ?? []) copies.set(r.key, (copies.get(r.key) ?? 0) + 1);
      expect(copies.size).toBe(N);
      expect([...copies.values()].filter((n) => n > 1)).toEqual([]);
    } finally {
      await queue.close();
    }
  }, 180_000);
});
