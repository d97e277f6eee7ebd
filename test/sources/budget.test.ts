import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/pipeline/redis.js';
import { RequestBudget } from '../../src/sources/graph/budget.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('budget');
afterAll(() => deletePrefix(prefix));

describe('per-tenant request budget', () => {
  it('never lets two replicas together exceed N requests in any window', async () => {
    const a = connect({ url: redisUrl() });
    const b = connect({ url: redisUrl() });
    const key = `${prefix}:budget:tenant`;
    // 6 per 800 ms stands in for Graph's 150 per 60 s; the mechanism is the same.
    const replicas = [new RequestBudget(a, key, 6, 800), new RequestBudget(b, key, 6, 800)];
    const times: number[] = [];
    await Promise.all(replicas.map(async (budget) => {
      for (let i = 0; i < 12; i++) {
        await budget.take();
        times.push(Date.now());
      }
    }));
    times.sort((x, y) => x - y);
    expect(times).toHaveLength(24);
    // 24 requests at 6 per window need at least 3 full windows
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(3 * 800 - 50);
    for (let i = 0; i < times.length; i++) {
      const inWindow = times.filter((t) => t >= times[i]! && t < times[i]! + 750).length;
      expect(inWindow).toBeLessThanOrEqual(6);
    }
    a.disconnect();
    b.disconnect();
  });

  it('stops waiting when aborted', async () => {
    const r = connect({ url: redisUrl() });
    const budget = new RequestBudget(r, `${prefix}:budget:abort`, 1, 60_000);
    await budget.take();
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('closing')), 100);
    await expect(budget.take(ac.signal)).rejects.toThrow('closing');
    r.disconnect();
  });
});
