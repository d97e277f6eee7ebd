/**
 * The CI slice of `npm run chaos`: fuzzed webhook and push traffic beside valid pushes. The daemon stays up, answers
 * no request with a 5xx, delivers every valid record and nothing it did not accept.
 */
import { describe, expect, it } from 'vitest';
import { fuzzWebhooks } from '../../bench/chaos/fuzz.js';

describe('chaos: fuzzed webhook traffic', () => {
  it('survives fuzzed requests without losing or inventing records', async () => {
    const r = await fuzzWebhooks({ requests: 300, records: 1000, seed: 29 });
    console.log(
      `${r.scenario}: sent ${r.sent}, delivered ${r.delivered}, lost ${r.lost}, duplicated ${r.duplicated}; ${r.notes.join('; ')}`,
    );
    expect(r.problems).toEqual([]);
    expect(r.lost).toBe(0);
  }, 110_000);
});
