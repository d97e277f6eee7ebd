/**
 * Fans accepted records out from the inbox stream to the sink queues.
 *
 * Every replica runs one dispatcher in the inbox's consumer group, so batches spread across replicas. An inbox
 * entry is acknowledged (and deleted) only after its jobs are in every sink queue; entries left pending by a dead
 * replica are claimed by the others after `claim_idle_ms`. A crash can therefore queue a batch twice (at least
 * once), never zero times.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AlertRecord } from '../record/types.js';
import type { Keys } from './keys.js';
import type { RecordPredicate } from './filter.js';
import type { SinkJobData } from './sink-worker.js';

export interface DispatchTarget {
  name: string;
  queue: Queue<SinkJobData>;
  accepts: RecordPredicate;
  maxRecords: number;
}

export interface DispatcherOptions {
  /** Inbox entries read at once. */
  readCount: number;
  blockMs: number;
  /** Pending entries idle this long belong to a dead consumer and are taken over. */
  claimIdleMs: number;
}

type StreamEntries = Array<[id: string, fields: string[]]>;

export class Dispatcher {
  readonly consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private running = false;
  private loop?: Promise<void>;
  private lastClaim = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly targets: readonly DispatchTarget[],
    private readonly opts: DispatcherOptions,
    private readonly log: Logger,
  ) {}

  async init(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.keys.inbox, this.keys.inboxGroup, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops reading; the batch in hand is finished first. */
  async close(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.redis.xgroup('DELCONSUMER', this.keys.inbox, this.keys.inboxGroup, this.consumer).catch(() => undefined);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const entries = (await this.claimStale()) ?? (await this.readNew());
        if (entries.length) await this.dispatch(entries);
        failures = 0;
      } catch (err) {
        failures++;
        const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
        this.log.error({ err, retry_in_ms: delay }, 'dispatching from the inbox failed');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async readNew(): Promise<StreamEntries> {
    const res = (await this.redis.xreadgroup('GROUP', this.keys.inboxGroup, this.consumer, 'COUNT', this.opts.readCount,
      'BLOCK', this.opts.blockMs, 'STREAMS', this.keys.inbox, '>')) as Array<[string, StreamEntries]> | null;
    return res?.[0]?.[1] ?? [];
  }

  private async claimStale(): Promise<StreamEntries | null> {
    const now = Date.now();
    if (now - this.lastClaim < Math.min(this.opts.claimIdleMs, 5000)) return null;
    this.lastClaim = now;
    const res = (await this.redis.xautoclaim(this.keys.inbox, this.keys.inboxGroup, this.consumer,
      this.opts.claimIdleMs, '0', 'COUNT', this.opts.readCount)) as [string, StreamEntries, string[]?];
    const entries = res[1].filter((e) => Array.isArray(e?.[1]));
    if (entries.length) this.log.warn({ entries: entries.length }, 'took over inbox batches left by a stopped replica');
    return entries.length ? entries : null;
  }

  private async dispatch(entries: StreamEntries): Promise<void> {
    const records: AlertRecord[] = [];
    for (const [, fields] of entries) {
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] !== 'r') continue;
        const value = JSON.parse(fields[i + 1]!) as AlertRecord | AlertRecord[];
        // (entries written before 0.1 held one JSON array)
        if (Array.isArray(value)) records.push(...value);
        else records.push(value);
      }
    }
    const batchId = `${entries[0]![0]}_${entries.length}`;
    await Promise.all(this.targets.map((t) => {
      const mine = records.filter(t.accepts);
      const jobs = [];
      for (let i = 0; i < mine.length; i += t.maxRecords) {
        jobs.push({
          name: 'deliver',
          data: { records: mine.slice(i, i + t.maxRecords), attempt: 0 },
          // Deterministic ids: a batch re-dispatched before its jobs ran is not queued twice.
          opts: { jobId: `${batchId}_${i / t.maxRecords}` },
        });
      }
      return jobs.length ? t.queue.addBulk(jobs) : undefined;
    }));
    const ids = entries.map(([id]) => id);
    await this.redis.multi().xack(this.keys.inbox, this.keys.inboxGroup, ...ids).xdel(this.keys.inbox, ...ids).exec();
  }
}
