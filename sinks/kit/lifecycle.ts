/**
 * The lifecycle every sink shares (STYLE.md): `start()` returns quickly (a peer that is down must not stop the
 * daemon, so connecting happens in the background); `close()` is idempotent, safe without `start()`, and drains the
 * deliveries in flight before releasing the sink's resources; a delivery after close fails as retryable (the record
 * stays queued for the next run).
 */
import { RetryableError } from '../../src/util/errors.js';

export class Lifecycle {
  private closing: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  /** @param what the sink in words, for the error of a delivery after close ("kafka sink 'main'"). */
  constructor(private readonly what: string) {}

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Runs `task` without waiting for it; a failure goes to `onError` (it is retried on the first delivery). */
  background(task: () => Promise<unknown>, onError: (err: unknown) => void): void {
    task().catch(onError);
  }

  /** Runs one delivery, tracked so that close() waits for it; refused once the sink is closing. */
  track<T>(deliver: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new RetryableError(`${this.what} is closed`));
    let p: Promise<T>;
    try {
      p = deliver();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    this.inFlight.add(p);
    const done = (): void => void this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Closes once: `interrupt` first (e.g. abort waits that only a live sink needs), then waits for the deliveries in
   * flight, then `release`. Later calls return the same promise.
   */
  close(release: () => unknown = () => undefined, interrupt: () => void = () => undefined): Promise<void> {
    return (this.closing ??= (async () => {
      interrupt();
      await Promise.allSettled([...this.inFlight]);
      await release();
    })());
  }
}
