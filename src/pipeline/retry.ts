/** Backoff and error classification shared by every sink (STYLE.md: the two error kinds are the whole contract). */
import { PermanentError, RetryableError } from '../util/errors.js';
import { backoffDelay } from '../util/backoff.js';

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
 * Delay before a sink's retry number `attempt` (1 = first retry): the shared backoff (util/backoff.ts) with the
 * sink's `retry` settings, never sooner than the Retry-After the sink's error carries.
 */
export function backoffMs(policy: RetryPolicy, attempt: number, err?: unknown): number {
  return backoffDelay({ initialMs: policy.initial_backoff_ms, maxMs: policy.max_backoff_ms }, attempt, {
    retryAfterMs: err instanceof RetryableError ? err.retryAfterMs : undefined,
  });
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
