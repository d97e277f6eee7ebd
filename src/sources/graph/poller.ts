/**
 * The poller of one (source, resource): a schedule (interval or cron), a Redis lease so that one replica polls at a
 * time, a watermark cursor in Redis advanced only after the window's records are durably enqueued, and a small
 * overlap re-read every poll (dedup absorbs it). The resource-specific part is the fetcher's `fetchPage`.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from '../../observability/metrics.js';
import { normalize } from '../../record/normalize.js';
import { revisionOrder } from '../../record/revision.js';
import type { AlertRecord } from '../../record/types.js';
import type { EmitResult } from '../../pipeline/pipeline.js';
import type { GraphClient } from './client.js';
import type { Fetcher, Overflow, WindowState } from './fetchers.js';
import { Lease } from './lease.js';

export interface PollerOptions {
  source: string;
  tenantId: string;
  fetcher: Fetcher;
  client: GraphClient;
  redis: Redis;
  prefix: string;
  owner: string;
  emit: (records: AlertRecord[]) => Promise<EmitResult>;
  metrics: Metrics;
  logger: Logger;
  intervalMs?: number;
  cron?: string;
  overlapMs: number;
  initialLookbackMs: number;
  leaseMs: number;
}

export interface PollSummary {
  pages: number;
  fetched: number;
  accepted: number;
  duplicates: number;
  invalid: number;
  gaps: string[];
  /** Alerts Graph's paging could not reach (legacy alerts): see {@link Overflow}. */
  overflow: Overflow[];
  /**
   * Where each provider of `gaps` was missing: from the lower bound of the first page it failed on to that of the
   * next page it answered (or the end of the read). Its alerts updated in `[from, to)` may not have been read.
   */
  gap_windows: GapWindow[];
  watermark?: string;
}

export interface GapWindow {
  provider: string;
  /** ISO 8601 (sortable form). */
  from: string;
  to: string;
}

export interface Cursor {
  watermark?: string;
  last_started_at?: number;
}

export class Poller {
  private readonly lease: Lease;
  private readonly cursorKey: string;
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;
  private task?: ScheduledTask;
  private running?: Promise<unknown>;
  private abort = new AbortController();
  private closed = false;

  constructor(private readonly opts: PollerOptions) {
    const id = `${opts.source}:${opts.fetcher.resource}`;
    this.lease = new Lease(opts.redis, `${opts.prefix}:lease:${id}`, opts.owner, opts.leaseMs);
    this.cursorKey = `${opts.prefix}:cursor:${id}`;
    this.log = opts.logger.child({ component: 'poller', source: opts.source, tenant: opts.tenantId, resource: opts.fetcher.resource });
  }

  get resource(): string {
    return this.opts.fetcher.resource;
  }

  get intervalMs(): number {
    return Math.max(this.opts.intervalMs ?? 0, this.opts.fetcher.minIntervalMs);
  }

  start(): void {
    if (this.opts.cron) {
      this.task = cron.schedule(this.opts.cron, (ctx) => this.tick(ctx.triggeredAt?.getTime() ?? Date.now()), { noOverlap: true });
      return;
    }
    const every = Math.min(5000, Math.max(250, Math.floor(this.intervalMs / 10)));
    const loop = (): void => {
      if (this.closed) return;
      this.timer = setTimeout(() => void this.tick().finally(loop), every);
    };
    void this.tick().finally(loop);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.task?.stop();
    this.abort.abort(new Error('poller closed'));
    await this.running?.catch(() => undefined);
    await this.lease.release();
  }

  async cursor(): Promise<Cursor> {
    const raw = await this.opts.redis.hgetall(this.cursorKey);
    return { watermark: raw.watermark || undefined, last_started_at: raw.last_started_at ? Number(raw.last_started_at) : undefined };
  }

  /** One scheduling decision: poll when due and when this replica holds the lease. */
  async tick(tickAt = Date.now()): Promise<PollSummary | null> {
    if (this.closed || this.running) return null;
    const run = (async () => {
      const cursor = await this.cursor();
      if (!this.due(cursor, tickAt)) return null;
      if (!(await this.lease.acquire())) return null;
      try {
        // Re-read under the lease: another replica may have polled between our read and the acquire.
        const fresh = await this.cursor();
        if (!this.due(fresh, tickAt)) return null;
        return await this.pollWindow(fresh);
      } finally {
        await this.lease.release();
      }
    })();
    this.running = run;
    try {
      return await run;
    } catch (err) {
      if (!this.closed) this.log.error({ err: errorSummary(err) }, `poll of ${this.opts.fetcher.resource} for source '${this.opts.source}' (tenant ${this.opts.tenantId}) failed; cursor unchanged, retried at the next poll`);
      return null;
    } finally {
      this.running = undefined;
    }
  }

  private due(cursor: Cursor, tickAt: number): boolean {
    if (cursor.last_started_at === undefined) return true;
    if (this.opts.cron) return cursor.last_started_at < tickAt - 1000 && tickAt - cursor.last_started_at >= this.opts.fetcher.minIntervalMs;
    return tickAt - cursor.last_started_at >= this.intervalMs;
  }

