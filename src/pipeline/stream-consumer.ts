/**
 * One Redis stream consumer: a replica's member of a stream's consumer group, for every loop that reads a stream
 * (the inbox dispatcher, the Graph notification worker, the streaming source to come).
 *
 * - **Group**: created at `init()` (with the stream: MKSTREAM); when Redis answers NOGROUP or UNBLOCKED (restarted
 *   empty, failed over to an empty node, flushed) it is recreated at once, at most once a second, and logged —
 *   instead of failing on NOGROUP forever.
 * - **Loop**: each round first takes over entries left pending by a consumer that stopped answering (at most every
 *   `min(takeoverMs, 5 s)`: XAUTOCLAIM of entries idle `takeoverMs`, or the owner's own `claim`), else reads new
 *   ones (XREADGROUP, `count` at a time, blocking `blockMs`), and hands them to `handle`. A failing round waits with
 *   the shared backoff (util/backoff.ts) and is retried.
 * - **Ack**: `handle` acknowledges (it alone knows when its work is durable), with {@link ack} or its own MULTI on
 *   {@link stream}/{@link group}. An entry it does not acknowledge stays pending and is taken over after
 *   `takeoverMs` (by this replica or another): at least once, never zero times.
 * - **Health**: {@link status} for readiness (loop-health.ts): failing, or no finished round for `staleMs`.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { backoffDelay, type BackoffPolicy } from '../util/backoff.js';
import { isStateVanished, LoopHealth, type LoopStatus } from './loop-health.js';

/** A stream entry: its id and its fields as Redis returns them (`[name, value, name, value, …]`). */
export type StreamEntry = [id: string, fields: string[]];

export interface StreamConsumerOptions {
  /** A connection of its own: the reads block. */
  redis: Redis;
  stream: string;
  group: string;
  /** This process's replica id (replica.ts): the consumer name. */
  replicaId: string;
  /** `pipeline.takeover_ms`: entries pending this long belong to a consumer that stopped answering. */
  takeoverMs: number;
  /** Entries read at once. */
  count: number;
  /** How long a read blocks: also how long `close()` may wait for the read in hand. */
  blockMs: number;
  /** For logs and readiness ("dispatcher", "notification worker"). */
  name: string;
  /** No finished round for this long: reported stuck. */
  staleMs: number;
  /** The wait after a failed round, by consecutive failures. */
  backoff: BackoffPolicy;
  logger: Logger;
  /** Handles entries read (`claimed` false) or taken over (`claimed` true), and acknowledges those it is done with. */
  handle(entries: StreamEntry[], claimed: boolean): Promise<void>;
  /**
   * Takes over pending entries (another schedule than "idle `takeoverMs`"); default XAUTOCLAIM. Return the live
   * entries claimed for this consumer.
   */
  claim?(consumer: StreamConsumer): Promise<StreamEntry[]>;
  /** After the group was recreated (state the owner keeps about the stream is stale). */
  onRecreated?(): void;
  /** The error logged when the group was recreated. @defaultValue "the {name}'s consumer group was gone …" */
  recreatedMessage?: string;
  /** Remove this consumer from the group at close (its pending entries go with it). @defaultValue false */
  deleteConsumerOnClose?: boolean;
}

export class StreamConsumer {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private lastClaim = 0;
  private readonly health: LoopHealth;

  constructor(private readonly opts: StreamConsumerOptions) {
    this.stream = opts.stream;
    this.group = opts.group;
    this.consumer = opts.replicaId;
    this.health = new LoopHealth(opts.name, opts.staleMs);
  }

