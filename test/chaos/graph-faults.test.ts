/** The CI slice of `npm run chaos`: Graph answering 30% 429/503 and 206s for a few seconds; every latest revision arrives. */
import { describe, expect, it } from 'vitest';
import { graphFaults } from '../../bench/chaos/graph-faults.js';

describe('chaos: a flaky Graph', () => {
  it('delivers the latest revision of every alert despite 429s, 503s and 206s', async () => {
    const r = await graphFaults({ seconds: 6, rate: 20, seed: 19 });
    console.log(
      `${r.scenario}: sent ${r.sent}, delivered ${r.delivered}, lost ${r.lost}, duplicated ${r.duplicated}; ${r.notes.join('; ')}`,
    );
    expect(r.sent).toBeGreaterThan(0);
    expect(r.problems).toEqual([]);
    expect(r.lost).toBe(0);
  }, 110_000);
});
