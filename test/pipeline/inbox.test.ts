import { Queue } from 'bullmq';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keysFor } from '../../src/pipeline/keys.js';
import { connect } from '../../src/pipeline/redis.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { inboxLength, pipelinesPerTest, type TestPipeline } from '../helpers/pipeline.js';
import { normalize } from '../../src/record/normalize.js';
import { decodeRoute, encodeRoute } from '../../src/pipeline/inbox.js';
import type { AlertRecord } from '../../src/record/types.js';
import { alertV2, record, records, recordsInOneShard } from '../helpers/records.js';
import { scanKeys, testRedisConfig } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

// The inbox keeps each accepted record once (a batch list) and the sink jobs refer to it (src/pipeline/inbox.ts).
// What must hold: every record reaches every sink that wants it, and once every job is done nothing is left behind.

const start = pipelinesPerTest();

/** Staging state left under a prefix: batch lists, reference sets, inbox entries. */
async function leftovers(tp: TestPipeline): Promise<{ batches: number; refs: number; inbox: number }> {
  const count = async (pattern: string) => (await scanKeys(pattern)).length;
  return {
    batches: await count(`${tp.prefix}:batch:*`),
    refs: await count(`${tp.prefix}:refs:*`),
    inbox: await inboxLength(tp.redis, keysFor(tp.prefix)),
  };
}

