/**
 * One BullMQ worker per sink: takes a batch job, hands it to the sink, and applies the shared policy to the
 * outcome — delivered records are counted, permanent failures are isolated (a failing batch is bisected so one
 * bad record never sinks its neighbours) and dead-lettered, retryable ones are rescheduled with backoff, and
 * records out of attempts are dead-lettered with their last error.
 */
import { DelayedError, Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AlertRecord } from '../record/types.js';
import type { Sink } from '../../sinks/types.js';
import type { Metrics } from '../observability/metrics.js';
import { DeadLetterFullError, type DeadLetter, type DeadLetterStore } from './dead-letter.js';
import { jobMember, releaseBatches } from './batch-lifetime.js';
import { loadBatches, narrowRefs, type BatchRef, type LoadedRecords } from './inbox.js';
import type { Keys } from './keys.js';
import type { SinkHealth } from '../health/sinks.js';
import { backoffMs, classify, errorMessage, type RetryPolicy } from './retry.js';

/** A job refers to staged records (`refs`, see inbox.ts), or carries them (`records`: replays of dead letters). */
export interface SinkJobData {
  refs?: BatchRef[];
  /** The inbox shard (keys.ts) of every batch in `refs`: a job refers to one shard's batches only. */
  shard?: number;
  records?: AlertRecord[];
  /** Failed delivery attempts so far. */
  attempt: number;
}

export interface SinkRuntimeOptions {
  retry: RetryPolicy;
  concurrency: number;
  deadLetterMax: number;
}

interface Outcome {
  delivered: AlertRecord[];
  dead: Array<{ record: AlertRecord; error: unknown }>;
  retry: AlertRecord[];
  retryError?: unknown;
}

/** Delay used while the dead-letter queue is full: the batch waits in its queue, it is never dropped. */
const DLQ_FULL_DELAY_MS = 30_000;

export class SinkWorker {
  private worker?: Worker<SinkJobData>;

  constructor(
    readonly sink: Sink,
    private readonly queue: Queue<SinkJobData>,
    private readonly connection: Redis,
    private readonly keys: Keys,
    private readonly opts: SinkRuntimeOptions,
    /** `pipeline.takeover_ms`: a job whose worker died is taken over after this long (BullMQ's lock). */
    private readonly takeoverMs: number,
    private readonly deadLetters: DeadLetterStore,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Health records of the sink's pauses and dead letters (src/health/sinks.ts). */
    private readonly health?: SinkHealth,
  ) {}

