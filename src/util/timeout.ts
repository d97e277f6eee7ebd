/** Bounding a wait on a peer that may never answer (a blackholed Redis accepts the connection, then stays silent). */

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * Settles as `work` does, or rejects with a TimeoutError naming `what` after `ms`. `work` itself goes on: a write
 * that lands after the timeout still lands, so a caller must treat a timeout as "unknown", never as "not done".
 */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
