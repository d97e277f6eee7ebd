/**
 * Applies one source's queued write-back changes to Graph. One replica at a time works a source's queue (a lease,
 * as for polling), one change after the other in stream order, so two changes to one alert land in the order they
 * were accepted — also across takeovers: the lease's holder first takes over every change read and not finished (by
 * whichever replica), and a change waits while one before it is claimed by a replica that stopped (its claim runs
 * out) or retried; claims, `patch_sent` records and reads are fenced by the lease (queue.ts), so a replica that lost
 * it sends nothing more. A change that keeps failing ends `failed` after `max_attempts` (also when every attempt
 * stopped the replica applying it), and the next one goes.
 *
 * Per change: a fresh GET of the object (the truth to compare with), then
 * - `conflict` when `expected_revision` is older than the object's revision — Graph's or the newest alertbridge has
 *   seen (its dedup state), whichever is newer — nothing is written;
 * - `noop` when nothing would change (every field already has its value, the comment is already there), nothing is
 *   written: a SIEM re-sending the state alertbridge just delivered does not loop;
 * - else the comment (`POST …/comments`), then `PATCH` with only the fields that differ; Graph's answer is emitted at
 *   once as a new revision (`via: sync`), so sinks see it before the next poll (which dedup then absorbs).
 * Every request spends the tenant's shared budget (the source's GraphClient), and throttling follows its rules.
 *
 * Exactly one PATCH per accepted change: `patch_sent` is recorded before the PATCH goes out and the outcome with
 * the stream acknowledgement after. A worker that died in between leaves the change `applying`; the next attempt
 * reads the object again, and when it already carries the change, records `applied` without a second PATCH.
 *
 * Failures: 403 (the app lacks the ReadWrite permission), 400 and 404 are permanent — one error naming the source,
 * tenant and cause, the change `failed` and dead-lettered. 429/5xx/network after the client's own retries are tried
 * again later, up to `max_attempts`.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { keysFor } from '../pipeline/keys.js';
import { isStateVanished, LoopHealth, type LoopStatus } from '../pipeline/loop-health.js';
import type { EmitResult } from '../pipeline/pipeline.js';
import { normalize } from '../record/normalize.js';
import { revisionOrder } from '../record/revision.js';
import type { AlertRecord } from '../record/types.js';
import { sleep } from '../sources/graph/budget.js';
import { GraphRequestError, type GraphClient } from '../sources/graph/client.js';
import { Lease } from '../sources/graph/lease.js';
import { changedFields, GRAPH_PROPERTY, hasComment, patchBody, type SyncChange } from './change.js';
import { SyncQueue, type ChangeRecord, type SyncOutcome, type SyncOutcomeKind } from './queue.js';

export interface SyncApplierOptions {
  source: string;
  tenantId: string;
  client: GraphClient;
  /** Commands (the app's shared connection). */
  redis: Redis;
  /** A connection of its own for the blocking stream read. */
  blockingRedis: Redis;
  prefix: string;
  queue: SyncQueue;
  emit: (records: AlertRecord[]) => Promise<EmitResult>;
  /** Outcome records for the sinks that take them (none yet: undefined). */
  emitOutcome?: (outcome: SyncOutcome) => Promise<void>;
  metrics: Metrics;
  logger: Logger;
  owner: string;
  /** The lease's lifetime: how long a dead replica blocks the queue. */
  takeoverMs: number;
  maxAttempts: number;
  outcomeTtlMs: number;
  /** First wait before trying a failing change again (doubles, at most 5 min). @defaultValue 1000 */
  retryBaseMs?: number;
  /**
   * The Graph client's request timeout: a claim recorded as a request goes out lasts twice this plus 5 s (at least
   * `takeoverMs`), as long as the client may still send it, so a replica taking the change over does not act while
   * that request may still reach Graph (the source's `request_timeout_ms`).
   */
  requestTimeoutMs: number;
}

/**
 * How a change's turn ended: finished (an outcome, or nothing left to do), another replica's claim on it still runs
 * (it and every later change wait), or this replica no longer holds the source's lease.
 */
type Turn = 'done' | 'busy' | 'lost';

/** Another replica took the change over (this one lost its lease and claim): stop without an outcome. */
class ClaimLostError extends Error {
  override name = 'ClaimLostError';
}

/** Why a change cannot be applied however often it is tried. */
class PermanentSyncError extends Error {
  override name = 'PermanentSyncError';
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

const PERMISSION: Record<string, string> = {
  alerts_v2: 'SecurityAlert.ReadWrite.All',
  incidents: 'SecurityIncident.ReadWrite.All',
};

export class SyncApplier {
  private readonly abort = new AbortController();
  private readonly lease: Lease;
  private readonly log: Logger;
  private loop?: Promise<void>;
  private held = false;
  /**
   * Stuck after five minutes without a finished round or attempt (a read blocks 1 s; an attempt may wait for the
   * tenant's budget or a Retry-After, and counts when it ends, applied or not).
   */
  private readonly health = new LoopHealth('sync worker', 300_000);