  start(): void {
    this.worker = new Worker<SinkJobData>(this.queue.name, (job, token) => this.process(job, token), {
      connection: this.connection,
      prefix: this.keys.prefix,
      concurrency: this.opts.concurrency,
      lockDuration: this.takeoverMs,
      stalledInterval: Math.max(1000, Math.floor(this.takeoverMs / 2)),
      // A job whose worker keeps dying is kept in the failed set (visible, replayable), never deleted.
      maxStalledCount: 20,
      autorun: true,
    });
    this.worker.on('error', (err) => this.log.error({ err }, 'sink worker error'));
    this.worker.on('failed', (job, err) => {
      if (err instanceof DelayedError || err?.name === 'DelayedError' || !job) return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1) || /stalled more than/.test(err?.message ?? '');
      this.log.error(
        { err, jobId: job.id, tries: job.attemptsMade },
        final
          ? 'sink job failed outside delivery for good: dead-lettering its records'
          : 'sink job failed outside delivery; BullMQ tries it again',
      );
      if (final) this.track(this.deadLetterFailed(job));
    });
    // Jobs given up on while no worker could dead-letter them (a crash, a dead-letter queue that could not be
    // written).
    this.track(this.sweepFailed());
  }

  /** Stops taking jobs and waits for in-flight batches to finish. */
  async close(): Promise<void> {
    await this.worker?.close();
    await Promise.all(this.chores);
  }

  private readonly chores = new Set<Promise<unknown>>();

  private track(chore: Promise<unknown>): void {
    const p = chore
      .catch((err) =>
        this.log.error(
          { err },
          'dead-lettering a failed sink job failed (it stays in the failed set until the next start)',
        ),
      )
      .finally(() => this.chores.delete(p));
    this.chores.add(p);
  }

  private async sweepFailed(): Promise<void> {
    for (let page = await this.queue.getFailed(0, 99); page.length; page = await this.queue.getFailed(0, 99)) {
      let moved = 0;
      for (const job of page) if (await this.deadLetterFailed(job)) moved++;
      if (!moved) return; // what is left cannot be moved now (another replica holds it, or it failed again)
    }
  }

  /**
   * A job BullMQ gave up on (its processing kept failing, or its worker kept dying): its records go to the
   * dead-letter queue with the last error, its batches are released, and the job leaves the failed set. One
   * replica does it (a claim per job); a crash in between dead-letters the records twice at worst, never zero times.
   */
  private async deadLetterFailed(job: Job<SinkJobData>): Promise<boolean> {
    const claim = this.keys.deadLetteringClaim(this.queue.toKey(job.id!));
    if ((await this.connection.set(claim, '1', 'PX', 60_000, 'NX')) !== 'OK') return false;
    try {
      const { refs, shard = 0 } = job.data;
      const records = refs
        ? (await loadBatches(this.connection, this.keys, shard, refs)).records
        : (job.data.records ?? []);
      const error = `failed outside delivery after ${job.attemptsMade} tries: ${job.failedReason ?? 'unknown error'}`;
      const dead = records.map((r) => this.deadLetter(r, error, job.data.attempt + 1));
      if (dead.length) {
        await this.deadLetters.add(this.sink.name, dead, this.opts.deadLetterMax);
        this.metrics.deadLettered.inc({ sink: this.sink.name }, dead.length);
        this.log.warn({ records: dead.length, jobId: job.id, error }, 'dead-lettered the records of a failed job');
        await this.health?.deadLettered(this.sink.name, dead.length, error);
      }
      if (refs) await releaseBatches(this.connection, this.keys, shard, jobMember(this.sink.name, job.id!), refs);
      await job.remove();
      return true;
    } finally {
      await this.connection.del(claim);
    }
  }

  private async process(job: Job<SinkJobData>, token?: string): Promise<void> {
    const { refs, attempt, shard = 0 } = job.data;
    let loaded: LoadedRecords | undefined;
    if (refs) loaded = await loadBatches(this.connection, this.keys, shard, refs);
    const records = loaded?.records ?? job.data.records ?? [];
    // (an empty load: the job finished before, and was taken over before BullMQ marked it complete)
    const outcome = records.length ? await this.attempt(records) : { delivered: [], dead: [], retry: [] };
    const name = this.sink.name;
    const now = Date.now();
    if (outcome.delivered.length) {
      this.metrics.delivered.inc({ sink: name }, outcome.delivered.length);
      for (const r of outcome.delivered)
        this.metrics.latency.observe({ sink: name }, Math.max(0, now - Date.parse(r.ingested_at)) / 1000);
    }

    const dead: DeadLetter[] = outcome.dead.map(({ record, error }) => this.deadLetter(record, error, attempt + 1));
    let retry = outcome.retry;
    // A paused sink (say, a revoked token) is not the records' fault: holding them costs no attempt.
    const paused = this.sink.ready?.() === false;
    let nextAttempt = paused ? attempt : attempt + 1;
    this.metrics.sinkReady.set({ sink: name }, paused ? 0 : 1);
    if (paused) this.health?.paused(name, this.sink.notReadyReason?.());
    else if (outcome.delivered.length) this.health?.delivered(name);
    if (retry.length) {
      const kind = classify(outcome.retryError);
      this.metrics.deliveryErrors.inc({ sink: name, kind }, retry.length);
      if (nextAttempt >= this.opts.retry.max_attempts) {
        this.metrics.deliveryErrors.inc({ sink: name, kind: 'exhausted' }, retry.length);
        this.log.warn(
          { records: retry.length, attempts: nextAttempt, err: outcome.retryError },
          'out of attempts: dead-lettering',
        );
        dead.push(...retry.map((r) => this.deadLetter(r, outcome.retryError, nextAttempt)));
        retry = [];
      }
    }
    if (outcome.dead.length) this.metrics.deliveryErrors.inc({ sink: name, kind: 'permanent' }, outcome.dead.length);

    let delay = retry.length ? backoffMs(this.opts.retry, Math.max(1, nextAttempt), outcome.retryError) : 0;
    if (dead.length) {
      try {
        await this.deadLetters.add(name, dead, this.opts.deadLetterMax);
        this.metrics.deadLettered.inc({ sink: name }, dead.length);
        this.log.warn({ records: dead.length, error: dead[0]?.error }, 'dead-lettered');
        await this.health?.deadLettered(name, dead.length, dead[0]?.error);
      } catch (err) {
        if (!(err instanceof DeadLetterFullError)) throw err;
        // Never silent loss: keep the records in the queue and try again later, loudly.
        this.metrics.deadLetterFull.inc({ sink: name });
        this.log.error({ err }, 'DEAD-LETTER QUEUE FULL: records kept queued; replay or purge the dead letters');
        retry = [...retry, ...dead.map((d) => d.record)];
        nextAttempt = Math.min(nextAttempt, this.opts.retry.max_attempts - 1);
        delay = Math.max(delay, DLQ_FULL_DELAY_MS);
      }
    }
    const member = jobMember(name, job.id!);
    if (!retry.length) {
      // Done with every record: the staged batches may go (batch-lifetime.ts). Never before this point.
      if (refs) await releaseBatches(this.connection, this.keys, shard, member, refs);
      return;
    }
    this.log.info(
      { records: retry.length, attempt: nextAttempt, delay_ms: delay, err: outcome.retryError },
      'delivery failed, will retry',
    );
    if (refs && loaded) {
      const left = narrowRefs(refs, loaded, retry);
      await job.updateData({ refs: left, shard, attempt: nextAttempt });
      const kept = new Set(left.map(([entry]) => entry));
      await releaseBatches(
        this.connection,
        this.keys,
        shard,
        member,
        refs.filter(([entry]) => !kept.has(entry)),
      );
    } else {
      await job.updateData({ records: retry, attempt: nextAttempt });
    }
    await job.moveToDelayed(Date.now() + delay, token);
    throw new DelayedError();
  }

  /** Sends a batch; on a whole-batch permanent error, bisects to find the offending record(s). */
  private async attempt(records: AlertRecord[]): Promise<Outcome> {
    let result;
    try {
      result = await this.sink.send(records);
    } catch (err) {
      const kind = classify(err);
      if (kind !== 'permanent') {
        if (kind === 'bug') this.log.error({ err }, 'sink threw a programming error (will retry, then dead-letter)');
        return { delivered: [], dead: [], retry: records, retryError: err };
      }
      if (records.length === 1) return { delivered: [], dead: [{ record: records[0]!, error: err }], retry: [] };
      const mid = Math.ceil(records.length / 2);
      const left = await this.attempt(records.slice(0, mid));
      if (left.retry.length) return { ...left, retry: [...left.retry, ...records.slice(mid)] };
      const right = await this.attempt(records.slice(mid));
      return {
        delivered: [...left.delivered, ...right.delivered],
        dead: [...left.dead, ...right.dead],
        retry: right.retry,
        retryError: right.retryError,
      };
    }
    if (!result || result.failed.length === 0) return { delivered: records, dead: [], retry: [] };
    const failed = new Map(result.failed.map((f) => [f.index, f.error]));
    const outcome: Outcome = { delivered: [], dead: [], retry: [] };
    records.forEach((record, i) => {
      const error = failed.get(i);
      if (error === undefined) outcome.delivered.push(record);
      else if (classify(error) === 'permanent') outcome.dead.push({ record, error });
      else {
        outcome.retry.push(record);
        outcome.retryError ??= error;
      }
    });
    return outcome;
  }

  private deadLetter(record: AlertRecord, error: unknown, attempts: number): DeadLetter {
    return { record, sink: this.sink.name, error: errorMessage(error), attempts, failed_at: new Date().toISOString() };
  }
}