  /** Reads one window from the watermark (minus the overlap) to now, then moves the watermark. */
  async pollWindow(cursor: Cursor): Promise<PollSummary> {
    const { fetcher, metrics, source } = this.opts;
    const startedAt = Date.now();
    await this.opts.redis.hset(this.cursorKey, 'last_started_at', String(startedAt));
    let lost = false;
    this.lease.keepAlive(() => {
      lost = true;
      this.log.warn('poll lease lost: another replica may be polling; stopping this window');
    });
    const sinceMs = cursor.watermark ? Date.parse(cursor.watermark) - this.opts.overlapMs : startedAt - this.opts.initialLookbackMs;
    const { summary, maxSeen } = await this.readWindow(sinceMs, () => {
      if (lost) throw new Error('lease lost during the poll');
    });
    // The watermark moves only once every record of the window is in Redis, and not at all past a provider gap:
    // the next poll re-reads the window, and the missing provider's alerts arrive when it answers again.
    let watermark = cursor.watermark;
    if (summary.gaps.length === 0) {
      // Nothing new in a first window: the next one starts at this poll's start, not at the lookback again.
      const next = maxSeen ?? (cursor.watermark ? undefined : revisionOrder(new Date(startedAt).toISOString())!);
      if (next && (!watermark || next > watermark)) {
        await this.opts.redis.hset(this.cursorKey, 'watermark', next);
        watermark = next;
      }
    }
    summary.watermark = watermark;
    if (watermark) metrics.pollLag.set({ source, resource: fetcher.resource }, Math.max(0, (Date.now() - Date.parse(watermark)) / 1000));
    this.log.info({ ...summary, ms: Date.now() - startedAt }, 'poll finished');
    return summary;
  }

  /**
   * Reads everything updated since `sinceMs`, page by page, emitting each page before fetching the next; shared by
   * the poller and `alertbridge backfill` (which keeps no cursor). `beforePage` may throw to stop.
   */
  async readWindow(sinceMs: number, beforePage?: (summary: PollSummary) => void): Promise<{ summary: PollSummary; maxSeen?: string }> {
    const { fetcher, client, emit, source } = this.opts;
    const signal = this.abort.signal;
    const since = revisionOrder(new Date(sinceMs).toISOString())!;
    let state: WindowState = { since, gaps: [], pages: 0 };
    const summary: PollSummary = { pages: 0, fetched: 0, accepted: 0, duplicates: 0, invalid: 0, gaps: [], overflow: [], gap_windows: [] };
    const open = new Map<string, string>(); // provider → lower bound of the first page it failed on, while failing
    for (;;) {
      beforePage?.(summary);
      const lowerBound = state.slideSince ?? state.since;
      const page = await fetcher.fetchPage(client, state, signal);
      const failing = new Set(page.partial.map((p) => p.provider));
      for (const [provider, from] of open) {
        // Answering again from a later lower bound closes the gap there (legacy paging slides the time filter); a
        // nextLink page has the same lower bound and says nothing about where the failed page ended: left open.
        if (failing.has(provider) || lowerBound <= from) continue;
        summary.gap_windows.push({ provider, from, to: lowerBound });
        open.delete(provider);
      }
      for (const provider of failing) if (!open.has(provider)) open.set(provider, lowerBound);
      state = page.state;
      summary.pages++;
      summary.fetched += page.objects.length;
      for (const p of page.partial) this.log.warn({ provider: p.provider, status: p.status, latency_ms: p.latencyMs }, 'Graph answered 206: a provider failed; its alerts are re-read at the next poll');
      for (const o of page.overflow ?? []) this.overflowed(o);
      summary.overflow.push(...(page.overflow ?? []));
      const records: AlertRecord[] = [];
      const now = new Date();
      for (const obj of page.objects) {
        const res = normalize(fetcher.resource, obj, { source, via: 'poll', tenantId: this.opts.tenantId, now });
        if (res.ok) records.push(res.record);
        else {
          summary.invalid++;
          this.log.warn({ reason: res.reason }, 'skipped an object Graph returned');
        }
      }
      if (records.length) {
        const r = await emit(records);
        summary.accepted += r.accepted;
        summary.duplicates += r.duplicates + r.stale;
      }
      summary.gaps = [...new Set(state.gaps)];
      if (page.done) break;
    }
    const end = revisionOrder(new Date().toISOString())!;
    for (const [provider, from] of open) summary.gap_windows.push({ provider, from, to: end });
    return { summary, maxSeen: state.maxSeen };
  }

  /** Never silent: alerts Graph's paging cannot reach are an error in the log and a metric. */
  private overflowed(o: Overflow): void {
    const { source, tenantId, fetcher, metrics } = this.opts;
    metrics.graphPagingOverflow.inc({ source, resource: fetcher.resource, provider: o.provider });
    this.log.error({ provider: o.provider, at: o.at, read: o.read },
      `${fetcher.resource} of source '${source}' (tenant ${tenantId}): provider '${o.provider}' has at least ${o.read} alerts with lastModifiedDateTime ${o.at}; Graph's paging ($skip ≤ 500, $top ≤ 1000) reaches only the first ${o.read}: any beyond were skipped`);
  }
}

function errorSummary(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
