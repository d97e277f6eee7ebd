/** The CI slice of `npm run chaos`: Redis killed and restarted (AOF) in the middle of a stream; nothing lost. */
import { describe, expect, it } from 'vitest';
import { redisRestart } from '../../bench/chaos/redis-restart.js';

describe('chaos: Redis restart', () => {
  it('loses no acknowledged record when redis-server is killed and restarted mid-stream', async () => {
    const r = await redisRestart({ records: 3000, downMs: 2000, restarts: 1, seed: 7 });
    console.log(
      `${r.scenario}: sent ${r.sent}, delivered ${r.delivered}, lost ${r.lost}, duplicated ${r.duplicated}; ${r.notes.join('; ')}`,
    );
    expect(r.sent).toBe(3000);
    expect(r.problems).toEqual([]);
    expect(r.lost).toBe(0);
  }, 110_000);
});