  constructor(private readonly opts: SyncApplierOptions) {
    this.lease = new Lease(opts.redis, opts.queue.keys.lease, opts.owner, opts.takeoverMs);
    this.log = opts.logger.child({ component: 'sync', source: opts.source, tenant: opts.tenantId });
  }

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => {
      if (!this.abort.signal.aborted) this.log.error({ err }, 'sync worker stopped');
    });
  }

  /** Whether the loop makes progress (for readiness). */
  status(): LoopStatus {
    return this.health.status();
  }

  /** Idempotent; a change in flight is abandoned where it is (it stays pending and is resumed by the next holder). */
  async close(): Promise<void> {
    this.abort.abort(new Error('sync worker stopped'));
    await this.loop;
    if (this.held) await this.lease.release();
    this.held = false;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const { queue } = this.opts;
    while (!signal.aborted) {
      try {
        if (!this.held) {
          if (!(await this.lease.acquire())) {
            await sleep(Math.max(200, Math.floor(this.opts.takeoverMs / 3)), signal);
            continue;
          }
          this.held = true;
          this.lease.keepAlive(() => {
            this.held = false;
            this.log.warn('sync lease lost; another replica applies this source changes now');
          });
          await queue.ensureGroup();
        }
        // Strictly in stream order (the order accepted): the oldest unfinished change first — whichever replica read
        // it, and whether it waits for another attempt or was left by a replica that died or lost the lease — and a
        // change never before the one ahead of it has an outcome. So a later change to an object cannot be applied
        // before an earlier one, and an earlier one never overwrites a later one.
        const took = await queue.take(this.opts.owner, 20);
        if (took === 'lost') {
          await this.lost();
          continue;
        }
        if (took.entries.length === 0) await this.waitForNew(took.last);
        for (const { entryId, changeId } of took.entries) {
          if (signal.aborted || !this.held) break;
          // A pending entry whose message was deleted has no change: nothing to do.
          const turn: Turn = changeId ? await this.process(entryId, changeId) : await this.ackEmpty(entryId);
          if (turn === 'busy') {
            // Another replica (which held the lease before us) is applying it: its claim runs out, or it finishes.
            await sleep(1000, signal);
            break;
          }
          if (turn === 'lost') {
            await this.lost();
            break;
          }
        }
        this.health.progressed();
      } catch (err) {
        if (signal.aborted) return;
        this.health.failed(err);
        this.log.warn({ err: (err as Error).message }, 'sync worker: Redis failed; retrying');
        // Redis restarted empty (or the stream was deleted): the group is made again; queued changes were lost with it.
        if (isStateVanished(err)) await queue.ensureGroup().catch(() => undefined);
        await sleep(1000, signal).catch(() => undefined);
      }
    }
  }

  /** The lease is another replica's (or expired): stop working the queue, and try to get the lease again. */
  private async lost(): Promise<void> {
    if (this.held) this.log.warn('sync lease lost; another replica applies this source changes now');
    this.held = false;
    await this.lease.release();
  }

  private async ackEmpty(entryId: string): Promise<Turn> {
    await this.opts.queue.ack(entryId);
    return 'done';
  }

  /** Blocks (at most a second) until an entry newer than `last` is queued. */
  private async waitForNew(last: string): Promise<void> {
    await this.opts.blockingRedis.xread('COUNT', 1, 'BLOCK', 1000, 'STREAMS', this.opts.queue.keys.queue, last);
  }

  /**
   * Applies one change to its end: an outcome, or (retryable failure) a wait and another attempt. `busy` and `lost`
   * leave it pending for the lease's holder.
   */
  private async process(entryId: string, changeId: string): Promise<Turn> {
    const { queue } = this.opts;
    const signal = this.abort.signal;
    for (;;) {
      const before = await queue.claim(changeId, this.opts.owner, this.opts.takeoverMs);
      if (before === 'busy' || before === 'lost') return before;
      if (before !== 'queued' && before !== 'applying') {
        await queue.ack(entryId); // gone (expired) or finished already
        return 'done';
      }
      const rec = (await queue.get(changeId))!;
      this.health.progressed();
      if (rec.attempts > this.opts.maxAttempts) {
        // Every attempt so far ended without an outcome (the replica applying it died or lost its lease each time):
        // a change that stops every replica trying it must not hold the changes after it forever.
        const reason =
          `gave up after ${rec.attempts - 1} attempts that ended without an outcome (the replica applying it stopped or lost its lease each time)` +
          (rec.patchSent || rec.commentSent ? '; a request had gone out, so Graph may carry the change' : '');
        this.log.error(
          { change_id: changeId },
          `sync of change ${changeId} for source '${this.opts.source}': ${reason}`,
        );
        await this.finish(entryId, this.outcome(rec, 'failed', { reason }));
        return 'done';
      }
      try {
        await this.finish(entryId, await this.apply(rec));
        return 'done';
      } catch (err) {
        if (signal.aborted) throw err;
        if (err instanceof ClaimLostError) {
          this.log.warn({ change_id: changeId }, err.message);
          return 'lost';
        }
        if (err instanceof PermanentSyncError) {
          this.log.error({ change_id: changeId, resource: rec.change.resource, id: rec.change.id }, err.message);
          await this.finish(entryId, this.outcome(rec, 'failed', { graphStatus: err.status, reason: err.message }));
          return 'done';
        }
        const message = (err as Error).message;
        if (rec.attempts >= this.opts.maxAttempts) {
          const reason = `gave up after ${rec.attempts} attempts: ${message}`;
          this.log.error(
            { change_id: changeId },
            `sync of change ${changeId} for source '${this.opts.source}': ${reason}`,
          );
          const status = err instanceof GraphRequestError ? err.status : null;
          await this.finish(entryId, this.outcome(rec, 'failed', { graphStatus: status, reason }));
          return 'done';
        }
        const wait = Math.min(300_000, (this.opts.retryBaseMs ?? 1000) * 2 ** (rec.attempts - 1));
        this.log.warn(
          { change_id: changeId, attempt: rec.attempts, retry_in_ms: wait, err: message },
          'sync: change not applied yet; trying again',
        );
        await sleep(wait, signal);
      }
    }
  }

  private async finish(entryId: string, outcome: SyncOutcome): Promise<void> {
    await this.opts.queue.finish(outcome.change_id, entryId, outcome, this.opts.outcomeTtlMs);
    this.opts.metrics.syncChanges.inc({ source: this.opts.source, outcome: outcome.outcome });
    this.log.info(
      {
        change_id: outcome.change_id,
        outcome: outcome.outcome,
        resource: outcome.resource,
        id: outcome.id,
        fields: outcome.fields.map((f) => f.field),
      },
      `sync change ${outcome.outcome}`,
    );
    await this.opts
      .emitOutcome?.(outcome)
      .catch((err: Error) =>
        this.log.warn({ err: err.message, change_id: outcome.change_id }, 'sync: outcome record not queued'),
      );
  }

  private async apply(rec: ChangeRecord): Promise<SyncOutcome> {
    const { change } = rec;
    const path = `/security/${change.resource}/${encodeURIComponent(change.id)}`;
    const current = await this.graph('GET', path, change);
    const normalized = normalize(change.resource, current.body, {
      source: this.opts.source,
      via: 'sync',
      tenantId: this.opts.tenantId,
    });
    if (!normalized.ok) throw new PermanentSyncError(`Graph returned an unusable object: ${normalized.reason}`, 200);
    const object = current.body;
    const revision = normalized.record.revision;
    const resumed = rec.patchSent || rec.commentSent;
    const base = { revisionBefore: revision, graphStatus: current.status, object, key: normalized.record.key };

    if (change.expected_revision && !resumed) {
      const newest = await this.newestOrder(normalized.record.key, revision);
      const expected = revisionOrder(change.expected_revision);
      if (newest.order !== null && expected !== null && newest.order > expected) {
        return this.outcome(rec, 'conflict', {
          ...base,
          reason: `expected_revision ${change.expected_revision} is older than the ${newest.which} revision ${newest.revision}: the object changed since the analyst decided; nothing was written`,
        });
      }
    }
    const body = patchBody(change, object);
    const comment = change.comment !== undefined && !hasComment(object, change.comment) ? change.comment : undefined;
    if (Object.keys(body).length === 0 && comment === undefined) {
      // A resumed change whose request reached Graph before the crash: applied, by that request.
      return this.outcome(rec, resumed ? 'applied' : 'noop', {
        ...base,
        revisionAfter: resumed ? revision : null,
        reason: resumed ? 'applied by an earlier attempt (found in Graph after a restart)' : null,
      });
    }
    let updated: Record<string, unknown> | undefined;
    let status = current.status;
    if (comment !== undefined) {
      const r = await this.graph(
        'POST',
        `${path}/comments`,
        change,
        { '@odata.type': 'microsoft.graph.security.alertComment', comment },
        () => this.mark(rec.id, 'comment_sent'),
      );
      status = r.status;
    }
    if (Object.keys(body).length) {
      const r = await this.graph('PATCH', path, change, body, () => this.mark(rec.id, 'patch_sent'));
      status = r.status;
      updated = r.body;
    } else {
      updated = (await this.graph('GET', path, change)).body;
    }
    const emitted = normalize(change.resource, updated, {
      source: this.opts.source,
      via: 'sync',
      tenantId: this.opts.tenantId,
    });
    if (emitted.ok) {
      await this.opts
        .emit([emitted.record])
        .catch((err: Error) =>
          this.log.warn(
            { err: err.message, change_id: rec.id },
            'sync: the updated object was not queued; the next poll brings it',
          ),
        );
    }
    return this.outcome(rec, 'applied', {
      ...base,
      graphStatus: status,
      revisionAfter: emitted.ok ? emitted.record.revision : null,
    });
  }

  /** Right before each attempt of a request that writes: only while this replica's lease and claim hold. */
  private async mark(id: string, what: 'patch_sent' | 'comment_sent'): Promise<void> {
    // The client abandons a request that has no answer twice its timeout after it took its budget slot (+5 s for
    // bytes on their way): until then, the request may still reach Graph.
    const claimMs = Math.max(this.opts.takeoverMs, 2 * this.opts.requestTimeoutMs + 5_000);
    if (!(await this.opts.queue.mark(id, what, this.opts.owner, claimMs)))
      throw new ClaimLostError(`sync: change ${id} was taken over by another replica; not sending it from this one`);
  }

  /** The newest revision known: Graph's now, or a newer one alertbridge accepted (dedup state). */
  private async newestOrder(
    key: string,
    graphRevision: string,
  ): Promise<{ order: string | null; revision: string; which: 'current' | 'last delivered' }> {
    const graphOrder = revisionOrder(graphRevision);
    const state = await this.opts.redis.get(keysFor(this.opts.prefix).dedup(key));
    const seen = state?.split('#', 1)[0];
    if (seen && graphOrder !== null && /^\d/.test(seen) && seen > graphOrder)
      return { order: seen, revision: `(order ${seen})`, which: 'last delivered' };
    return { order: graphOrder, revision: graphRevision, which: 'current' };
  }

  private async graph(
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    change: SyncChange,
    body?: unknown,
    beforeSend?: () => Promise<void>,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    try {
      const r = await this.opts.client.request<Record<string, unknown>>(method, path, change.resource, {
        signal: this.abort.signal,
        body,
        beforeSend,
        // A comment POST sent twice is two comments: after a 5xx the change is tried again from its GET, which shows
        // whether the comment arrived. A PATCH with the same fields is safe to resend.
        idempotent: method !== 'POST',
        headers: { prefer: 'include-unknown-enum-members' },
      });
      return { status: r.status, body: r.body };
    } catch (err) {
      if (!(err instanceof GraphRequestError)) throw err;
      const where = `sync ${method} ${change.resource}/${change.id} for source '${this.opts.source}' (tenant ${this.opts.tenantId})`;
      if (err.status === 403) {
        const permission = PERMISSION[change.resource]!;
        throw new PermanentSyncError(
          `${where}: Graph answered 403 Forbidden: the app lacks the application permission ${permission}` +
            (method === 'GET' ? ` (or its read form)` : '') +
            `; grant it to the app registration and give admin consent in the tenant, then send the change again. The change is dead-lettered.`,
          403,
        );
      }
      if (err.status === 404)
        throw new PermanentSyncError(`${where}: Graph has no such object (404); the change is dead-lettered`, 404);
      if (err.status === 400)
        throw new PermanentSyncError(`${where}: Graph refused the change (400 ${err.code}); it is dead-lettered`, 400);
      throw err;
    }
  }

  private outcome(
    rec: ChangeRecord,
    kind: SyncOutcomeKind,
    o: {
      object?: Record<string, unknown>;
      key?: string;
      revisionBefore?: string | null;
      revisionAfter?: string | null;
      graphStatus?: number | null;
      reason?: string | null;
    },
  ): SyncOutcome {
    const { change } = rec;
    return {
      schema: 'alertbridge.sync_outcome/v1',
      change_id: rec.id,
      source: this.opts.source,
      tenant_id: this.opts.tenantId,
      resource: change.resource,
      id: change.id,
      key: o.key ?? change.key ?? null,
      outcome: kind,
      requested_by: rec.requestedBy,
      requested_at: rec.requestedAt,
      finished_at: new Date().toISOString(),
      fields: changedFields(change).map((f) => ({
        field: GRAPH_PROPERTY[f],
        from: o.object ? (o.object[GRAPH_PROPERTY[f]] ?? null) : null,
        to: change[f] ?? null,
      })),
      comment: change.comment ?? null,
      expected_revision: change.expected_revision ?? null,
      revision_before: o.revisionBefore ?? null,
      revision_after: o.revisionAfter ?? null,
      graph_status: o.graphStatus ?? null,
      reason: o.reason ?? null,
      attempts: rec.attempts,
    };
  }
}
