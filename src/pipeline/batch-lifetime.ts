/**
 * The lifetime of a staged batch: when its records may be deleted. One protocol, three actors, all of it here.
 *
 * A staged batch is a list of records (`batch:{id}`) and one inbox stream entry naming it (dedup.ts writes both,
 * inbox.ts describes them). Everything here happens within one inbox shard (keys.ts): the batch, its entry and its
 * reference set share the shard's hash tag, so each script and MULTI below stays in one Redis Cluster slot. Sink jobs refer to a batch's records instead of copying them, so the batch must live
 * exactly as long as some job still needs it:
 *
 * 1. **Reference** (dispatcher, {@link addReferences}): before queueing its jobs, the dispatcher adds one member per
 *    job, `{sink}|{jobId}` ({@link jobMember}), to the reference set of every entry the job refers to
 *    (`refs:{entryId}`). Members first, jobs second: a job may finish (and release) the moment it is queued.
 * 2. **Release** (sink worker, {@link releaseBatches}): a job removes its member once it has finished with every
 *    record it refers to (delivered or dead-lettered), never before; a retry narrowed to fewer entries releases the
 *    ones it no longer needs. The last member out deletes the entry, its set and the batch, in one script. Hence a
 *    job whose batch is gone has already finished (it was taken over after a crash between the release and BullMQ
 *    marking it complete) and has nothing left to do.
 * 3. **Unreferenced** (dispatcher, {@link dropUnreferenced}): an entry no sink wants (filtered out everywhere) has
 *    no members and nobody to release it: it is deleted with its batch when the dispatcher acknowledges it.
 * 4. **Orphans** (dispatcher taking over, {@link pruneOrphans}): a dispatcher that died between adding its members
 *    and queueing all its jobs left members no job will ever remove (the next dispatch may cut the jobs
 *    differently). The dispatcher that takes its entries over removes the members whose job does not exist.
 *
 * A crash anywhere leaves a batch alive longer (until a takeover re-dispatches it), never deletes it early.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import type { BatchRef, InboxEntry } from './inbox.js';
import type { Keys } from './keys.js';

/** `{sink}|{jobId}`: a job's member in the reference sets of the batches it refers to. */
export function jobMember(sink: string, jobId: string): string {
  return `${sink}|${jobId}`;
}

/** Step 1: the members of the jobs about to be queued, per inbox entry id. */
export async function addReferences(
  redis: Redis,
  keys: Keys,
  shard: number,
  members: ReadonlyMap<string, ReadonlySet<string>>,
): Promise<void> {
  if (!members.size) return;
  const multi = redis.multi();
  for (const [entry, set] of members) multi.sadd(keys.batchRefs(shard, entry), ...set);
  await multi.exec();
}

// KEYS[1] = inbox; then per ref: its reference set, its batch list. ARGV[1] = member, ARGV[2..] = entry ids.
const RELEASE = `
local gone = 0
for i = 2, #ARGV do
  local refs = KEYS[2 * i - 2]
  redis.call('SREM', refs, ARGV[1])
  if redis.call('SCARD', refs) == 0 then
    redis.call('DEL', refs, KEYS[2 * i - 1])
    redis.call('XDEL', KEYS[1], ARGV[i])
    gone = gone + 1
  end
end
return gone
`;

/** Step 2: a job is done with these batches: removes its member, and deletes the batches no other job needs. */
export async function releaseBatches(
  redis: Redis,
  keys: Keys,
  shard: number,
  member: string,
  refs: readonly BatchRef[],
): Promise<void> {
  const seen = new Set<string>();
  const unique = refs.filter(([entry]) => !seen.has(entry) && seen.add(entry));
  if (!unique.length) return;
  const k = [
    keys.inbox(shard),
    ...unique.flatMap(([entry, batch]) => [keys.batchRefs(shard, entry), keys.batch(shard, batch)]),
  ];
  await redis.eval(RELEASE, k.length, ...k, member, ...unique.map(([entry]) => entry));
}

/**
 * Step 3, queued on the dispatcher's acknowledging transaction: entries no job refers to are deleted with their
 * batches; `entryIds` without a batch (malformed entries) are deleted too.
 */
export function dropUnreferenced(
  multi: ChainableCommander,
  keys: Keys,
  shard: number,
  entries: readonly InboxEntry[],
  entryIds: readonly string[] = [],
): void {
  for (const e of entries) multi.del(keys.batch(shard, e.batch));
  const ids = [...entries.map((e) => e.id), ...entryIds];
  if (ids.length) multi.xdel(keys.inbox(shard), ...ids);
}

/**
 * Step 4: removes the members of `entryIds` whose job does not exist (`jobKey` gives a job's BullMQ key, or
 * undefined for a sink no longer configured: nobody will deliver there, its members go too).
 */
export async function pruneOrphans(
  redis: Redis,
  keys: Keys,
  shard: number,
  entryIds: readonly string[],
  jobKey: (sink: string, jobId: string) => string | undefined,
): Promise<void> {
  for (const id of entryIds) {
    const refs = keys.batchRefs(shard, id);
    const members = await redis.smembers(refs);
    if (!members.length) continue;
    // One command per job (not one pipeline): the jobs live in their sinks' queues, each in its own Cluster slot.
    const found = await Promise.all(
      members.map(async (m) => {
        const [sink, jobId] = m.split('|', 2) as [string, string];
        const key = jobKey(sink, jobId);
        return key ? (await redis.exists(key)) > 0 : false;
      }),
    );
    const orphans = members.filter((_, i) => !found[i]);
    if (orphans.length) await redis.srem(refs, ...orphans);
  }
}