describe('inbox', () => {
  it('leaves nothing behind once every sink is done: a filter, split jobs, retries, dead letters', async () => {
    const all = new RecordingSink('all');
    const high = new RecordingSink('high');
    const flaky = new RecordingSink('flaky');
    flaky.failNext = 3;
    const isRejected = (id: string) => /7_test$/.test(id);
    flaky.rejects = (r) => isRejected(r.id);
    const tp = await start([
      { sink: all, maxRecords: 500 },
      { sink: high, maxRecords: 30, filter: { min_severity: 'high' } },
      { sink: flaky, maxRecords: 64 },
    ]);
    const batch = Array.from({ length: 1200 }, (_, i) => record(i, { severity: i % 3 === 0 ? 'high' : 'medium' }));
    await tp.pipeline.emit(batch.slice(0, 700));
    await tp.pipeline.emit(batch.slice(700));
    const wantHigh = batch.filter((r) => r.severity === 'high');
    const rejected = batch.filter((r) => isRejected(r.id));
    expect(wantHigh.length).toBeGreaterThan(0);
    expect(rejected.length).toBeGreaterThan(0);
    await waitFor(
      async () =>
        all.received.length >= 1200 &&
        high.received.length >= wantHigh.length &&
        flaky.received.length >= 1200 - rejected.length &&
        (await tp.pipeline.deadLetters.count('flaky')) >= rejected.length,
      { what: 'all sinks', timeoutMs: 30_000 },
    );
    await waitFor(() => tp.pipeline.idle(), { what: 'pipeline idle' });
    expect(new Set(all.keys())).toEqual(new Set(batch.map((r) => `${r.key}@${r.revision}`)));
    expect(all.received).toHaveLength(1200);
    expect(new Set(high.keys())).toEqual(new Set(wantHigh.map((r) => `${r.key}@${r.revision}`)));
    expect(high.received).toHaveLength(wantHigh.length);
    expect(flaky.received).toHaveLength(1200 - rejected.length);
    expect((await tp.pipeline.deadLetters.list('flaky', 0, 2000)).map((d) => d.record.id).sort()).toEqual(
      rejected.map((r) => r.id).sort(),
    );
    // Delivered records are whole: the Graph object came back from its stored text.
    expect(all.received.find((r) => r.id === batch[5]!.id)!.data).toEqual(batch[5]!.data);
    await waitFor(async () => (await leftovers(tp)).batches === 0, { what: 'batches released' });
    expect(await leftovers(tp)).toEqual({ batches: 0, refs: 0, inbox: 0 });
  });

  it('takes over entries of a dispatcher that died between registering its jobs and queueing them', async () => {
    const sink = new RecordingSink('s');
    // Records staged while no dispatcher runs.
    const producer = await start([{ sink: new RecordingSink('s') }], { consume: false });
    const batch = records(300);
    await producer.pipeline.emit(batch);
    // A dispatcher reads the entry and registers a member for a job it never queues, then dies.
    const keys = keysFor(producer.prefix);
    const redis = connect(testRedisConfig());
    try {
      const read = (await redis.xreadgroup(
        'GROUP',
        keys.inboxGroup,
        'dead-replica',
        'COUNT',
        10,
        'STREAMS',
        keys.inbox(0),
        '>',
      )) as Array<[string, Array<[string, string[]]>]>;
      const entryId = read[0]![1][0]![0];
      await redis.sadd(keys.batchRefs(0, entryId), 's|never-queued');
    } finally {
      redis.disconnect();
    }
    // Another replica takes it over after takeover_ms, delivers everything, and the orphan does not pin the batch.
    const consumer = await start([{ sink }], { prefix: producer.prefix, takeoverMs: 1000 });
    await waitFor(() => sink.received.length >= 300, { what: 'taken-over records', timeoutMs: 30_000 });
    await waitFor(async () => (await leftovers(consumer)).batches === 0, { what: 'batch released', timeoutMs: 15_000 });
    expect(new Set(sink.keys()).size).toBe(300);
    expect(await leftovers(consumer)).toEqual({ batches: 0, refs: 0, inbox: 0 });
  });

  it('reads every shard: a backlog in one inbox shard does not hold up a record staged in another', async () => {
    const sink = new RecordingSink('s');
    // While no dispatcher runs: 300 entries in shard 0 (one per emit), then one record in shard 1.
    const producer = await start([{ sink: new RecordingSink('s') }], { consume: false });
    const backlog = recordsInOneShard(1500, {}, 0);
    for (let i = 0; i < backlog.length; i += 5) await producer.pipeline.emit(backlog.slice(i, i + 5));
    const [other] = recordsInOneShard(1, {}, 1);
    await producer.pipeline.emit([other!]);
    // A dispatcher reads 10 entries a round: shard 0's backlog takes 30 rounds, shard 1's record its first.
    await start([{ sink, maxRecords: 100 }], { prefix: producer.prefix });
    await waitFor(() => sink.received.length >= 1501, { what: 'everything', timeoutMs: 60_000 });
    const at = sink.received.findIndex((r) => r.key === other!.key);
    expect(at).toBeGreaterThanOrEqual(0);
    // Delivered while most of shard 0's backlog still waited (a dispatcher draining shard 0 first: at 1500).
    expect(at).toBeLessThan(750);
  });

  it('completes a job whose records were already released (taken over after it finished) without sending', async () => {
    const sink = new RecordingSink('s');
    const tp = await start([{ sink }]);
    const connection = connect(testRedisConfig(), { blocking: true });
    const queue = new Queue(tp.pipeline.keys.sinkQueue('s'), { connection, prefix: tp.prefix });
    try {
      await queue.add(
        'deliver',
        { refs: [['1-0', 'gone', [0, 1, 2]]], attempt: 0 },
        { jobId: 'replayed-after-release' },
      );
      await waitFor(
        async () =>
          (await queue.getJobCounts('completed', 'waiting', 'active', 'delayed', 'failed')).waiting === 0 &&
          (await queue.getJobCounts('active')).active === 0,
        { what: 'job done' },
      );
      expect(await queue.getJobCounts('failed', 'delayed')).toEqual({ failed: 0, delayed: 0 });
      expect(sink.calls).toHaveLength(0);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  it('routes a record by its own fields whatever control characters they hold', async () => {
    const good = new RecordingSink('good');
    const evil = new RecordingSink('evil');
    const ipc = new RecordingSink('ipc');
    const tp = await start([
      { sink: good, filter: { sources: ['good'] } },
      { sink: evil, filter: { sources: ['evil'] } },
      { sink: ipc, filter: { providers: ['IPC'] } },
    ]);
    const hostile = [
      'x\x1fgood',
      'x\x1fhigh\x1falerts\x1fIPC\x1fgood',
      '\x1f\x1f\x1f',
      'IPC\x1f',
      '%1Fgood',
      '%',
      '\x00\x1e\x1f\x7f\u2028\n\r\t',
      '',
    ];
    const made = hostile.map((provider, i) => {
      const res = normalize('alerts_v2', alertV2(i, { provider, tenant: `t\x1f${provider}\x00` }), {
        source: 'evil',
        via: 'push',
      });
      if (!res.ok) throw new Error(res.reason);
      return res.record;
    });
    const ipcRecord = record(99, { provider: 'IPC', source: 'good' });
    expect((await tp.pipeline.emit([...made, ipcRecord])).accepted).toBe(made.length + 1);
    await waitFor(() => evil.received.length >= made.length && good.received.length >= 1 && ipc.received.length >= 1);
    await waitFor(() => tp.pipeline.idle());
    expect(evil.received.map((r) => r.provider).sort()).toEqual(made.map((r) => r.provider).sort());
    expect(good.received.map((r) => r.key)).toEqual([ipcRecord.key]);
    expect(ipc.received.map((r) => r.key)).toEqual([ipcRecord.key]);
    for (const r of [...made, ipcRecord])
      expect(decodeRoute(encodeRoute(r))).toEqual({
        severity: r.severity,
        resource: r.resource,
        provider: r.provider,
        source: r.source,
      } satisfies Partial<AlertRecord>);
  });

  it('decodes every encoded route to the fields it was made of', () => {
    const field = fc.oneof(
      fc.string(),
      fc.array(fc.constantFrom('%', '\x1f', '1', 'F', '2', '5', 'a')).map((c) => c.join('')),
      fc.string({ unit: 'binary' }),
    );
    fc.assert(
      fc.property(field, field, field, field, (severity, resource, provider, source) => {
        const route = { severity, resource, provider, source } as Parameters<typeof encodeRoute>[0];
        expect(decodeRoute(encodeRoute(route))).toEqual(route);
      }),
      { numRuns: 2000 },
    );
  });
});
