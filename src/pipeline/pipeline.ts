/**
 * The pipeline: emit → dedup (atomic with staging) → inbox → dispatcher → one BullMQ queue per sink → a worker per
 * sink. Sources call `emit`; when it resolves, the records are durably in Redis.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Sink } from '../../sinks/types.js';
import type { AlertRecord } from '../record/types.js';
import type { Metrics } from '../observability/metrics.js';
import type { SinkHealth } from '../health/sinks.js';
import { DeadLetterStore, type DeadLetterReplay } from './dead-letter.js';
import { Deduplicator, type Verdict } from './dedup.js';
import { Dispatcher } from './dispatcher.js';
import { compileFilter, type RecordFilter } from './filter.js';
import { CachedRead } from '../util/cached-read.js';
import { keysFor, type Keys } from './keys.js';
import type { LoopStatus } from './loop-health.js';
import { SinkWorker, type SinkJobData, type SinkRuntimeOptions } from './sink-worker.js';

/** Entries of the inbox after an id (exclusive), counted in Redis; at most ARGV[2]. */
const COUNT_AFTER = `return #redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))`;
/**
 * Beyond this many undispatched inbox entries the figure saturates (a metric, not a census): the count runs in
 * Redis, which serves nothing else meanwhile (100,000 entries blocked it for 80–110 ms; 10,000 for a tenth of that).
 */
export const INBOX_COUNT_MAX = 10_000;
/** Longest a metrics scrape waits for fresh queue figures before it is answered with the last ones. */
const DEPTH_WAIT_MS = 2000;

/** Options of one emit. */
export interface EmitOptions {
  /** How long these records' dedup state lasts, instead of `pipeline.dedup_ttl_ms` (high-volume rows). */
  dedupTtlMs?: number;
}

export interface PipelineSink {
  sink: Sink;
  filter?: RecordFilter;
  maxRecords: number;
  runtime: SinkRuntimeOptions;
}

export interface PipelineOptions {
  prefix: string;
  dedupTtlMs: number;
  /** `pipeline.dispatch_batch_max`: inbox entries per dispatch round, in hundreds. */
  dispatchBatchMax: number;
  /** Command connection (emit, dead letters, inbox bookkeeping). */
  redis: Redis;
  /** Connection for BullMQ queues and workers (maxRetriesPerRequest: null); workers duplicate it for blocking. */
  queueRedis: Redis;
  /** Dedicated connection for the dispatcher's blocking reads. */
  dispatchRedis: Redis;
  sinks: PipelineSink[];
  metrics: Metrics;
  logger: Logger;
  /** Run the dispatcher and sink workers (false for tools that only inspect or replay). @defaultValue true */
  consume?: boolean;
  /** `redis.durability`, when it asks for more than the primary's reply: emit resolves only once it is met. */
  durability?: { mark(): number; wait(since?: number, keys?: readonly string[]): Promise<void> };
  /** `pipeline.takeover_ms`: how long work held by a replica that stopped answering waits before another takes it over. */
  takeoverMs: number;
  /** This process's replica id (replica.ts): its consumer name in the inbox's group. */
  replicaId: string;
  /**
   * Tries of a sink job whose processing itself fails (not its deliveries, which the job counts), after which BullMQ
   * gives up on it and its records are dead-lettered. @defaultValue 50
   */
  jobAttempts?: number;
  /**
   * Queue depths and dead-letter counts for `/metrics` are read from Redis in the background at most this often;
   * scrapes in between get the last figures. @defaultValue 10000
   */
  depthRefreshMs?: number;
  /** Health records of sink pauses and dead letters (src/health/sinks.ts). */
  sinkHealth?: SinkHealth;
}

export interface EmitResult {
  accepted: number;
  duplicates: number;
  stale: number;
  verdicts: Verdict[];
}

export class Pipeline {
  readonly keys: Keys;
  readonly deadLetters: DeadLetterStore;
  private readonly dedup: Deduplicator;
  private readonly queues = new Map<string, Queue<SinkJobData>>();
  private readonly workers: SinkWorker[] = [];
  private readonly dispatcher: Dispatcher;
  private started = false;

