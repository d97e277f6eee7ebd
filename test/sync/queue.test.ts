/**
 * The per-change claim of the write-back queue, on a real Redis: while one replica's claim runs, another gets `busy`
 * and cannot record (so cannot send) a PATCH; once the claim ran out, the other takes the change over and the first
 * can no longer send anything for it. Claims, marks and reads are fenced by the source's lease: a replica that lost
 * it starts, sends and reads nothing more, and the new holder gets the oldest unfinished entries first, including
 * those the old holder had read. This is what keeps one PATCH per change, in the order accepted, across takeovers.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { SyncQueue, syncKeys } from '../../src/sync/queue.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const prefix = uniquePrefix('sync-queue');
const redis = new Redis(redisUrl());
afterAll(async () => {
  redis.disconnect();
  await deletePrefix(prefix);
});

describe('SyncQueue claims', () => {
  it('lets one owner at a time record a request going out', async () => {
    const q = new SyncQueue(redis, syncKeys(prefix, 's'));
    const change = { resource: 'alerts_v2' as const, id: 'a1', status: 'resolved' };
    // The lease is A's, then (A's lease ran out) B's.
    await redis.set(q.keys.lease, 'A');
    expect(await q.enqueue([{ id: 'c1', change, requestedBy: 'test', requestedAt: 'now' }])).toEqual([true]);
    expect(await q.enqueue([{ id: 'c1', change, requestedBy: 'test', requestedAt: 'now' }])).toEqual([false]);

    expect(await q.claim('c1', 'A', 300)).toBe('queued');
    expect(await q.claim('c1', 'B', 300)).toBe('lost'); // B does not hold the lease
    expect(await q.mark('c1', 'patch_sent', 'B', 300)).toBe(false);
    expect(await q.mark('c1', 'patch_sent', 'A', 300)).toBe(true);
    expect((await q.get('c1'))!.patchSent).toBe(true);

    // A goes silent and its lease runs out: B holds it now, but A's claim still runs (its PATCH may be on the way).
    await redis.set(q.keys.lease, 'B');
    expect(await q.mark('c1', 'comment_sent', 'A', 300)).toBe(false);
    expect(await q.claim('c1', 'B', 60_000)).toBe('busy');
    // Once A's claim ran out, B takes the change over (resuming it), and A can send nothing more.
    const took = await waitFor(async () => ((await q.claim('c1', 'B', 60_000)) === 'applying' ? true : undefined), {
      intervalMs: 50,
      what: "A's claim running out",
    });
    expect(took).toBe(true);
    expect(await q.mark('c1', 'comment_sent', 'A', 300)).toBe(false);
    expect(await q.claim('c1', 'A', 300)).toBe('lost');
    expect((await q.get('c1'))!.attempts).toBe(2);
  });

  it('gives the lease holder the oldest unfinished entries first, also those another replica read', async () => {
    const q = new SyncQueue(redis, syncKeys(prefix, 't'));
    const change = (id: string) => ({ resource: 'alerts_v2' as const, id, status: 'resolved' });
    await q.enqueue(['c1', 'c2'].map((id) => ({ id, change: change(id), requestedBy: 'test', requestedAt: 'now' })));
    expect(await q.take('A', 20)).toBe('lost');
    await redis.set(q.keys.lease, 'A');
    const first = await q.take('A', 20);
    if (first === 'lost') throw new Error('lost');
    expect(first.entries.map((e) => e.changeId)).toEqual(['c1', 'c2']);
    // A loses the lease to B (A still has c1 and c2 pending); c3 is queued; A can read nothing more.
    await redis.set(q.keys.lease, 'B');
    await q.enqueue([{ id: 'c3', change: change('c3'), requestedBy: 'test', requestedAt: 'now' }]);
    expect(await q.take('A', 20)).toBe('lost');
    const second = await q.take('B', 20);
    if (second === 'lost') throw new Error('lost');
    expect(second.entries.map((e) => e.changeId)).toEqual(['c1', 'c2']);
    // Once those are finished, the new one; with nothing left, the id to wait after (the newest one queued).
    for (const e of second.entries) await q.ack(e.entryId);
    const third = await q.take('B', 20);
    if (third === 'lost') throw new Error('lost');
    expect(third.entries.map((e) => e.changeId)).toEqual(['c3']);
    await q.ack(third.entries[0]!.entryId);
    const empty = await q.take('B', 20);
    if (empty === 'lost') throw new Error('lost');
    expect(empty.entries).toEqual([]);
    expect(empty.last).toBe(third.entries[0]!.entryId);
  });
});
