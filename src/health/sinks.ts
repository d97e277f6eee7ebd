/**
 * Health conditions of sinks, told by the sink workers: a sink paused on refused credentials or a missing
 * destination (`sink_paused`), and records dead-lettered (`dead_letters`, one condition per burst with its count).
 * Their records go to the other sinks that opt in (src/pipeline/filter.ts).
 */
import type { Condition } from './conditions.js';
import type { HealthReporter } from './reporter.js';

/** A paused sink is told again (its last sighting) at most this often per replica. */
const PAUSED_EVERY_MS = 10_000;
/** A sink delivering is told (which ends a pause another replica saw) at most this often per replica. */
const DELIVERING_EVERY_MS = 30_000;

export class SinkHealth {
  private readonly pausedAt = new Map<string, number>();
  private readonly deliveringAt = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  /** @param reportWindowMs each sink's `dead_letter.report_window_ms` */
  constructor(
    private readonly reporter: HealthReporter,
    private readonly reportWindowMs: ReadonlyMap<string, number>,
  ) {}

  /** The sink is paused (its `ready()` is false after a delivery attempt). */
  paused(sink: string, why: string | undefined): void {
    const now = Date.now();
    if (now - (this.pausedAt.get(sink) ?? 0) < PAUSED_EVERY_MS) return;
    this.pausedAt.set(sink, now);
    const subject = { sink };
    void this.reporter.observe(subject, [
      {
        kind: 'sink_paused',
        subject,
        message: `sink '${sink}' is paused${why ? `: ${why}` : ''}; its records wait in its queue`,
        detail: { reason: why ?? null },
      },
    ]);
  }

  /** The sink's peer accepted records: a pause (seen by any replica) ends. */
  delivered(sink: string): void {
    const now = Date.now();
    const wasPaused = this.pausedAt.delete(sink);
    if (!wasPaused && now - (this.deliveringAt.get(sink) ?? 0) < DELIVERING_EVERY_MS) return;
    this.deliveringAt.set(sink, now);
    void this.reporter.observe({ sink }, [], { clears: ['sink_paused'] });
  }

  /** Records were dead-lettered at the sink. */
  deadLettered(sink: string, count: number, error: string | undefined): Promise<void> {
    const subject = { sink };
    const c: Condition = {
      kind: 'dead_letters',
      subject,
      message: `sink '${sink}' dead-lettered records (alertbridge dlq list --sink ${sink})`,
      detail: { error: error?.slice(0, 500) ?? null },
      count,
    };
    return this.reporter.observe(subject, [c]);
  }

  /** Ends the dead-letter conditions of sinks that added none for their report window; every `everyMs`. */
  start(everyMs = 15_000): void {
    const sweep = async (): Promise<void> => {
      for (const [sink, quietMs] of this.reportWindowMs)
        await this.reporter.observe({ sink }, [], { clears: ['dead_letters'], quietMs });
    };
    this.timer = setInterval(() => void sweep(), everyMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
