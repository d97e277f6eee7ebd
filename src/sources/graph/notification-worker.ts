/**
 * Turns persisted change notifications into records: reads the notification stream in a consumer group (every
 * replica takes part), fetches each alert by id (`GET /security/alerts/{id}`, with the poller's budget and
 * throttling rules), and emits it with `via: webhook`. The Defender streaming source queues its triggers on the same
 * stream (fields `r: alerts_v2`, `v: streaming`, `m`, the key that coalesces its triggers, and `w`: as the fetch
 * starts, `m` is left to live `w` ms more, so the rest of the burst of events about the alert adds no read): one fetch
 * worker for both, `GET /security/alerts_v2/{id}` for those. A streamed alert Graph does not know yet (404: the
 * stream can be ahead of Graph's index) is fetched again later, like a 5xx. An entry is acknowledged only after its record is durably
 * queued; entries of a replica that died are taken over. Dedup makes the overlap with polling invisible.
 *
 * What ends an entry besides its record: a Graph answer a retry will not change (a 4xx other than 401, 408 and 429:
 * the alert is gone, the id is malformed, the app lacks permission) is acknowledged and dropped with a warning and
 * `alertbridge_webhook_dropped_total`: polling of legacy alerts is the safety net. Anything else (429, 5xx, network,
 * a 206 without the alert, a token problem) leaves the entry pending; it is fetched again `takeover_ms` after the
 * failure, then twice as long after each further attempt (at most `maxRetryDelayMs`), so a stuck entry costs the
 * tenant's request budget a few requests an hour, not one per `takeover_ms`. An entry still failing past `maxAgeMs`
 * is dropped loudly (an error and the same metric, reason `expired`).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from '../../observability/metrics.js';
import { normalize } from '../../record/normalize.js';
import type { AlertRecord } from '../../record/types.js';
import type { LoopStatus } from '../../pipeline/loop-health.js';
import { StreamConsumer, type StreamEntry } from '../../pipeline/stream-consumer.js';
import type { EmitResult } from '../../pipeline/pipeline.js';
import { NOTIFICATIONS_GROUP } from '../../pipeline/keys.js';
import { backoffDelay, type BackoffPolicy } from '../../util/backoff.js';
import { GraphRequestError, type GraphClient } from './client.js';

export interface NotificationWorkerOptions {
  redis: Redis;
  streamKey: string;
  /** The Graph client of each source an entry may name (`s`). */
  clients: Pick<ReadonlyMap<string, { client: GraphClient; tenantId: string }>, 'get'>;
  emit: (records: AlertRecord[]) => Promise<EmitResult>;
  logger: Logger;
  metrics: Metrics;
  /**
   * `pipeline.takeover_ms`: entries held this long by a silent consumer are taken over; also the first retry delay
   * of a failed fetch.
   */
  takeoverMs: number;
  /** This process's replica id (replica.ts): its consumer name in the stream's group. */
  replicaId: string;
  /** Longest wait between two fetches of a failing entry. @defaultValue 900000 (15 minutes) */
  maxRetryDelayMs?: number;
  /** A failing entry older than this is dropped (an error log and a metric). @defaultValue 86400000 (one day) */
  maxAgeMs?: number;
  /** Alerts fetched at once. @defaultValue 8 */
  concurrency?: number;
}

type Entries = StreamEntry[];
/** XPENDING's extended form: id, consumer, ms idle, times delivered. */
type PendingEntry = [string, string, number, number];
const GROUP = NOTIFICATIONS_GROUP;
/** After a failed round: 1 s, doubling, at most 30 s. */
const LOOP_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30_000, jitter: false };
/** Pending entries examined per claim round. */
const CLAIM_SCAN = 100;

function seconds(ms: number): string {
  return `${+(ms / 1000).toFixed(1)} s`;
}

/** The status of a Graph answer a retry will not change (a 4xx but 401, 408, 429), else undefined. */
function permanentStatus(err: unknown): number | undefined {
  if (!(err instanceof GraphRequestError)) return undefined;
  const s = err.status;
  return s >= 400 && s < 500 && s !== 401 && s !== 408 && s !== 429 ? s : undefined;
}

