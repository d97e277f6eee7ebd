/**
 * The CI slice of `npm run chaos -- --only cluster`: `alertbridge run` on a 3-primary / 3-replica Redis Cluster
 * (`redis.cluster`), records pushed and polled, a primary killed with kill -9 midway and its replica promoted. The
 * daemon keeps going without a restart, loses no acknowledged record with `redis.durability.replicas: 1` (counted at
 * the file sink), and its log (at debug level) holds no CROSSSLOT error. No timing assertions.
 */
import { describe, expect, it } from 'vitest';
import { clusterFailover } from '../../bench/chaos/sentinel-failover.js';

describe('chaos: Redis Cluster primary killed', () => {
  it('keeps going through a kill -9 of a cluster primary, no CROSSSLOT, no acknowledged record lost (replicas: 1)', async () => {
    const r = await clusterFailover({ records: 2000, replicas: 1, perSecond: 150, seed: 37, log: console.log });
    console.log(
      `${r.scenario}: sent ${r.sent}, delivered ${r.delivered}, lost ${r.lost}, duplicated ${r.duplicated}; ${r.notes.join('; ')}`,
    );
    expect(r.sent).toBe(2000);
    // (problems include "CROSSSLOT in the daemon log" and "the daemon exited")
    expect(r.problems).toEqual([]);
    expect(r.lost).toBe(0);
  }, 240_000);
});
