/** Backoff and error classification shared by every sink (STYLE.md: the two error kinds are the whole contract). */
import { PermanentError, RetryableError } from '../util/errors.js';

export interface RetryPolicy {
  /** Delivery attempts per record before it is dead-lettered. @defaultValue 10 */
  max_attempts: number;
  /** @defaultValue 1000 */
  initial_backoff_ms: number;
  /** @defaultValue 300000 */
  max_backoff_ms: number;
}

export type ErrorKind = 'permanent' | 'retryable' | 'bug';

export function classify(err: unknown): ErrorKind {
  if (err instanceof PermanentError || (err as Error | undefined)?.name === 'PermanentError') return 'permanent';
  if (err instanceof TypeError || err instanceof ReferenceError) return 'bug';
  return 'retryable';
}

/**
 * Delay before retry number `attempt` (1 = first retry): exponential with "equal jitter" (half fixed, half
 * random, so retries of many workers spread out but never come back immediately), capped, and never sooner than
 * the peer's Retry-After.
 */
export function backoffMs(policy: RetryPolicy, attempt: number, err?: unknown, random = Math.random): number {
  const exp = Math.min(policy.max_backoff_ms, policy.initial_backoff_ms * 2 ** Math.max(0, attempt - 1));
  const jittered = exp / 2 + random() * (exp / 2);
  const retryAfter = err instanceof RetryableError ? (err.retryAfterMs ?? 0) : 0;
  return Math.round(Math.max(jittered, retryAfter));
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