export class NotificationWorker {
  /** Aborts fetches in flight at close. */
  private readonly abort = new AbortController();
  private readonly consumer: StreamConsumer;
  /** Where the next claim round continues in the pending list (`-` from the start). */
  private claimFrom = '-';
  private readonly log: Logger;

  constructor(private readonly opts: NotificationWorkerOptions) {
    this.log = opts.logger.child({ component: 'webhook-worker' });
    this.consumer = new StreamConsumer({
      redis: opts.redis,
      stream: opts.streamKey,
      group: GROUP,
      replicaId: opts.replicaId,
      takeoverMs: opts.takeoverMs,
      count: 50,
      // Short blocks: close() should not wait long.
      blockMs: 500,
      name: 'notification worker',
      // Stuck after five minutes without a finished round or fetch (a read blocks 500 ms; a fetch may wait for the
      // tenant's request budget or a Retry-After, which is progress of a kind: each finished fetch counts).
      staleMs: 300_000,
      backoff: LOOP_BACKOFF,
      logger: this.log,
      claim: () => this.claimDue(),
      onRecreated: () => {
        this.claimFrom = '-';
      },
      recreatedMessage: 'the notification consumer group was gone (Redis restarted empty or was flushed?): recreated',
      handle: (entries) => this.handle(entries),
    });
  }

  async start(): Promise<void> {
    await this.consumer.init();
    this.consumer.start();
  }

  /** Whether the worker can make progress (for readiness). */
  status(): LoopStatus {
    return this.consumer.status();
  }

  async close(): Promise<void> {
    this.abort.abort(new Error('closing'));
    await this.consumer.close();
  }

  /** Pending entries due for another fetch (see duePending), claimed for this replica. */
  private async claimDue(): Promise<Entries> {
    const { redis, streamKey, takeoverMs } = this.opts;
    const due = await this.duePending();
    // XCLAIM's min-idle makes a race with another replica harmless: whoever claims first resets the idle time.
    const claimed = due.length
      ? ((await redis.xclaim(streamKey, GROUP, this.opts.replicaId, takeoverMs, ...due)) as Entries)
      : [];
    return claimed.filter((e) => Array.isArray(e?.[1]));
  }

  /**
   * Pending entries whose wait is over: idle (since read by a replica that died, or since a failed fetch) for
   * `takeover_ms` after their first delivery, doubling with each further one up to `maxRetryDelayMs`. Scans the
   * pending list in rounds of {@link CLAIM_SCAN}.
   */
  private async duePending(): Promise<string[]> {
    const { redis, streamKey, takeoverMs } = this.opts;
    const page = (await redis.xpending(
      streamKey,
      GROUP,
      'IDLE',
      takeoverMs,
      this.claimFrom,
      '+',
      CLAIM_SCAN,
    )) as PendingEntry[];
    this.claimFrom = page.length < CLAIM_SCAN ? '-' : `(${page.at(-1)![0]}`;
    return page.filter(([, , idle, deliveries]) => idle >= this.retryDelay(deliveries)).map(([id]) => id);
  }

  private retryDelay(deliveries: number): number {
    const { takeoverMs, maxRetryDelayMs = 900_000 } = this.opts;
    // A threshold compared with the entry's idle time, not a sleep: no jitter.
    return backoffDelay(
      { initialMs: takeoverMs, maxMs: Math.max(takeoverMs, maxRetryDelayMs), jitter: false },
      deliveries,
    );
  }

  /** Ends an entry without a record: counted, and logged at `level` with why, and what covers the alert instead. */
  private drop(
    level: 'warn' | 'error',
    f: Record<string, string>,
    tenantId: string | undefined,
    reason: string,
    why: string,
    lastError?: string,
  ): void {
    this.opts.metrics.webhookDropped.inc({ source: f.s ?? '', reason });
    this.log[level](
      { source: f.s, tenant: tenantId, id: f.id, reason },
      `notified alert ${f.id} of source '${f.s}'${tenantId ? ` (tenant ${tenantId})` : ''}: ${why}: dropped (polling of ${f.r === 'alerts_v2' ? 'alerts_v2' : 'legacy alerts'} is the safety net)${lastError ? `; last error: ${lastError}` : ''}`,
    );
  }

