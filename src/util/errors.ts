/**
 * The two error kinds every component speaks (STYLE.md: they are the whole contract between a sink and the retry
 * machinery), and the HTTP classification sinks and the Graph client share. Sinks reach them through sinks/kit.ts.
 */

/** Never retried: the record (or batch) goes to the sink's dead-letter queue with this error. */
export class PermanentError extends Error {
  override name = 'PermanentError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Retried with backoff, and not sooner than `retryAfterMs` when the peer said so (429/503 Retry-After). */
export class RetryableError extends Error {
  override name = 'RetryableError';
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * Classifies an HTTP status the way every HTTP sink should: 429, 408 and 5xx except 501 retry; other 4xx are
 * permanent. `retryAfter` is the raw Retry-After header (seconds, possibly fractional, or an HTTP date).
 */
export function classifyHttpStatus(status: number, message: string, retryAfter?: string | null): Error | null {
  if (status >= 200 && status < 300) return null;
  const retryAfterMs = parseRetryAfter(retryAfter);
  if (status === 429 || status === 408 || (status >= 500 && status !== 501)) {
    return new RetryableError(message, { retryAfterMs });
  }
  return new PermanentError(message);
}

/** Retry-After as milliseconds: delta-seconds (fractional accepted, e.g. `2.128`) or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
