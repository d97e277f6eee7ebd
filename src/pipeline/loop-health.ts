/**
 * What a consumer loop (the dispatcher, the notification worker) tells readiness: whether it can make progress.
 *
 * A loop that keeps failing (Redis gone, a consumer group that cannot be recreated) or that has not finished a round
 * for `staleMs` (a blocking read stuck on a dead connection) is not ready, and says why: `/readyz` answers 503 with
 * the reason instead of 200 while pushes pile up undelivered.
 */
export interface LoopStatus {
  ok: boolean;
  /** Why not, when not ok. */
  reason?: string;
  /** When the loop last finished a round (a read, even an empty one, and what it read handled). */
  lastProgressAt: number;
}

/** Redis replies that mean state the loop relies on is gone (a Redis restarted empty, a failover, a FLUSHALL). */
export function isStateVanished(err: unknown): boolean {
  const message = String((err as Error | undefined)?.message ?? err);
  // NOGROUP: no such key or consumer group. UNBLOCKED: the stream was deleted under a blocked XREADGROUP (Redis ≥ 7.2).
  return /^(NOGROUP|UNBLOCKED)\b/.test(message) || message.includes('no longer exists');
}

export class LoopHealth {
  private lastProgressAt = Date.now();
  private failingSince?: number;
  private error?: string;

  /** @param staleMs a loop with no finished round for this long is reported stuck */
  constructor(
    private readonly name: string,
    private readonly staleMs: number,
  ) {}

  progressed(): void {
    this.lastProgressAt = Date.now();
    this.failingSince = undefined;
    this.error = undefined;
  }

  failed(err: unknown): void {
    this.failingSince ??= Date.now();
    this.error = (err as Error | undefined)?.message ?? String(err);
  }

  status(now = Date.now()): LoopStatus {
    const { lastProgressAt } = this;
    if (this.failingSince !== undefined) {
      return {
        ok: false,
        lastProgressAt,
        reason: `${this.name} failing for ${Math.round((now - this.failingSince) / 1000)} s: ${this.error}`,
      };
    }
    if (now - lastProgressAt > this.staleMs) {
      return {
        ok: false,
        lastProgressAt,
        reason: `${this.name} has not finished a round for ${Math.round((now - lastProgressAt) / 1000)} s`,
      };
    }
    return { ok: true, lastProgressAt };
  }
}
