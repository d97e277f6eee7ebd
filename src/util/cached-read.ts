/**
 * A value read from a peer in the background, at most once per `maxAgeMs`, for readers that must not wait on the
 * peer for long (a metrics scrape). A reader starts a refresh when the value is older than `maxAgeMs` (unless one is
 * under way), waits for it at most `waitMs`, and otherwise gets the last value (undefined before the first read).
 */
export class CachedRead<T> {
  private value?: T;
  private readAt = Number.NEGATIVE_INFINITY;
  private inflight?: Promise<void>;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly waitMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  async get(): Promise<T | undefined> {
    if (!this.inflight && Date.now() - this.readAt >= this.maxAgeMs) {
      const started = Date.now();
      this.inflight = this.read()
        .then((v) => {
          this.value = v;
          this.readAt = started;
        }, this.onError)
        .finally(() => (this.inflight = undefined));
    }
    if (this.inflight) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.inflight, new Promise((r) => (timer = setTimeout(r, this.waitMs)))]);
      clearTimeout(timer);
    }
    return this.value;
  }
}
