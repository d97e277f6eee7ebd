/**
 * The paused state of a `splunk_hec` sink: HEC refused the token (401/403, codes 1–4). It belongs to the sink,
 * not to a delivery: while paused, HEC is asked again at most once per `auth_pause_ms` however many batches are
 * queued. One delivery probes; deliveries that arrive meanwhile wait for its verdict, and the ones that arrive
 * later in the same period are held without a request (retryable, not sooner than the next probe is due).
 */
import type { Logger } from 'pino';
import { RetryableError } from './types.js';

export class HecAuthPause {
  private pausedNow = false;
  /** When HEC was last asked while paused (or refused the token first): the next probe is due `pauseMs` later. */
  private probedAt = 0;
  private probe: Promise<unknown> | undefined;

  constructor(
    private readonly pauseMs: number,
    private readonly action: string,
    private readonly logger: Logger,
    private readonly name: string,
    private readonly url: string,
  ) {}

  get paused(): boolean {
    return this.pausedNow;
  }

  /** HEC refused the token. Logged once per outage: the moment it broke matters, not every retry. */
  refused(why: string): void {
    if (this.pausedNow) return;
    this.pausedNow = true;
    this.probedAt = Date.now();
    this.logger.error({ url: this.url }, `splunk_hec '${this.name}' paused: HEC refused the token (${why}); records stay queued until it is fixed`);
  }

  /** HEC accepted a request: deliveries go ahead again. */
  accepted(): void {
    if (!this.pausedNow) return;
    this.pausedNow = false;
    this.logger.info(`splunk_hec '${this.name}' resumed: HEC accepts the token`);
  }

  /** The error of a delivery refused for the token: retried when the next probe is due. */
  refusal(text: string): RetryableError {
    return new RetryableError(`${this.action}: ${text}; sink paused until the token is fixed`, { retryAfterMs: this.pauseMs });
  }

  /**
   * Runs `deliver` when the sink is not paused, or as this period's probe; otherwise waits for the probe in flight
   * and decides again, or throws a RetryableError without asking HEC. Decided synchronously up to the probe, so
   * deliveries started together never probe twice.
   */
  async run<T>(deliver: () => Promise<T>): Promise<T> {
    while (this.pausedNow) {
      if (this.probe) {
        await this.probe.catch(() => undefined);
        continue;
      }
      const dueIn = this.probedAt + this.pauseMs - Date.now();
      if (dueIn > 0) {
        throw new RetryableError(`${this.action}: sink paused (HEC refused the token); HEC is asked again in ${dueIn} ms, by one delivery for all`, { retryAfterMs: dueIn });
      }
      this.probedAt = Date.now();
      const probe = deliver();
      this.probe = probe;
      try {
        return await probe;
      } finally {
        this.probe = undefined;
      }
    }
    return deliver();
  }
}
