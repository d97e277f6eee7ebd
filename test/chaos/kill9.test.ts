/**
 * The CI slice of `npm run chaos` (bench/chaos.ts): kill -9 of the daemon twice during a short stream. No timing
 * assertions: only that nothing acknowledged was lost (duplicates are allowed and printed).
 */
import { describe, expect, it } from 'vitest';
import { killNine } from '../../bench/chaos/kill9.js';

describe('chaos: kill -9 of the daemon', () => {
  it('loses no acknowledged record across two kill -9s and restarts', async () => {
    const r = await killNine({ records: 3000, kills: 2, seed: 5 });
    console.log(
      `${r.scenario}: sent ${r.sent}, delivered ${r.delivered}, lost ${r.lost}, duplicated ${r.duplicated}; ${r.notes.join('; ')}`,
    );
    expect(r.sent).toBe(3000);
    expect(r.problems).toEqual([]);
    expect(r.lost).toBe(0);
  }, 110_000);
});
