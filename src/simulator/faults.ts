/**
 * Fault injection for Graph routes: random 429s and 503s at configured rates (drawn from a seeded PRNG, so a run is
 * repeatable), Graph's 150-requests-per-minute budget per app per tenant, and the list of failing legacy providers.
 * Knobs change at run time; a change applies to the next request.
 */
import { Random } from './generate-random.js';
import { graphError, type SimRequest, type SimResponse } from './http-util.js';
import type { SimulatorFaults, SimulatorFaultsUpdate } from './types.js';

/** Graph's documented example value: fractional, to catch clients that parse `Retry-After` as an integer. */
export const DEFAULT_RETRY_AFTER_S = 2.128;
const WINDOW_MS = 60_000;

/** Graph's error code and message for the statuses `errorStatus` is mostly used with. */
const ERRORS: Record<number, [string, string]> = {
  400: ['BadRequest', 'Invalid request.'],
  403: ['Forbidden', 'Insufficient privileges to complete the operation.'],
  404: ['NotFound', 'The requested resource does not exist.'],
  410: ['Gone', 'The requested resource is no longer available.'],
  500: ['InternalServerError', 'An internal server error occurred.'],
  502: ['BadGateway', 'Bad gateway.'],
  503: ['ServiceUnavailable', 'The service is temporarily unavailable. Please retry later.'],
};

export class FaultState {
  private current: SimulatorFaults = {};
  private readonly rnd: Random;
  /** Request times (ms) per `tenant/client` in the last minute, for the budget. */
  private readonly windows = new Map<string, number[]>();
  /** With `revokeTokens: 'issued'`: tokens with an issue number up to this one are refused. */
  private revokedThrough = 0;

  /** @param issuedTokens how many access tokens the authority has issued so far (for `revokeTokens`). */
  constructor(
    seed: number,
    initial: SimulatorFaults = {},
    private readonly issuedTokens: () => number = () => 0,
  ) {
    this.rnd = new Random(seed ^ 0x5eed);
    this.set(initial);
  }

  get faults(): Readonly<SimulatorFaults> {
    return this.current;
  }

  /** Merges `faults` in; keys set to null or undefined are reset. Throws RangeError on out-of-range values. */
  set(faults: SimulatorFaultsUpdate): void {
    for (const key of ['throttleRate', 'unavailableRate'] as const) {
      const v = faults[key];
      if (v != null && !(v >= 0 && v <= 1)) throw new RangeError(`${key} must be between 0 and 1, got ${String(v)}`);
    }
    for (const key of ['retryAfterS', 'slowMs', 'slowTokenMs', 'tokenLifetimeS', 'requestBudgetPerMinute'] as const) {
      const v = faults[key];
      if (v != null && !(typeof v === 'number' && v >= 0))
        throw new RangeError(`${key} must be a non-negative number, got ${String(v)}`);
    }
    const commit = faults.commitThenFail;
    if (commit != null && !(Number.isInteger(commit) && commit >= 0))
      throw new RangeError(`commitThenFail must be a non-negative integer, got ${String(commit)}`);
    const status = faults.errorStatus;
    if (status != null && !(Number.isInteger(status) && status >= 400 && status <= 599))
      throw new RangeError(`errorStatus must be an HTTP status 400..599, got ${String(status)}`);
    const revoke = faults.revokeTokens;
    if (revoke != null && revoke !== 'issued' && revoke !== 'all')
      throw new RangeError(`revokeTokens must be 'issued' or 'all', got ${String(revoke)}`);
    if (revoke === 'issued') this.revokedThrough = this.issuedTokens();
    const retired = faults.legacyRetired;
    if (retired != null && typeof retired !== 'boolean')
      throw new RangeError(`legacyRetired must be true or false, got ${String(retired)}`);
    const next: Record<string, unknown> = { ...this.current };
    for (const [k, v] of Object.entries(faults)) {
      if (v === null || v === undefined) delete next[k];
      else next[k] = v;
    }
    this.current = next as SimulatorFaults;
  }

  /** Legacy providers whose results are left out (206). */
  partialProviders(): string[] {
    const p = this.current.partialProvider;
    return p ? (Array.isArray(p) ? p : [p]) : [];
  }

