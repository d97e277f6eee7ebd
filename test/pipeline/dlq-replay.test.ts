/**
 * `dlq replay` takes dead letters atomically: two replays of one sink at once queue each record exactly once (they
 * used to read the same head, queue it twice, and trim twice as much: 300 queued twice, 200 lost), and a replay
 * that dies in the middle loses nothing — what it had taken is queued by the next replay or daemon start.
 */
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../src/pipeline/dead-letter.js';
import type { SinkJobData } from '../../src/pipeline/sink-worker.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { pipelinesPerTest, type TestPipeline } from '../helpers/pipeline.js';
import { records } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';

const start = pipelinesPerTest();

async function seed(tp: TestPipeline, sink: string, n: number): Promise<void> {
  const entries: DeadLetter[] = records(n).map((record) => ({
    record,
    sink,
    error: 'down',
    attempts: 3,
    failed_at: new Date().toISOString(),
  }));
  await tp.pipeline.deadLetters.add(sink, entries, 100_000);
}

/** Every record in the sink's queued jobs, with how often. */
async function queued(tp: TestPipeline, sink: string): Promise<Map<string, number>> {
  const queue = new Queue<SinkJobData>(tp.pipeline.keys.sinkQueue(sink), { connection: tp.redis, prefix: tp.prefix });
  try {
    const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized', 'active']);
    const seen = new Map<string, number>();
    for (const job of jobs) for (const r of job.data.records ?? []) seen.set(r.key, (seen.get(r.key) ?? 0) + 1);
    return seen;
  } finally {
    await queue.close();
  }
}

describe('dlq replay', () => {
  it('two replays of one sink at once queue each of 500 dead letters exactly once', async () => {
    const sink = new RecordingSink('s');
    const a = await start([{ sink, maxRecords: 10 }], { consume: false });
    // Another process, as far as Redis can tell: its own connections, the same prefix.
    const b = await start([{ sink: new RecordingSink('s'), maxRecords: 10 }], { prefix: a.prefix, consume: false });
    await seed(a, 's', 500);
    const [ra, rb] = await Promise.all([a.pipeline.replay('s'), b.pipeline.replay('s')]);
    expect(ra + rb).toBe(500);
    const seen = await queued(a, 's');
    expect(seen.size).toBe(500);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(await a.pipeline.deadLetters.count('s')).toBe(0);
  });

  it('a replay that died after taking a chunk: the next daemon start queues it, and each record is delivered once', async () => {
    const idle = await start([{ sink: new RecordingSink('s'), maxRecords: 10 }], { consume: false });
    await seed(idle, 's', 30);
    // A replay takes a chunk and dies before queueing it; its lock expires.
    const dead = (await idle.pipeline.deadLetters.replay('s'))!;
    expect((await dead.take(10)).entries).toHaveLength(10);
    await idle.redis.pexpire(`${idle.pipeline.keys.replaying('s')}:lock`, 1);
    await waitFor(async () => (await idle.redis.exists(`${idle.pipeline.keys.replaying('s')}:lock`)) === 0);

    const sink = new RecordingSink('s');
    const daemon = await start([{ sink, maxRecords: 10 }], { prefix: idle.prefix });
    await waitFor(() => sink.received.length >= 10, { what: 'the dead replay chunk delivered' });
    expect(await daemon.redis.llen(daemon.pipeline.keys.replaying('s'))).toBe(0);
    expect(await daemon.pipeline.replay('s')).toBe(20);
    await waitFor(() => sink.received.length >= 30, { what: 'the rest delivered' });
    await waitFor(() => daemon.pipeline.idle());
    expect(sink.received).toHaveLength(30);
    expect(new Set(sink.keys()).size).toBe(30);
  });
});