  constructor(private readonly opts: PipelineOptions) {
    this.keys = keysFor(opts.prefix);
    this.dedup = new Deduplicator(opts.redis, this.keys, opts.dedupTtlMs);
    this.deadLetters = new DeadLetterStore(opts.redis, this.keys);
    const log = opts.logger.child({ component: 'pipeline' });
    for (const s of opts.sinks) {
      const queue = new Queue<SinkJobData>(this.keys.sinkQueue(s.sink.name), {
        connection: opts.queueRedis,
        prefix: opts.prefix,
        defaultJobOptions: {
          removeOnComplete: true,
          removeOnFail: false,
          // Delivery retries are counted in the job data; these attempts only cover failures of the machinery
          // itself (Redis errors while recording an outcome).
          attempts: opts.jobAttempts ?? 50,
          backoff: { type: 'exponential', delay: 1000 },
        },
      });
      // Without a listener, a Redis error on the queue's connection is an unhandled 'error' event: a crash whose report
      // prints the error's properties (AUTH's password among them). The connection's own listener logs it.
      queue.on('error', (err) => log.debug({ queue: queue.name, err: err.message }, 'sink queue: redis error'));
      this.queues.set(s.sink.name, queue);
      this.workers.push(
        new SinkWorker(
          s.sink,
          queue,
          opts.queueRedis,
          this.keys,
          s.runtime,
          opts.takeoverMs,
          this.deadLetters,
          opts.metrics,
          opts.logger.child({ component: 'sink', sink: s.sink.name }),
          opts.sinkHealth,
        ),
      );
    }
    this.dispatcher = new Dispatcher(
      opts.dispatchRedis,
      this.keys,
      opts.sinks.map((s) => ({
        name: s.sink.name,
        queue: this.queues.get(s.sink.name)!,
        accepts: compileFilter(s.filter, s.sink.name),
        maxRecords: s.maxRecords,
      })),
      {
        // `dispatch_batch_max` counts entries in hundreds (its description says why).
        entriesPerRead: Math.max(1, Math.ceil(opts.dispatchBatchMax / 100)),
        blockMs: 1000,
        takeoverMs: opts.takeoverMs,
        replicaId: opts.replicaId,
      },
      log,
    );
    // Scrapes are served from cached figures (bounded reads, refreshed in the background): a scrape neither adds
    // Redis work per request nor waits on a slow Redis for long.
    const onError = (err: unknown) =>
      log.warn({ err }, 'reading queue figures for /metrics failed; serving the last ones');
    const refreshMs = opts.depthRefreshMs ?? 10_000;
    const depths = new CachedRead(() => this.queueDepth(), refreshMs, DEPTH_WAIT_MS, onError);
    const deadLetters = new CachedRead(() => this.deadLetterCounts(), refreshMs, DEPTH_WAIT_MS, onError);
    opts.metrics.addAsyncGauges({
      queueDepth: async () => (await depths.get()) ?? {},
      deadLetters: async () => (await deadLetters.get()) ?? {},
    });
  }

  async start(): Promise<void> {
    await this.dispatcher.init();
    if (this.opts.consume === false) return;
    await this.recoverReplays();
    for (const w of this.workers) w.start();
    this.dispatcher.start();
    this.started = true;
  }

  /**
   * Dedups and stages records; resolves when the accepted ones are durably in Redis (as `redis.durability` defines
   * it: a duplicate waits too, its first copy may not be replicated yet). Throws when Redis cannot be reached or the
   * durability wait is not met (the caller then must not acknowledge its sender or advance its cursor).
   */
  async emit(records: readonly AlertRecord[], opts: EmitOptions = {}): Promise<EmitResult> {
    const mark = this.opts.durability?.mark();
    const verdicts = records.length ? await this.dedup.markAndStage(records, opts.dedupTtlMs) : [];
    if (records.length && this.opts.durability) {
      // Redis Cluster: the wait goes to the primaries written, named by one key of each inbox shard staged in.
      const shards = new Set(records.map((r) => this.keys.shardOf(r.key)));
      await this.opts.durability.wait(
        mark,
        [...shards].map((s) => this.keys.inbox(s)),
      );
    }
    const result: EmitResult = { accepted: 0, duplicates: 0, stale: 0, verdicts };
    records.forEach((r, i) => {
      this.opts.metrics.ingested.inc({ source: r.source, resource: r.resource, via: r.via });
      const v = verdicts[i];
      if (v === 'accepted') result.accepted++;
      else {
        if (v === 'stale') result.stale++;
        else result.duplicates++;
        this.opts.metrics.duplicates.inc({ source: r.source });
      }
    });
    return result;
  }

  /** Whether the consumer loops can make progress (readiness); empty when this pipeline does not consume. */
  health(): Record<string, LoopStatus> {
    return this.started ? { dispatcher: this.dispatcher.status() } : {};
  }

  sinkNames(): string[] {
    return [...this.queues.keys()];
  }

