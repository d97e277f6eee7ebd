/**
 * The CI slice of `npm run chaos -- --only sentinel`: `alertbridge run` on Redis Sentinel (a primary, two replicas,
 * three sentinels), records pushed and polled, the primary killed with kill -9 midway. The daemon follows the
 * promoted replica without a restart and, with `redis.durability.replicas: 1`, loses no acknowledged record (counted
 * at the file sink). No timing assertions: the failover time is printed, not checked.
 */
import { describe, expect, it } from 'vitest';
import { sentinelFailover } from '../../bench/chaos/sentinel-failover.js';

describe('chaos: Sentinel failover', () => {
  it('keeps going through a kill -9 of the Redis primary and loses no acknowledged record (durability.replicas: 1)', async () => {
    const r = await sentinelFailover({ records: 2000, replicas: 1, perSecond: 150, seed: 31, log: console.log });
    console.log(
      `${r.scenario}: sent ${r.sent}, delivered ${r.delivered}, lost ${r.lost}, duplicated ${r.duplicated}; ${r.notes.join('; ')}`,
    );
    expect(r.sent).toBe(2000);
    expect(r.problems).toEqual([]);
    expect(r.lost).toBe(0);
  }, 240_000);
});
