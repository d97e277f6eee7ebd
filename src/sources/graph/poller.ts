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
import { keysFor } from '../../pipeline/keys.js';
import { GraphRequestError, type GraphClient } from './client.js';
import { POLL_KINDS, sourceWide, type Condition, type Subject } from '../../health/conditions.js';
import type { HealthReporter } from '../../health/reporter.js';
import type { Fetcher, GraphObject, Overflow, WindowState } from './fetchers.js';
import { Lease } from './lease.js';
import { noteLegacyPoll } from './legacy-silence.js';
import { readCursor, type Cursor } from './cursor.js';

export type { Cursor } from './cursor.js';

export interface PollerOptions {
  source: string;
  tenantId: string;
  fetcher: Fetcher;
  client: GraphClient;
  redis: Redis;
  prefix: string;
  /** This process's replica id (replica.ts): the lease's owner. */
  replicaId: string;
  emit: (records: AlertRecord[]) => Promise<EmitResult>;
  metrics: Metrics;
  logger: Logger;
  intervalMs: number | undefined;
  cron?: string;
  overlapMs: number;
  initialLookbackMs: number;
  /** Update times later than the poll's start plus this never move the watermark. */
  futureSkewMs: number;
  /** Late evidence: alerts created this long ago (ms) are listed once more, for each value. @defaultValue none */
  rereadAfterMs?: readonly number[];
  /** A window failing this long is reported as stuck (error log, metric, readiness detail). */
  stuckWindowAlertMs: number;
  /** `pipeline.takeover_ms`: how long the lease of a replica that stopped answering blocks the others. */
  takeoverMs: number;
  /** `redis.durability`'s wait, after a cursor move: a move it refuses fails the poll (logged, retried). */
  afterCursorMove?: () => Promise<void>;
  /** Health conditions seen by the polls (gaps, overflow, failures, refusals, silence): src/health/. */
  health?: HealthReporter;
  /** `expect_alerts_within_ms`: alert and incident resources silent this long are a health condition. */
  expectAlertsWithinMs?: number;
}

/** The resources whose silence says something (secure scores change daily at best). */
const SILENCE_MATTERS = new Set(['alerts_v2', 'alerts', 'incidents']);

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
  /** Items of Graph pages that were not objects: skipped and counted. */
  malformed: number;
  /** Objects dated past the ceiling (`future_skew_ms`): delivered, never a watermark. */
  future: number;
  /** Late-evidence re-reads of this poll, when there were any (not counted in the figures above). */
  reread?: { requests: number; fetched: number; accepted: number; duplicates: number; invalid: number };
}

export interface GapWindow {
  provider: string;
  /** ISO 8601 (sortable form). */
  from: string;
  to: string;
}

