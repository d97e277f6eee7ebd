/**
 * A poller's cursor in Redis (one hash per source and resource) and the operator's way past a window that keeps
 * failing: `alertbridge cursor skip` moves the watermark forward and records what was skipped, in a list beside the
 * cursor that `alertbridge cursor list` shows and the poller logs when it next polls.
 */
import { hostname, userInfo } from 'node:os';
import type { Redis } from 'ioredis';
import { keysFor } from '../../pipeline/keys.js';
import { revisionOrder } from '../../record/revision.js';

export interface Cursor {
  watermark?: string;
  last_started_at?: number;
  /**
   * Legacy alerts: providers that failed (206) and the bound each was last read completely to. The watermark moves
   * on for the others; each of these is read alone from its own bound until it answers.
   */
  lagging?: Record<string, string>;
  /** Since when (ms) every poll of the window has failed; unset once one succeeds. */
  failing_since?: number;
  /** The error of the last failed poll. */
  last_error?: string;
  /** Set by `cursor skip`, cleared once the poller has logged it. */
  skipped_at?: number;
  /**
   * Set (ms) by another component that wants this window read now rather than at the next interval (the Defender
   * stream announcing a burst of new alerts): the next tick polls if no poll started since.
   */
  poll_requested_at?: number;
}

/** One operator skip, as recorded. */
export interface CursorSkip {
  /** When the skip was made, ISO 8601. */
  at: string;
  source: string;
  resource: string;
  /** The watermark before (absent: the resource had never been read). */
  from?: string;
  /** The new watermark: alerts updated between `from` and `to` were not read. */
  to: string;
  /** The failing window's last error and since when it failed, when it was failing. */
  last_error?: string;
  failing_since?: string;
  reason?: string;
  by: string;
}

export const cursorKey = (prefix: string, source: string, resource: string): string =>
  keysFor(prefix).cursor(source, resource);
export const skipsKey = (prefix: string, source: string, resource: string): string =>
  keysFor(prefix).cursorSkips(source, resource);

export async function readCursor(redis: Redis, key: string): Promise<Cursor> {
  const raw = await redis.hgetall(key);
  const lagging = raw.lagging ? (JSON.parse(raw.lagging) as Record<string, string>) : undefined;
  const num = (v: string | undefined): number | undefined => (v ? Number(v) : undefined);
  return Object.fromEntries(
    Object.entries({
      watermark: raw.watermark || undefined,
      last_started_at: num(raw.last_started_at),
      lagging: lagging && Object.keys(lagging).length ? lagging : undefined,
      failing_since: num(raw.failing_since),
      last_error: raw.last_error || undefined,
      skipped_at: num(raw.skipped_at),
      poll_requested_at: num(raw.poll_requested_at),
    }).filter(([, v]) => v !== undefined),
  ) as Cursor;
}

/** Skips kept per (source, resource); the oldest go past this. */
const MAX_SKIPS = 1000;

/**
 * Moves the watermark forward to `to` (never back: re-reading is what `backfill` is for), drops the legacy
 * providers' bounds older than it, clears the failure streak, and records the skip. Returns the record.
 */
export async function skipCursor(
  redis: Redis,
  prefix: string,
  source: string,
  resource: string,
  to: Date,
  reason?: string,
): Promise<CursorSkip> {
  const key = cursorKey(prefix, source, resource);
  const cursor = await readCursor(redis, key);
  const target = revisionOrder(to.toISOString())!;
  if (cursor.watermark && cursor.watermark >= target) {
    throw new RangeError(
      `the watermark of ${source}/${resource} is already at ${cursor.watermark}, not before ${target}: nothing to skip (to re-read, use alertbridge backfill)`,
    );
  }
  const skip: CursorSkip = {
    at: new Date().toISOString(),
    source,
    resource,
    ...(cursor.watermark ? { from: cursor.watermark } : {}),
    to: target,
    ...(cursor.last_error ? { last_error: cursor.last_error } : {}),
    ...(cursor.failing_since ? { failing_since: new Date(cursor.failing_since).toISOString() } : {}),
    ...(reason ? { reason } : {}),
    by: `${safeUser()}@${hostname()}`,
  };
  const lagging = Object.fromEntries(Object.entries(cursor.lagging ?? {}).filter(([, bound]) => bound >= target));
  const tx = redis
    .multi()
    .hset(key, 'watermark', target, 'skipped_at', String(Date.now()))
    .hdel(key, 'failing_since', 'last_error')
    .rpush(skipsKey(prefix, source, resource), JSON.stringify(skip))
    .ltrim(skipsKey(prefix, source, resource), -MAX_SKIPS, -1);
  if (Object.keys(lagging).length) tx.hset(key, 'lagging', JSON.stringify(lagging));
  else tx.hdel(key, 'lagging');
  await tx.exec();
  return skip;
}

export async function listSkips(redis: Redis, prefix: string, source: string, resource: string): Promise<CursorSkip[]> {
  return (await redis.lrange(skipsKey(prefix, source, resource), 0, -1)).map((s) => JSON.parse(s) as CursorSkip);
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
