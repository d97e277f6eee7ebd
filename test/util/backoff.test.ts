import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/util/backoff.js';

const fixed = (r: number) => () => r;

describe('backoffDelay', () => {
  it('doubles from initialMs with each attempt, up to maxMs', () => {
    const policy = { initialMs: 100, maxMs: 1000, jitter: false };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(policy, a))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('treats attempt 0 (and below) as the first retry', () => {
    const policy = { initialMs: 100, maxMs: 1000, jitter: false };
    expect(backoffDelay(policy, 0)).toBe(100);
    expect(backoffDelay(policy, -3)).toBe(100);
  });

  it('jitters by default within [d/2, d] ("equal jitter"), never below half', () => {
    const policy = { initialMs: 1000, maxMs: 60_000 };
    expect(backoffDelay(policy, 3, { random: fixed(0) })).toBe(2000);
    expect(backoffDelay(policy, 3, { random: fixed(0.5) })).toBe(3000);
    expect(backoffDelay(policy, 3, { random: fixed(0.999999) })).toBe(4000);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(policy, 3);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });

  it('caps before the jitter: a capped delay stays within [maxMs/2, maxMs]', () => {
    const policy = { initialMs: 1000, maxMs: 5000 };
    expect(backoffDelay(policy, 30, { random: fixed(0) })).toBe(2500);
    expect(backoffDelay(policy, 30, { random: fixed(0.999999) })).toBe(5000);
  });

  it('never answers sooner than a Retry-After, even past maxMs; a shorter one changes nothing', () => {
    const policy = { initialMs: 100, maxMs: 1000, jitter: false };
    expect(backoffDelay(policy, 1, { retryAfterMs: 30_000 })).toBe(30_000);
    expect(backoffDelay(policy, 4, { retryAfterMs: 50 })).toBe(800);
    expect(backoffDelay({ initialMs: 100, maxMs: 1000 }, 1, { retryAfterMs: 7000, random: fixed(1) })).toBe(7000);
  });

  it('stays finite for huge attempt counts and a zero initial delay', () => {
    expect(backoffDelay({ initialMs: 250, maxMs: 30_000, jitter: false }, 10_000)).toBe(30_000);
    expect(backoffDelay({ initialMs: 0, maxMs: 30_000 }, 10_000)).toBe(0);
    expect(backoffDelay({ initialMs: 0, maxMs: 30_000 }, 1, { retryAfterMs: 10 })).toBe(10);
  });
});
