/**
 * The per-change claim of the write-back queue, on a real Redis: while one replica's claim runs, another gets `busy`
 * and cannot record (so cannot send) a PATCH; once the claim ran out, the other takes the change over and the first
 * can no longer send anything for it. With the source lease, this is what keeps one PATCH per change when a replica
 * that lost its lease is still working.
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
    expect(await q.enqueue([{ id: 'c1', change, requestedBy: 'test', requestedAt: 'now' }])).toEqual([true]);
    expect(await q.enqueue([{ id: 'c1', change, requestedBy: 'test', requestedAt: 'now' }])).toEqual([false]);

    expect(await q.claim('c1', 'A', 300)).toBe('queued');
    expect(await q.claim('c1', 'B', 300)).toBe('busy');
    expect(await q.mark('c1', 'patch_sent', 'B', 300)).toBe(false);
    expect(await q.mark('c1', 'patch_sent', 'A', 300)).toBe(true);
    expect((await q.get('c1'))!.patchSent).toBe(true);

    // A goes silent: once its claim ran out, B takes the change over (resuming it), and A can send nothing more.
    const took = await waitFor(async () => ((await q.claim('c1', 'B', 60_000)) === 'applying' ? true : undefined), {
      intervalMs: 50,
      what: "A's claim running out",
    });
    expect(took).toBe(true);
    expect(await q.mark('c1', 'comment_sent', 'A', 300)).toBe(false);
    expect(await q.claim('c1', 'A', 300)).toBe('busy');
    expect((await q.get('c1'))!.attempts).toBe(2);
  });
});
