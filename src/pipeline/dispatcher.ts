/**
 * Fans accepted records out from the inbox stream to the sink queues.
 *
 * The inbox is one stream per inbox shard (keys.ts). Every replica runs one dispatcher, which reads every shard's
 * stream in that stream's consumer group, so batches spread across replicas. Each shard has its own loop and its own
 * blocking connection (a duplicate of the one given): a busy shard is read `entriesPerRead` entries a round like the
 * others and never holds them up, and a shard's takeover of pending entries (`pipeline.takeover_ms`) is its own.
 * The jobs refer to the staged records (inbox.ts) of one shard and carry no copy of them. An inbox entry is acknowledged only after its jobs are
 * in every sink queue; entries left pending by a dead replica are claimed by the others after `pipeline.takeover_ms`. A
 * crash can therefore queue a batch twice (at least once), never zero times.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RecordPredicate } from './filter.js';
import { addReferences, dropUnreferenced, jobMember, pruneOrphans } from './batch-lifetime.js';
import { parseEntry, type BatchRef, type InboxEntry } from './inbox.js';
import type { Keys } from './keys.js';
import type { BackoffPolicy } from '../util/backoff.js';
import type { LoopStatus } from './loop-health.js';
import { StreamConsumer, type StreamEntry } from './stream-consumer.js';
import type { SinkJobData } from './sink-worker.js';

export interface DispatchTarget {
  name: string;
  queue: Queue<SinkJobData>;
  accepts: RecordPredicate;
  maxRecords: number;
}

export interface DispatcherOptions {
  /** Inbox entries read per round (`pipeline.dispatch_batch_max` / 100). */
  entriesPerRead: number;
  blockMs: number;
  /** `pipeline.takeover_ms`: pending entries idle this long belong to a dead consumer and are taken over. */
  takeoverMs: number;
  /** This process's replica id (replica.ts): its consumer name in the inbox's group. */
  replicaId: string;
}

/** After a failed round: 0.5 s, doubling, at most 30 s. */
const LOOP_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, jitter: false };

export class Dispatcher {
  private readonly consumers: StreamConsumer[] = [];
  /** Per shard: its connection (shard 0 uses the one given; the others are duplicates this dispatcher owns). */
  private readonly conns: Redis[] = [];

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    private readonly targets: readonly DispatchTarget[],
    opts: DispatcherOptions,
    private readonly log: Logger,
  ) {
    for (let shard = 0; shard < keys.inboxShards; shard++) {
      const conn = shard === 0 ? redis : redis.duplicate();
      // A duplicate's errors are logged by its loop when a command fails; without a listener they would crash.
      if (shard) conn.on('error', () => undefined);
      this.conns.push(conn);
      this.consumers.push(this.consumerOf(shard, conn, opts));
    }
  }

  private consumerOf(shard: number, redis: Redis, opts: DispatcherOptions): StreamConsumer {
    return new StreamConsumer({
      redis,
      stream: this.keys.inbox(shard),
      group: this.keys.inboxGroup,
      replicaId: opts.replicaId,
      takeoverMs: opts.takeoverMs,
      count: opts.entriesPerRead,
      blockMs: opts.blockMs,
      name: 'dispatcher',
      // Stuck after a minute without a finished round: a read blocks for `blockMs`, a dispatch takes well under that.
      staleMs: 60_000,
      backoff: LOOP_BACKOFF,
      logger: this.log,
      deleteConsumerOnClose: true,
      recreatedMessage:
        'the inbox consumer group was gone (Redis restarted empty or was flushed?): ' +
        'recreated; what was queued in Redis before is lost with it, records accepted from now on are delivered',
      handle: (entries, claimed) => this.handle(shard, redis, entries, claimed),
    });
  }

  async init(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.init()));
  }

  start(): void {
    for (const c of this.consumers) c.start();
  }

  /** Stops reading; the batches in hand are finished first. */
  async close(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.close()));
    await Promise.all(this.conns.slice(1).map((c) => c.quit().catch(() => c.disconnect())));
  }

  /** Whether every shard's loop can make progress (for readiness): the first one that cannot, else the oldest. */
  status(): LoopStatus {
    const all = this.consumers.map((c) => c.status());
    return all.find((s) => !s.ok) ?? all.reduce((a, b) => (b.lastProgressAt < a.lastProgressAt ? b : a));
  }

  private async handle(shard: number, redis: Redis, entries: StreamEntry[], claimed: boolean): Promise<void> {
    if (claimed) {
      this.log.warn({ entries: entries.length, shard }, 'took over inbox batches left by a stopped replica');
      const queues = new Map(this.targets.map((t) => [t.name, t.queue]));
      await pruneOrphans(
        redis,
        this.keys,
        shard,
        entries.map(([id]) => id),
        (sink, jobId) => queues.get(sink)?.toKey(jobId),
      );
    }
    await this.dispatch(shard, redis, entries);
  }

  private async dispatch(shard: number, redis: Redis, entries: StreamEntry[]): Promise<void> {
    // Entry ids are unique within a stream only: the shard is part of the job ids.
    const batchId = `i${shard}_${entries[0]![0]}_${entries.length}`;
    const staged: InboxEntry[] = [];
    const malformed: string[] = [];
    for (const [id, fields] of entries) {
      const entry = parseEntry(id, fields);
      if (entry) staged.push(entry);
      else malformed.push(id);
    }
    // Only dedup.ts writes the inbox; anything else there is not ours to deliver, and would be read again forever.
    if (malformed.length) this.log.error({ entries: malformed }, 'dropping inbox entries that name no staged batch');
    const refs = new Map<string, Set<string>>();
    const plans = this.targets.map((t) => {
      const jobs: Array<{ name: string; data: SinkJobData; opts: { jobId: string } }> = [];
      // Deterministic ids: a batch re-dispatched before its jobs ran is not queued twice.
      const add = (data: SinkJobData) =>
        jobs.push({ name: 'deliver', data, opts: { jobId: `${batchId}_${jobs.length}` } });
      let job: BatchRef[] = [];
      let size = 0;
      const flush = () => {
        if (!size) return;
        add({ refs: job, shard, attempt: 0 });
        const member = jobMember(t.name, jobs[jobs.length - 1]!.opts.jobId);
        for (const [entry] of job) (refs.get(entry) ?? refs.set(entry, new Set()).get(entry)!).add(member);
        job = [];
        size = 0;
      };
      for (const e of staged) {
        let indices: number[] = [];
        const cut = () => {
          if (indices.length) job.push([e.id, e.batch, indices]);
          indices = [];
        };
        e.routes.forEach((route, index) => {
          if (!t.accepts(route)) return;
          indices.push(index);
          if (++size === t.maxRecords) {
            cut();
            flush();
          }
        });
        cut();
      }
      flush();
      return { t, jobs };
    });
    // Members first, then the jobs: a job may finish (and release) the moment it is queued (batch-lifetime.ts).
    await addReferences(redis, this.keys, shard, refs);
    await Promise.all(plans.map(({ t, jobs }) => (jobs.length ? t.queue.addBulk(jobs) : undefined)));
    const ids = entries.map(([id]) => id);
    const multi = redis.multi().xack(this.keys.inbox(shard), this.keys.inboxGroup, ...ids);
    // Entries no sink wants (filtered out everywhere) are done with once acknowledged.
    dropUnreferenced(
      multi,
      this.keys,
      shard,
      staged.filter((e) => !refs.has(e.id)),
      malformed,
    );
    await multi.exec();
  }
}
