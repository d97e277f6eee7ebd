/**
 * The paused state of a sink whose peer refuses its credentials (a disabled HEC token, a wrong SASL password or
 * ACL, a refused Event Hubs key), or lacks its destination (a Kafka topic with auto-create off, an event hub): only
 * an operator can fix that, and it is the same for every record, so the sink pauses instead of dead-lettering
 * (peers-lessons #7). `ready()` reports it (`/readyz`, `alertbridge_sink_ready`),
 * and deliveries fail as retryable not sooner than `auth_pause_ms`, which the pipeline holds without spending their
 * attempts. The pause belongs to the sink, not to a delivery: it is logged once when it starts and once when it ends.
 *
 * `run` adds the probing a sink with many deliveries in flight wants (splunk_hec): while paused, the peer is asked
 * again at most once per `auth_pause_ms`, by one delivery for all; the ones arriving meanwhile wait for its verdict,
 * and those arriving later in the same period are held without a request.
 */
import type { Logger } from 'pino';
import { RetryableError } from '../types.js';

/** Default `auth_pause_ms`: an operator has to act, and hammering the peer will not help. */
export const AUTH_PAUSE_MS = 60_000;

export interface AuthPauseOptions {
  /** `auth_pause_ms`. @defaultValue AUTH_PAUSE_MS */
  pauseMs?: number;
  logger: Logger;
  /** Fields of the two log lines (e.g. the peer's address; never a secret). */
  fields?: Record<string, unknown>;
  /** The error log line when the pause starts, from why the peer refused. */
  pausedLine: (why: string) => string;
  /** The info log line when it ends. */
  resumedLine: string;
  /** Ends the error of a refused delivery: "; sink paused until {until}" ("the token is fixed"). */
  until: string;
  /** The error of a delivery `run` holds without asking the peer, due again in `dueInMs`. */
  heldMessage?: (dueInMs: number) => string;
  /** What `/readyz` says while paused, from why the peer refused. @defaultValue the reason itself */
  readiness?: (why: string) => string;
}

export class AuthPause {
  private pausedNow = false;
  private why = '';
  /** When the peer was last asked while paused (or refused first): the next probe is due `pauseMs` later. */
  private probedAt = 0;
  private probe: Promise<unknown> | undefined;
  readonly pauseMs: number;

  constructor(private readonly opts: AuthPauseOptions) {
    this.pauseMs = opts.pauseMs ?? AUTH_PAUSE_MS;
  }

  get paused(): boolean {
    return this.pausedNow;
  }

  /** Why the sink is paused, for `/readyz`; undefined when it is not. */
  get reason(): string | undefined {
    return this.pausedNow ? (this.opts.readiness?.(this.why) ?? this.why) : undefined;
  }

  /** The peer refused the credentials. Logged once per outage: the moment it broke matters, not every retry. */
  refused(why: string): void {
    if (this.pausedNow) return;
    this.pausedNow = true;
    this.why = why;
    this.probedAt = Date.now();
    this.opts.logger.error(this.opts.fields ?? {}, this.opts.pausedLine(why));
  }

  /** The peer accepted a request: deliveries go ahead again. */
  accepted(): void {
    if (!this.pausedNow) return;
    this.pausedNow = false;
    this.opts.logger.info(this.opts.resumedLine);
  }

  /** The error of a delivery refused for the credentials: retried not sooner than `auth_pause_ms`. */
  refusal(message: string, cause?: unknown): RetryableError {
    return new RetryableError(`${message}; sink paused until ${this.opts.until}`, {
      cause,
      retryAfterMs: this.pauseMs,
    });
  }

  /**
   * Runs `deliver` when the sink is not paused, or as this period's probe; otherwise waits for the probe in flight
   * and decides again, or throws a RetryableError without asking the peer. Decided synchronously up to the probe,
   * so deliveries started together never probe twice.
   */
  async run<T>(deliver: () => Promise<T>): Promise<T> {
    while (this.pausedNow) {
      if (this.probe) {
        await this.probe.catch(() => undefined);
        continue;
      }
      const dueIn = this.probedAt + this.pauseMs - Date.now();
      if (dueIn > 0)
        throw new RetryableError(this.opts.heldMessage?.(dueIn) ?? `sink paused; asked again in ${dueIn} ms`, {
          retryAfterMs: dueIn,
        });
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