  /**
   * Re-queues up to `limit` dead letters of a sink (oldest first), bypassing dedup; returns how many. Safe to run
   * twice at once (the second waits for the sink's replay lock, then replays what is left) and to kill: dead letters
   * a replay had taken but not queued when it died are queued by the next replay or daemon start (and counted).
   */
  async replay(sink: string, limit = Number.POSITIVE_INFINITY): Promise<number> {
    const queue = this.queue(sink);
    const maxRecords = this.opts.sinks.find((s) => s.sink.name === sink)!.maxRecords;
    const replay = (await this.deadLetters.replay(sink))!;
    try {
      let replayed = await this.finishReplay(replay, queue);
      while (replayed < limit) {
        const { jobId, entries } = await replay.take(Math.min(maxRecords, limit - replayed));
        if (!entries.length) break;
        await queue.add('deliver', { records: entries.map((e) => e.record), attempt: 0 }, { jobId });
        await replay.done();
        replayed += entries.length;
      }
      return replayed;
    } finally {
      await replay.unlock();
    }
  }

  /** Queues what a replay that died had taken (under its job id: queued once even if it got that far). */
  private async finishReplay(replay: DeadLetterReplay, queue: Queue<SinkJobData>): Promise<number> {
    const pending = await replay.pending();
    if (!pending) return 0;
    this.opts.logger.warn(
      { component: 'pipeline', sink: replay.sink, records: pending.entries.length },
      'queueing dead letters that an interrupted replay had taken',
    );
    await queue.add('deliver', { records: pending.entries.map((e) => e.record), attempt: 0 }, { jobId: pending.jobId });
    await replay.done();
    return pending.entries.length;
  }

  /** At start: finishes replays that died (unless a replay of that sink is running now). */
  private async recoverReplays(): Promise<void> {
    for (const [sink, queue] of this.queues) {
      const replay = await this.deadLetters.replay(sink, { wait: false });
      if (!replay) continue;
      try {
        await this.finishReplay(replay, queue);
      } finally {
        await replay.unlock();
      }
    }
  }

  async queueDepth(): Promise<Record<string, number>> {
    const out: Record<string, number> = { inbox: await this.inboxWaiting() };
    for (const [name, q] of this.queues) {
      const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      out[`sink:${name}`] = Object.values(c).reduce((a, b) => a + b, 0);
    }
    return out;
  }

  /**
   * Inbox entries not yet fanned out (every shard's): those after the group's last delivered id, plus its pending ones. Entries
   * already fanned out stay in the stream until their jobs finish, and count in the sink queues instead. (The
   * group's `lag` would say the same, but Redis cannot tell it once entries were deleted, which they always are.)
   */
  private async inboxWaiting(): Promise<number> {
    let total = 0;
    for (let shard = 0; shard < this.keys.inboxShards; shard++)
      total += await this.shardWaiting(this.keys.inbox(shard));
    return total;
  }

  private async shardWaiting(inbox: string): Promise<number> {
    const groups = (await this.opts.redis.xinfo('GROUPS', inbox).catch(() => [])) as unknown[][];
    for (const g of groups) {
      const info = new Map<string, unknown>();
      for (let i = 0; i + 1 < g.length; i += 2) info.set(String(g[i]), g[i + 1]);
      if (info.get('name') !== this.keys.inboxGroup) continue;
      const after = (await this.opts.redis.eval(
        COUNT_AFTER,
        1,
        inbox,
        String(info.get('last-delivered-id')),
        String(INBOX_COUNT_MAX),
      )) as number;
      return after + Number(info.get('pending') ?? 0);
    }
    return this.opts.redis.xlen(inbox);
  }

  async deadLetterCounts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const name of this.queues.keys()) out[name] = await this.deadLetters.count(name);
    return out;
  }

  /** True when nothing is waiting anywhere (used by tests, `demo` and drain). */
  async idle(): Promise<boolean> {
    const depth = await this.queueDepth();
    return Object.values(depth).every((n) => n === 0);
  }

  /** Stops fan-out and the workers; in-flight batches finish first. Idempotent. */
  async close(): Promise<void> {
    if (this.started) {
      this.started = false;
      await this.dispatcher.close();
      await Promise.all(this.workers.map((w) => w.close()));
    }
    // A queue closed before its shared connection was ever ready drops its listeners while BullMQ's connection set-up
    // is still pending; that set-up then fails (the connection is dropped) and its 'error' event crashes the process.
    // The queues own nothing of a shared connection: left open, they are released with it.
    if (this.opts.queueRedis.status !== 'ready') return;
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }

  private queue(sink: string): Queue<SinkJobData> {
    const q = this.queues.get(sink);
    if (!q) throw new Error(`unknown sink "${sink}" (configured: ${this.sinkNames().join(', ') || 'none'})`);
    return q;
  }
}