  /** Creates the group (and the stream) unless it exists. */
  async init(): Promise<void> {
    try {
      await this.opts.redis.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  start(): void {
    this.health.progressed();
    this.loop = this.run();
  }

  /** Stops reading; the entries in hand are handled first. */
  async close(): Promise<void> {
    this.abort.abort(new Error('closing'));
    await this.loop;
    if (this.opts.deleteConsumerOnClose)
      await this.opts.redis.xgroup('DELCONSUMER', this.stream, this.group, this.consumer).catch(() => undefined);
  }

  get closing(): boolean {
    return this.abort.signal.aborted;
  }

  /** Whether the loop can make progress (for readiness). */
  status(): LoopStatus {
    return this.health.status();
  }

  /** Progress within a long round (each finished piece of work of a slow handler). */
  progressed(): void {
    this.health.progressed();
  }

  /** Acknowledges entries, and deletes them from the stream when `remove`. */
  async ack(ids: readonly string[], remove = false): Promise<void> {
    if (!ids.length) return;
    const multi = this.opts.redis.multi().xack(this.stream, this.group, ...ids);
    if (remove) multi.xdel(this.stream, ...ids);
    await multi.exec();
  }

  private async run(): Promise<void> {
    let failures = 0;
    let recreatedAt = 0;
    while (!this.closing) {
      try {
        const claimed = await this.claimDue();
        const entries = claimed ?? (await this.read());
        if (entries.length) await this.opts.handle(entries, claimed !== undefined);
        failures = 0;
        this.health.progressed();
      } catch (caught) {
        let err = caught;
        if (this.closing) break;
        // The group (or the whole stream) is gone: recreate it at once (at most once a second).
        if (isStateVanished(err) && Date.now() - recreatedAt > 1000) {
          recreatedAt = Date.now();
          try {
            await this.init();
            this.opts.onRecreated?.();
            this.opts.logger.error(
              { err: (err as Error).message },
              this.opts.recreatedMessage ??
                `the ${this.opts.name}'s consumer group was gone (Redis restarted empty or was flushed?): recreated`,
            );
            continue;
          } catch (again) {
            err = again;
          }
        }
        this.health.failed(err);
        failures++;
        const delay = backoffDelay(this.opts.backoff, failures);
        this.opts.logger.error({ err, retry_in_ms: delay }, `${this.opts.name}: reading its stream failed; retrying`);
        await sleep(delay, this.abort.signal);
      }
    }
  }

  private async read(): Promise<StreamEntry[]> {
    const res = (await this.opts.redis.xreadgroup(
      'GROUP',
      this.group,
      this.consumer,
      'COUNT',
      this.opts.count,
      'BLOCK',
      this.opts.blockMs,
      'STREAMS',
      this.stream,
      '>',
    )) as Array<[string, StreamEntry[]]> | null;
    return res?.[0]?.[1] ?? [];
  }

  /** Entries taken over this round, or undefined when none (or not due yet). */
  private async claimDue(): Promise<StreamEntry[] | undefined> {
    const now = Date.now();
    if (now - this.lastClaim < Math.min(this.opts.takeoverMs, 5000)) return undefined;
    this.lastClaim = now;
    const entries = await (this.opts.claim ? this.opts.claim(this) : this.autoclaim());
    return entries.length ? entries : undefined;
  }

  /** XAUTOCLAIM of entries idle `takeoverMs`. */
  private async autoclaim(): Promise<StreamEntry[]> {
    const res = (await this.opts.redis.xautoclaim(
      this.stream,
      this.group,
      this.consumer,
      this.opts.takeoverMs,
      '0',
      'COUNT',
      this.opts.count,
    )) as [string, Array<StreamEntry | null>, string[]?];
    // Entries deleted while pending (their work finished before the consumer could acknowledge them): Redis 7 drops
    // them from the pending list itself and reports them apart; 6.2 returns them as nil and keeps them pending.
    const deleted = res[1]
      .filter((e) => !Array.isArray(e?.[1]))
      .map((e) => e?.[0])
      .filter((id): id is string => !!id);
    if (deleted.length) await this.opts.redis.xack(this.stream, this.group, ...deleted);
    return res[1].filter((e): e is StreamEntry => Array.isArray(e?.[1]));
  }
}

/** Waits `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