  /** Whether Graph refuses the token with issue number `seq` although it is valid (`revokeTokens`). */
  revoked(seq: number | undefined): boolean {
    const mode = this.current.revokeTokens;
    return mode === 'all' || (mode === 'issued' && (seq ?? 0) <= this.revokedThrough);
  }

  /** True when this applied write is to be answered 500 (`commitThenFail`); counts the knob down. */
  takeCommitThenFail(): boolean {
    const n = this.current.commitThenFail ?? 0;
    if (n <= 0) return false;
    this.current = { ...this.current, commitThenFail: n - 1 };
    return true;
  }

  slowMs(): number {
    return this.current.slowMs ?? 0;
  }

  /**
   * The fault that answers this Graph request instead of the route, or null. The budget is checked first (every
   * request counts, throttled ones too, as in Graph); then the random 429 and 503 draws.
   */
  intercept(req: SimRequest, tenantId: string, clientId: string): SimResponse | null {
    const budget = this.current.requestBudgetPerMinute;
    if (budget) {
      const waitS = this.countAgainstBudget(req.now.getTime(), `${tenantId}/${clientId}`, budget);
      if (waitS !== undefined) return this.throttled(req, waitS, 'budget');
    }
    const status = this.current.errorStatus;
    if (status) {
      const [code, message] = ERRORS[status] ?? [
        status < 500 ? 'BadRequest' : 'InternalServerError',
        `Simulated HTTP ${status}.`,
      ];
      return { ...graphError(req, status, code, message), log: { fault: 'error' } };
    }
    const throttle = this.current.throttleRate ?? 0;
    if (throttle > 0 && this.rnd.next() < throttle)
      return this.throttled(req, this.current.retryAfterS ?? DEFAULT_RETRY_AFTER_S, 'throttle');
    const unavailable = this.current.unavailableRate ?? 0;
    if (unavailable > 0 && this.rnd.next() < unavailable) {
      const retryAfter = formatSeconds(this.current.retryAfterS ?? DEFAULT_RETRY_AFTER_S);
      const r = graphError(
        req,
        503,
        'ServiceUnavailable',
        'The service is temporarily unavailable. Please retry later.',
        { 'retry-after': retryAfter },
      );
      return { ...r, log: { fault: 'unavailable' } };
    }
    return null;
  }

  /**
   * Counts a request arriving at `now` the way Graph's rolling minute does: the requests of the app and tenant that
   * arrived in (now - 60 s, now], this one and throttled ones included. Over the budget: the seconds until a request
   * would be let through again, else undefined. Times are kept in arrival order (requests are handled a few ms
   * apart, not always in the order they arrived) and for two minutes, so a late-handled request is counted right.
   */
  private countAgainstBudget(now: number, key: string, budget: number): number | undefined {
    const times = (this.windows.get(key) ?? []).filter((t) => t > now - 2 * WINDOW_MS);
    let at = times.length;
    while (at > 0 && (times[at - 1] as number) > now) at--;
    times.splice(at, 0, now);
    this.windows.set(key, times);
    let first = at;
    while (first > 0 && (times[first - 1] as number) > now - WINDOW_MS) first--;
    const inWindow = at - first + 1;
    if (inWindow <= budget) return undefined;
    // Once the oldest `inWindow - budget` of them have left, this one and budget - 1 others remain: room for one.
    return Math.max(0.001, ((times[first + inWindow - budget] as number) + WINDOW_MS - now) / 1000);
  }

  /** A 429 shaped like Graph's documented sample (`throttling-429-response.json`). */
  private throttled(req: SimRequest, retryAfterS: number, fault: string): SimResponse {
    const r = graphError(req, 429, 'TooManyRequests', 'Please retry again later.', {
      'retry-after': formatSeconds(retryAfterS),
    });
    const body = r.body as { error: { innerError: Record<string, string> } };
    body.error.innerError = {
      code: '429',
      date: req.now.toISOString().slice(0, 19),
      message: 'Please retry after',
      'request-id': req.requestId,
      status: '429',
    };
    return { ...r, log: { fault } };
  }
}

/** Seconds as Graph writes them: up to three decimals, no trailing zeros (`2.128`, `30`). */
function formatSeconds(s: number): string {
  return String(Math.round(s * 1000) / 1000);
}
