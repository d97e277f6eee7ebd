/**
 * The one backoff of alertbridge: exponential, capped, with "equal jitter" (half the delay fixed, half random, so
 * the retries of many replicas spread out yet never come back at once), and never sooner than a peer's Retry-After.
 * Used by sink delivery retries (pipeline/retry.ts), the Graph client, the stream consumer loops, the notification
 * worker's re-fetch schedule and Redis reconnection.
 */
export interface BackoffPolicy {
  /** Delay before the first retry (before jitter). */
  initialMs: number;
  /** Longest delay (before jitter). */
  maxMs: number;
  /**
   * Equal jitter (the default): the delay is drawn from [d/2, d]. `false` for a delay that is a threshold rather
   * than a sleep (compared with an entry's idle time), or a loop that wants a predictable rhythm.
   */
  jitter?: boolean;
}

export interface BackoffOptions {
  /** The peer's Retry-After, in ms: the delay is never shorter. */
  retryAfterMs?: number;
  /** For tests: a replacement of Math.random. */
  random?: () => number;
}

/** Delay before retry number `attempt` (1 = the first retry): `initialMs × 2^(attempt−1)`, at most `maxMs`. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, opts: BackoffOptions = {}): number {
  const exp = policy.initialMs > 0 ? Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1)) : 0;
  const delay = policy.jitter === false ? exp : exp / 2 + (opts.random ?? Math.random)() * (exp / 2);
  return Math.round(Math.max(delay, opts.retryAfterMs ?? 0));
}
