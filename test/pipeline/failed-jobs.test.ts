/**
 * Jobs BullMQ gives up on (their processing itself kept failing — here a sink bug: a malformed send result — or
 * their worker kept dying) used to stay in BullMQ's failed set for good: no way back, and their staged batches were
 * never freed. They go to the dead-letter queue with their records and last error, and release their batches.
 */
import { describe, expect, it } from 'vitest';
import type { AlertRecord, SendResult } from '../../sinks/types.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { inboxLength, pipelinesPerTest, type TestPipeline } from '../helpers/pipeline.js';
import { records, recordsInOneShard } from '../helpers/records.js';
import { scanKeys } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const start = pipelinesPerTest();

/** A sink with a bug: it answers a SendResult without its `failed` list, which the pipeline cannot read. */
class MalformedSink extends RecordingSink {
  override async send(batch: readonly AlertRecord[]): Promise<SendResult> {
    await super.send(batch);
    return { failed: null } as unknown as SendResult;
  }
}

const failedJobs = (tp: TestPipeline, sink: string) =>
  tp.redis.zcard(`${tp.prefix}:${tp.pipeline.keys.sinkQueue(sink)}:failed`);
/** Keys left of staged batches: inbox entries, record lists and reference sets. */
async function staged(tp: TestPipeline): Promise<number> {
  const [batches, refs] = await Promise.all([scanKeys(`${tp.prefix}:batch:*`), scanKeys(`${tp.prefix}:refs:*`)]);
  return batches.length + refs.length + (await inboxLength(tp.redis, tp.pipeline.keys));
}

describe('jobs BullMQ gave up on', () => {
  it('are dead-lettered with their records and last error, and free their batches', async () => {
    const sink = new MalformedSink('s');
    const tp = await start([{ sink, maxRecords: 10 }], { jobAttempts: 2 });
    await tp.pipeline.emit(records(20));
    await waitFor(async () => (await tp.pipeline.deadLetters.count('s')) === 20, {
      timeoutMs: 30_000,
      what: 'dead letters',
    });
    const entries = await tp.pipeline.deadLetters.list('s', 0, 100);
    expect(new Set(entries.map((e) => e.record.key)).size).toBe(20);
    expect(entries[0]!.error).toMatch(/^failed outside delivery after 2 tries: Cannot read properties of null/);
    await waitFor(async () => (await staged(tp)) === 0, { what: 'batches released' });
    expect(await failedJobs(tp, 's')).toBe(0);
  });

  it('left in the failed set (the dead-letter queue could not be written): dead-lettered at the next start', async () => {
    const sink = new MalformedSink('s');
    const first = await start([{ sink, maxRecords: 10 }], { jobAttempts: 1 });
    // The dead-letter list is, for now, something else: writing to it fails.
    await first.redis.set(first.pipeline.keys.deadLetters('s'), 'not a list');
    await first.pipeline.emit(recordsInOneShard(10)); // one staged batch, one job
    await waitFor(async () => (await failedJobs(first, 's')) === 1, {
      timeoutMs: 30_000,
      what: 'job in the failed set',
    });
    await first.redis.del(first.pipeline.keys.deadLetters('s'));
    await first.close();

    const again = await start([{ sink: new RecordingSink('s'), maxRecords: 10 }], { prefix: first.prefix });
    await waitFor(async () => (await again.pipeline.deadLetters.count('s')) === 10, {
      timeoutMs: 30_000,
      what: 'dead-lettered at start',
    });
    await waitFor(async () => (await staged(again)) === 0, { what: 'batches released' });
    expect(await failedJobs(again, 's')).toBe(0);
  });
});
