/**
 * The request budget of one tenant, shared by every resource and every replica: a sliding window in Redis (a sorted
 * set, Redis's own clock), so Graph never sees more than N requests of the tenant in any 60 s. Graph allows 150
 * requests per minute per app per tenant on security resources; throttled requests count too.
 *
 * Graph counts a request when it arrives, which is later than the moment its slot is taken: milliseconds of transit,
 * or seconds when the request waits in the client's connection queue. Counting slots at their take time let a request
 * taken at the very end of one window arrive in Graph's next one, beside a full window's worth (N + 1 in 60 s). So a
 * slot is held from its take until the request's answer is back, and each member's score is the end of that hold:
 * - take: the member is added with score `now + holdMs`, in the future, so it counts for as long as it is in flight
 *   (`holdMs` bounds the flight: the client abandons a request that has no answer by then; it also bounds how long a
 *   crashed process's slots stay taken);
 * - release, once the response headers are here (or the request is known never to have left): the score becomes
 *   `now`, a time at or after the request's arrival at Graph. A request that failed without an answer may still be
 *   on its way, so its slot is not released: it keeps the end of its hold;
 * - a take counts every member whose score is within the last 60 s (in-flight ones always), and succeeds under N.
 * Why that is safe: suppose some 60 s of arrivals (s, s + 60] held N + 1 requests; let k be the last of them to take
 * its slot, at T_k <= its arrival <= s + 60. Every other one, i, took its slot before T_k, and at T_k its member's
 * score (its hold's end, or its release) was at or after its arrival > s >= T_k - 60: counted. So k saw N members
 * and would have waited. The cost is each request's own latency added to its minute (about 1% for 0.5 s answers).
 */
import type { Redis } from 'ioredis';

// KEYS[1] = window set; ARGV[1] = limit, ARGV[2] = window ms, ARGV[3] = unique member, ARGV[4] = hold ms.
// Returns 0 when a slot was taken, else the ms to wait until the earliest member leaves the window (a member in
// flight leaves it a window after its release, so at least a window from now: the caller looks again by then).
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]) + window + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
`;

// KEYS[1] = window set; ARGV[1] = window ms, ARGV[2] = member. The member's score becomes now (added back if it was
// trimmed, which only a request held past its hold allows: counting it again is the safe side).
const RELEASE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]) + tonumber(ARGV[1]) + 1000)
return 0
`;

/** A slot taken: release it once the request's answer is back (or the request failed for good or for this try). */
export interface BudgetSlot {
  /** How long the take waited for the slot (ms). */
  waited: number;
  /** Ends the hold: the slot counts from now for one window. Never throws (a slot not released ends at its hold). */
  release(): Promise<void>;
}

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

  /**
   * Waits for a slot and holds it for at most `holdMs` (the request must be answered or abandoned by then); the wait
   * is reported so callers can log and count it. Aborts with the signal.
   */
  async take(signal?: AbortSignal, holdMs = 60_000): Promise<BudgetSlot> {
    let waited = 0;
    for (;;) {
      signal?.throwIfAborted();
      const member = `${process.pid}:${Date.now()}:${this.seq++}:${Math.random()}`;
      const wait = (await this.redis.eval(
        TAKE,
        1,
        this.key,
        this.perMinute,
        this.windowMs,
        member,
        Math.max(0, Math.ceil(holdMs)),
      )) as number;
      if (wait === 0) {
        if (waited === 0) this.found();
        return { waited, release: () => this.release(member) };
      }
      const since = (this.exhaustedSince ??= Date.now());
      this.watch?.exhausted(Date.now() - since);
      const ms = Math.min(wait + Math.floor(Math.random() * 50), this.windowMs);
      waited += ms;
      await sleep(ms, signal);
      if (this.exhaustedSince !== undefined) this.watch?.exhausted(Date.now() - this.exhaustedSince);
    }
  }

  private async release(member: string): Promise<void> {
    try {
      await this.redis.eval(RELEASE, 1, this.key, this.windowMs, member);
    } catch {
      // Redis unreachable: the slot keeps its hold's end as its time, later than the request's arrival (safe side).
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