/** Moves a cursor field forward only (sortable times compare as strings): a poll never undoes a later move. */
const MOVE_FORWARD = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (not cur) or ARGV[2] > cur then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end
return 0`;

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
    const keys = keysFor(opts.prefix);
    this.lease = new Lease(
      opts.redis,
      keys.pollLease(opts.source, opts.fetcher.resource),
      opts.replicaId,
      opts.takeoverMs,
    );
    this.cursorKey = keys.cursor(opts.source, opts.fetcher.resource);
    this.log = opts.logger.child({
      component: 'poller',
      source: opts.source,
      tenant: opts.tenantId,
      resource: opts.fetcher.resource,
    });
  }

  get resource(): string {
    return this.opts.fetcher.resource;
  }

  get intervalMs(): number {
    return Math.max(this.opts.intervalMs ?? 0, this.opts.fetcher.minIntervalMs);
  }

  start(): void {
    if (this.opts.cron) {
      this.task = cron.schedule(this.opts.cron, (ctx) => this.tick(ctx.triggeredAt?.getTime() ?? Date.now()), {
        noOverlap: true,
      });
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
    return readCursor(this.opts.redis, this.cursorKey);
  }

  /** The window's failure streak once it has lasted `stuck_window_alert_ms`, for readiness; null otherwise. */
  async stuck(): Promise<{ failing_since: string; last_error?: string; watermark?: string } | null> {
    const c = await this.cursor();
    if (c.failing_since === undefined || Date.now() - c.failing_since < this.stuckMs) return null;
    return { failing_since: new Date(c.failing_since).toISOString(), last_error: c.last_error, watermark: c.watermark };
  }

  private get stuckMs(): number {
    return this.opts.stuckWindowAlertMs;
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
        try {
          return await this.pollWindow(fresh);
        } catch (err) {
          if (!this.closed) await this.failed(err);
          return null;
        }
      } finally {
        await this.lease.release();
      }
    })();
    this.running = run;
    try {
      return await run;
    } catch (err) {
      if (!this.closed)
        this.log.error(
          { err: errorSummary(err) },
          `poll of ${this.opts.fetcher.resource} for source '${this.opts.source}' (tenant ${this.opts.tenantId}) failed; cursor unchanged, retried at the next poll`,
        );
      return null;
    } finally {
      this.running = undefined;
    }
  }

  private due(cursor: Cursor, tickAt: number): boolean {
    if (cursor.last_started_at === undefined) return true;
    // Asked to poll now (cursor.ts), and no poll started since: as soon as the fetcher's minimum interval allows.
    if (
      cursor.poll_requested_at !== undefined &&
      cursor.poll_requested_at > cursor.last_started_at &&
      tickAt - cursor.last_started_at >= this.opts.fetcher.minIntervalMs
    )
      return true;
    if (this.opts.cron)
      return (
        cursor.last_started_at < tickAt - 1000 && tickAt - cursor.last_started_at >= this.opts.fetcher.minIntervalMs
      );
    return tickAt - cursor.last_started_at >= this.intervalMs;
  }

  /**
   * Reads one window from the watermark (minus the overlap) to now, then moves the watermark. Legacy alerts keep a
   * bound per failing provider (see {@link Cursor.lagging}); other resources hold the whole watermark on a gap.
   */
  async pollWindow(cursor: Cursor): Promise<PollSummary> {
    const { fetcher, metrics, source, overlapMs } = this.opts;
    const startedAt = Date.now();
    await this.opts.redis.hset(this.cursorKey, 'last_started_at', String(startedAt));
    let lost = false;
    this.lease.keepAlive(() => {
      lost = true;
      this.log.warn('poll lease lost: another replica may be polling; stopping this window');
    });
    const check = (): void => {
      if (lost) throw new Error('lease lost during the poll');
    };
    const ceiling = revisionOrder(new Date(startedAt + this.opts.futureSkewMs).toISOString())!;
    const sinceMs = cursor.watermark
      ? Date.parse(cursor.watermark) - overlapMs
      : startedAt - this.opts.initialLookbackMs;
    const { summary, maxSeen } = await this.readWindow(sinceMs, check, { ceiling });
    const perProvider = fetcher.perProvider === true;
    const lagging = { ...cursor.lagging };
    if (perProvider) {
      // A provider failing now keeps the bound it was complete to; one already lagging keeps its older one.
      const completeTo = cursor.watermark ?? revisionOrder(new Date(sinceMs).toISOString())!;
      for (const provider of summary.gaps) lagging[provider] ??= completeTo;
      for (const [provider, bound] of Object.entries(cursor.lagging ?? {})) {
        const alone = await this.readWindow(Date.parse(bound) - overlapMs, check, { ceiling, provider });
        mergeSummary(summary, alone.summary);
        if (!alone.summary.gaps.includes(provider)) {
          delete lagging[provider];
          this.log.info(
            { provider, from: bound },
            `provider '${provider}' answers again: its alerts since ${bound} were read`,
          );
        }
      }
    }
    // The watermark moves only once every record of the window is in Redis, and not at all past a provider gap
    // (legacy alerts: the failing providers are tracked in `lagging` instead): the next poll re-reads the window.
    let watermark = cursor.watermark;
    if (perProvider || summary.gaps.length === 0) {
      // Nothing new in a first window: the next one starts at this poll's start, not at the lookback again.
      const next = maxSeen ?? (cursor.watermark ? undefined : revisionOrder(new Date(startedAt).toISOString())!);
      if (next && (!watermark || next > watermark)) {
        await this.opts.redis.eval(MOVE_FORWARD, 1, this.cursorKey, 'watermark', next);
        await this.opts.afterCursorMove?.();
        watermark = next;
      }
    }
    if (perProvider && JSON.stringify(lagging) !== JSON.stringify(cursor.lagging ?? {})) {
      if (Object.keys(lagging).length) await this.opts.redis.hset(this.cursorKey, 'lagging', JSON.stringify(lagging));
      else await this.opts.redis.hdel(this.cursorKey, 'lagging');
    }
    summary.watermark = watermark;
    const reread = await this.rereads(startedAt);
    if (reread.requests) summary.reread = reread;
    if (fetcher.resource === 'alerts') await noteLegacyPoll(this.opts, this.log, summary.fetched);
    await this.succeeded(cursor);
    await this.reportHealth(summary, Object.keys(lagging), watermark);
    // The lag is that of the oldest bound still held: a provider in a gap shows as lag.
    const oldest = [watermark, ...Object.values(lagging)].filter((w): w is string => !!w).sort()[0];
    if (oldest)
      metrics.pollLag.set(
        { source, resource: fetcher.resource },
        Math.max(0, (Date.now() - Date.parse(oldest)) / 1000),
      );
    this.log.info(
      { ...summary, ...(Object.keys(lagging).length ? { lagging } : {}), ms: Date.now() - startedAt },
      'poll finished',
    );
    return summary;
  }

  /**
   * Reads everything updated since `sinceMs`, page by page, emitting each page before fetching the next; shared by
   * the poller and `alertbridge backfill` (which keeps no cursor). `beforePage` may throw to stop.
   */
  async readWindow(
    sinceMs: number,
    beforePage?: (summary: PollSummary) => void,
    opts: { ceiling?: string; provider?: string } = {},
  ): Promise<{ summary: PollSummary; maxSeen?: string }> {
    const { fetcher, client, source, metrics } = this.opts;
    const signal = this.abort.signal;
    const since = revisionOrder(new Date(sinceMs).toISOString())!;
    const ceiling = opts.ceiling ?? revisionOrder(new Date(Date.now() + this.opts.futureSkewMs).toISOString())!;
    let state: WindowState = {
      since,
      gaps: [],
      pages: 0,
      ceiling,
      ...(opts.provider ? { provider: opts.provider } : {}),
    };
    const summary: PollSummary = {
      pages: 0,
      fetched: 0,
      accepted: 0,
      duplicates: 0,
      invalid: 0,
      gaps: [],
      overflow: [],
      gap_windows: [],
      malformed: 0,
      future: 0,
    };
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
      for (const p of page.partial)
        this.log.warn(
          { provider: p.provider, status: p.status, latency_ms: p.latencyMs },
          'Graph answered 206: a provider failed; its alerts are re-read at the next poll',
        );
      for (const o of page.overflow ?? []) this.overflowed(o);
      if (page.malformed) {
        summary.malformed += page.malformed;
        metrics.graphMalformedItems.inc({ source, resource: fetcher.resource }, page.malformed);
        this.log.warn(
          { malformed: page.malformed, page: state.pages },
          `skipped ${page.malformed} malformed item(s) (not JSON objects) of a Graph page`,
        );
      }
      if (page.future?.length) {
        summary.future += page.future.length;
        metrics.graphFutureItems.inc({ source, resource: fetcher.resource }, page.future.length);
        this.log.warn(
          { ids: page.future.slice(0, 20), count: page.future.length, ceiling },
          `${page.future.length} object(s) dated in the future (after ${ceiling}): delivered, but they do not move the watermark`,
        );
      }
      summary.overflow.push(...(page.overflow ?? []));
      await this.emitObjects(page.objects, summary);
      summary.gaps = [...new Set(state.gaps)];
      if (page.done) break;
    }
    const end = revisionOrder(new Date().toISOString())!;
    for (const [provider, from] of open) summary.gap_windows.push({ provider, from, to: end });
    return { summary, maxSeen: state.maxSeen };
  }

  /**
   * A failed poll, under the lease: the cursor stays, and the failure streak is kept in the cursor so that every
   * replica sees it. Once it has lasted `stuck_window_alert_ms`, each failed poll says so as an error naming the
   * window and the command that skips it, and `alertbridge_poll_stuck_seconds` shows how long.
   */
  private async failed(err: unknown): Promise<void> {
    const { source, tenantId, fetcher, metrics } = this.opts;
    const message = errorSummary(err);
    const what = `poll of ${fetcher.resource} for source '${source}' (tenant ${tenantId})`;
    let since = Date.now();
    let watermark: string | undefined;
    try {
      await this.opts.redis.hsetnx(this.cursorKey, 'failing_since', String(since));
      await this.opts.redis.hset(this.cursorKey, 'last_error', message.slice(0, 1000));
      const c = await this.cursor();
      since = c.failing_since ?? since;
      watermark = c.watermark;
    } catch {
      // Redis itself failing: the error below says what failed; the streak is not recorded.
    }
    const failingMs = Date.now() - since;
    metrics.pollStuck.set({ source, resource: fetcher.resource }, failingMs >= this.stuckMs ? failingMs / 1000 : 0);
    await this.reportFailure(err, message, failingMs >= this.stuckMs ? { since, watermark } : undefined);
    if (failingMs < this.stuckMs) {
      this.log.error({ err: message }, `${what} failed; cursor unchanged, retried at the next poll`);
      return;
    }
    this.log.error(
      {
        err: message,
        failing_since: new Date(since).toISOString(),
        watermark: watermark ?? null,
        failing_ms: failingMs,
        stuck: true,
      },
      `${what} has failed on every poll for ${Math.round(failingMs / 60_000)} min: the window from ${watermark ?? 'the initial lookback'} is stuck and nothing newer is read. ` +
        `Fix the cause, or skip the window: alertbridge cursor skip --config <file> --source ${source} --resource ${fetcher.resource} [--to <ISO time>]`,
    );
  }

  /** A poll that went through: the failure streak ends, and an operator's skip is acknowledged in the log. */
  private async succeeded(before: Cursor): Promise<void> {
    const { source, fetcher, metrics } = this.opts;
    metrics.pollStuck.set({ source, resource: fetcher.resource }, 0);
    if (before.failing_since !== undefined) {
      await this.opts.redis.hdel(this.cursorKey, 'failing_since', 'last_error');
      this.log.info(
        { failing_since: new Date(before.failing_since).toISOString() },
        'the window is read again after failing polls',
      );
    }
    if (before.skipped_at !== undefined) {
      await this.opts.redis.hdel(this.cursorKey, 'skipped_at');
      this.log.warn(
        { skipped_at: new Date(before.skipped_at).toISOString(), watermark: before.watermark },
        `an operator skipped this window (alertbridge cursor skip); polling went on from ${before.watermark}: alertbridge cursor list shows what was skipped`,
      );
    }
  }

  private get subject(): Subject {
    return { source: this.opts.source, tenant_id: this.opts.tenantId, resource: this.opts.fetcher.resource };
  }

  /**
   * After a poll that went through: the providers still missing (a 206) with the window they left out, alerts the
   * paging passed over, and silence are this poll's conditions; the others of the resource (a failing window, a
   * refused permission) and the source's refused credentials end.
   */
  private async reportHealth(summary: PollSummary, lagging: string[], watermark: string | undefined): Promise<void> {
    const { health, source, fetcher, expectAlertsWithinMs } = this.opts;
    if (!health) return;
    const subject = this.subject;
    const what = `${fetcher.resource} of source '${source}' (tenant ${this.opts.tenantId})`;
    const seen: Condition[] = [];
    for (const provider of new Set([...summary.gaps, ...lagging])) {
      const windows = summary.gap_windows.filter((w) => w.provider === provider);
      const window = windows.length
        ? {
            from: windows.map((w) => w.from).sort()[0],
            to: windows
              .map((w) => w.to)
              .sort()
              .at(-1),
          }
        : undefined;
      seen.push({
        kind: 'provider_gap',
        subject,
        provider,
        message: `${what}: provider '${provider}' missing from Graph's answer (206)${window ? ` for ${window.from} to ${window.to}` : ''}; its alerts are re-read once it answers`,
        detail: { window: window ?? null },
      });
    }
    for (const o of summary.overflow) {
      // A legacy provider's alerts past the paging depth; or (alerts_v2, incidents) a window Graph counts but will not
      // page through, which is the resource's own.
      const provider = o.expected === undefined ? o.provider : undefined;
      if (seen.some((c) => c.kind === 'paging_overflow' && c.provider === provider)) continue;
      seen.push({
        kind: 'paging_overflow',
        subject,
        provider,
        message: `${what}: Graph's paging could not reach every object updated at ${o.at}${provider ? ` (provider '${provider}')` : ''}; ${o.read} read, the rest passed over`,
        detail: { window: { from: o.at, to: o.to ?? o.at }, read: o.read, expected: o.expected ?? null },
      });
    }
    if (expectAlertsWithinMs !== undefined && SILENCE_MATTERS.has(fetcher.resource) && watermark) {
      const silentMs = Date.now() - Date.parse(watermark);
      if (silentMs >= expectAlertsWithinMs)
        seen.push({
          kind: 'tenant_silent',
          subject,
          message: `${what}: nothing new since ${watermark} (expected within ${Math.round(expectAlertsWithinMs / 60_000)} min)`,
          detail: { since: watermark, expect_alerts_within_ms: expectAlertsWithinMs },
        });
    }
    await health.observe(subject, seen, { clears: POLL_KINDS });
    await health.observe(sourceWide(source, this.opts.tenantId), [], { clears: ['credentials_refused'] });
  }

  /** After a failed poll: refused credentials or permission at once; a window failing once it is stuck. */
  private async reportFailure(
    err: unknown,
    message: string,
    stuck: { since: number; watermark?: string } | undefined,
  ): Promise<void> {
    const { health, source, tenantId, fetcher } = this.opts;
    if (!health) return;
    const what = `${fetcher.resource} of source '${source}' (tenant ${tenantId})`;
    const status = err instanceof GraphRequestError ? err.status : undefined;
    const error = message.slice(0, 500);
    if (err instanceof GraphRequestError && (status === 401 || err.code === 'auth_error')) {
      const subject = sourceWide(source, tenantId);
      await health.observe(subject, [
        {
          kind: 'credentials_refused',
          subject,
          message: `source '${source}' (tenant ${tenantId}): the credentials are refused; nothing is read until they are fixed`,
          detail: { error, resource: fetcher.resource },
        },
      ]);
    }
    const seen: Condition[] = [];
    if (status === 403)
      seen.push({
        kind: 'permission_refused',
        subject: this.subject,
        message: `${what}: Graph refuses the read (403); the app lacks the permission or its admin consent`,
        detail: { error },
      });
    if (stuck)
      seen.push({
        kind: 'window_failing',
        subject: this.subject,
        message: `${what}: every poll since ${new Date(stuck.since).toISOString()} failed; the window from ${stuck.watermark ?? 'the initial lookback'} is stuck`,
        detail: { failing_since: new Date(stuck.since).toISOString(), watermark: stuck.watermark ?? null, error },
      });
    await health.observe(this.subject, seen);
  }

  /** Normalizes and emits what Graph returned; the counts go into `summary`. */
  private async emitObjects(
    objects: GraphObject[],
    summary: Pick<PollSummary, 'accepted' | 'duplicates' | 'invalid'>,
  ): Promise<void> {
    const { fetcher, source, emit } = this.opts;
    const records: AlertRecord[] = [];
    const now = new Date();
    for (const obj of objects) {
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
  }

  /**
   * Late evidence (Defender adds entities and evidence to an alert after it is first listed, sometimes without moving
   * lastUpdateDateTime): alerts created `d` ago are listed once more, for each `d` of `late_evidence.reread_after_ms`.
   * Each delay keeps its own bound in the cursor (`reread:{d}`, a createdDateTime) and costs at most one list request
   * per poll, taken from the tenant's budget like any other; a window larger than a page is finished at the next
   * poll. The records go through dedup like any other. A failed re-read is logged and tried again next poll.
   */
  private async rereads(
    startedAt: number,
  ): Promise<{ requests: number; fetched: number; accepted: number; duplicates: number; invalid: number }> {
    const { fetcher, client } = this.opts;
    const out = { requests: 0, fetched: 0, accepted: 0, duplicates: 0, invalid: 0 };
    if (!fetcher.reread) return out;
    for (const delay of this.opts.rereadAfterMs ?? []) {
      const field = `reread:${delay}`;
      const target = revisionOrder(new Date(startedAt - delay).toISOString())!;
      const bound = await this.opts.redis.hget(this.cursorKey, field);
      if (!bound) {
        // From now on: the first window read everything older.
        await this.opts.redis.hset(this.cursorKey, field, target);
        continue;
      }
      if (bound >= target) continue;
      try {
        out.requests++;
        const page = await fetcher.reread(client, bound, target, this.abort.signal);
        out.fetched += page.objects.length;
        await this.emitObjects(page.objects, out);
        await this.opts.redis.eval(MOVE_FORWARD, 1, this.cursorKey, field, page.next ?? target);
      } catch (err) {
        if (this.closed) throw err;
        this.log.warn(
          { err: errorSummary(err), delay_ms: delay, from: bound, to: target },
          'late-evidence re-read failed; tried again at the next poll',
        );
      }
    }
    return out;
  }

  /** Never silent: alerts Graph's paging cannot reach are an error in the log and a metric. */
  private overflowed(o: Overflow): void {
    const { source, tenantId, fetcher, metrics } = this.opts;
    if (o.expected !== undefined) {
      metrics.graphWindowIncomplete.inc({ source, resource: fetcher.resource });
      this.log.error(
        { from: o.at, to: o.to ?? null, expected: o.expected, read: o.read },
        `${fetcher.resource} of source '${source}' (tenant ${tenantId}): Graph counted ${o.expected} objects updated ${o.to === o.at ? `at ${o.at}` : `from ${o.at}`} but answered only ${o.read}; the rest could not be read and were passed over`,
      );
      return;
    }
    metrics.graphPagingOverflow.inc({ source, resource: fetcher.resource, provider: o.provider });
    this.log.error(
      { provider: o.provider, at: o.at, read: o.read },
      `${fetcher.resource} of source '${source}' (tenant ${tenantId}): provider '${o.provider}' has at least ${o.read} alerts with lastModifiedDateTime ${o.at}; Graph's paging ($skip ≤ 500, $top ≤ 1000) reaches only the first ${o.read}: any beyond were skipped`,
    );
  }
}

/** Adds the figures of a provider's own read to the poll's. */
function mergeSummary(into: PollSummary, add: PollSummary): void {
  for (const k of ['pages', 'fetched', 'accepted', 'duplicates', 'invalid', 'malformed', 'future'] as const)
    into[k] += add[k];
  into.gaps = [...new Set([...into.gaps, ...add.gaps])];
  into.overflow.push(...add.overflow);
  into.gap_windows.push(...add.gap_windows);
}

function errorSummary(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
