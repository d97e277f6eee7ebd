/** Bounding a wait on a peer that may never answer (a blackholed Redis accepts the connection, then stays silent). */

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * Settles as `work` does, or rejects with a TimeoutError naming `what` after `ms` (or with the signal's reason when
 * it aborts first). `work` itself goes on: a write that lands after the timeout still lands, so a caller must
 * treat a timeout as "unknown", never as "not done".
 */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  work.catch(() => undefined); // a late rejection after the timeout is nobody's to handle
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms (${what})`)), ms);
    onAbort = () => reject(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, timeout]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  });
}
