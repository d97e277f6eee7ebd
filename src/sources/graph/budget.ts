/**
 * The request budget of one tenant, shared by every resource and every replica: a sliding window in Redis
 * (a sorted set of request times, Redis's own clock), so the poller never exceeds N requests in any 60 s.
 * Graph allows 150 requests per minute per app per tenant on security resources; throttled requests count too.
 */
import type { Redis } from 'ioredis';

// KEYS[1] = window set; ARGV[1] = limit, ARGV[2] = window ms, ARGV[3] = unique member.
// Returns 0 when a slot was taken, else the ms to wait until the oldest request leaves the window.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window * 2)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
`;

/** Told how long this process's requests have found the budget exhausted, and when they find a slot again. */
export interface BudgetWatch {
  /** Every request since `ms` ago had to wait for a slot (called at each wait). */
  exhausted(ms: number): void;
  /** A request found a slot without waiting, after waits (and at most once a minute otherwise). */
  available(): void;
}

export class RequestBudget {
  private seq = 0;
  /** Since when every request of this process had to wait; undefined while slots are found at once. */
  private exhaustedSince?: number;
  private availableSaidAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly perMinute: number,
    private readonly windowMs = 60_000,
    private readonly watch?: BudgetWatch,
  ) {}

  /** Waits for a slot; the wait is reported so callers can log and count it. Aborts with the signal. */
  async take(signal?: AbortSignal): Promise<number> {
    let waited = 0;
    for (;;) {
      signal?.throwIfAborted();
      const member = `${process.pid}:${Date.now()}:${this.seq++}:${Math.random()}`;
      const wait = (await this.redis.eval(TAKE, 1, this.key, this.perMinute, this.windowMs, member)) as number;
      if (wait === 0) {
        if (waited === 0) this.found();
        return waited;
      }
      const since = (this.exhaustedSince ??= Date.now());
      this.watch?.exhausted(Date.now() - since);
      const ms = Math.min(wait + Math.floor(Math.random() * 50), this.windowMs);
      waited += ms;
      await sleep(ms, signal);
      if (this.exhaustedSince !== undefined) this.watch?.exhausted(Date.now() - this.exhaustedSince);
    }
  }

  private found(): void {
    const now = Date.now();
    if (this.exhaustedSince === undefined && now - this.availableSaidAt < 60_000) return;
    this.exhaustedSince = undefined;
    this.availableSaidAt = now;
    this.watch?.available();
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