  /** A failure worth retrying: the entry stays pending (see duePending), unless it is older than `maxAgeMs`. */
  private retryLater(
    entryId: string,
    f: Record<string, string>,
    tenantId: string,
    error: string,
    done: string[],
    retry: string[],
  ): void {
    const maxAgeMs = this.opts.maxAgeMs ?? 86_400_000;
    const ageMs = Date.now() - Number(entryId.split('-')[0]);
    if (ageMs > maxAgeMs) {
      this.drop(
        'error',
        f,
        tenantId,
        'expired',
        `still not fetched after ${seconds(ageMs)} (max ${seconds(maxAgeMs)})`,
        error,
      );
      done.push(entryId);
      return;
    }
    this.log.warn(
      { source: f.s, tenant: tenantId, id: f.id, err: error },
      'fetching a notified alert failed; will retry with backoff',
    );
    retry.push(entryId);
  }

  private async handle(entries: Entries): Promise<void> {
    const done: string[] = [];
    const retry: string[] = [];
    const records: AlertRecord[] = [];
    const queue = [...entries];
    const work = async (): Promise<void> => {
      for (let e = queue.shift(); e; e = queue.shift(), this.consumer.progressed()) {
        const [entryId, fields] = e;
        const f = Object.fromEntries(
          fields.reduce<Array<[string, string]>>((acc, v, i) => (i % 2 ? acc : [...acc, [v, fields[i + 1]!]]), []),
        );
        const src = this.opts.clients.get(f.s ?? '');
        if (!src || !f.id) {
          this.drop('warn', f, undefined, 'unknown_source', 'no such Graph source with notifications in the config');
          done.push(entryId); // a source removed from the config: nothing to fetch with
          continue;
        }
        // Legacy alerts from Graph notifications; alerts_v2 from the Defender stream.
        const resource = f.r === 'alerts_v2' ? 'alerts_v2' : 'alerts';
        const via = f.v === 'streaming' ? 'streaming' : 'webhook';
        try {
          // From `w` ms on, more stream events for this alert queue another read.
          if (f.m) await this.opts.redis.pexpire(f.m, Math.max(1, Number(f.w) || 1));
          const res = await src.client.get<Record<string, unknown>>(
            `/security/${resource}/${encodeURIComponent(f.id)}`,
            resource,
            this.abort.signal,
          );
          if (res.status === 206 && !res.body.id) {
            // The alert's provider failed (206 with a Warning): fetched again later.
            this.retryLater(
              entryId,
              f,
              src.tenantId,
              `not returned (206; failing providers: ${res.partial.map((p) => p.provider).join(', ') || 'unnamed'})`,
              done,
              retry,
            );
            continue;
          }
          const n = normalize(resource, res.body, { source: f.s!, via, tenantId: src.tenantId });
          if (n.ok) records.push(n.record);
          else this.log.warn({ source: f.s, id: f.id, reason: n.reason }, 'notified alert could not be normalized');
          done.push(entryId);
        } catch (err) {
          if (this.abort.signal.aborted) continue;
          const status = permanentStatus(err);
          if (status !== undefined && !(status === 404 && via === 'streaming')) {
            this.drop(
              'warn',
              f,
              src.tenantId,
              `http_${status}`,
              `Graph answered ${status}, which a retry will not change`,
            );
            done.push(entryId);
          } else {
            this.retryLater(entryId, f, src.tenantId, (err as Error).message, done, retry);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: this.opts.concurrency ?? 8 }, work));
    if (records.length) await this.opts.emit(records);
    await this.consumer.ack(done, true);
    // The retry delay counts from the failure, not from when the entry was read: reset its idle time (JUSTID leaves
    // the delivery count, which sets the delay, as it is).
    if (retry.length)
      await this.opts.redis.xclaim(this.opts.streamKey, GROUP, this.opts.replicaId, 0, ...retry, 'JUSTID');
  }
}
