/**
 * The CI slice of `npm run chaos`: the HEC and Event Hubs peers down for a few seconds each while records arrive
 * (the full run adds Kafka and keeps each down for 60 s); every record reaches every sink.
 */
import { describe, expect, it } from 'vitest';
import { sinksDown } from '../../bench/chaos/sinks-down.js';

describe('chaos: sinks down and back', () => {
  it('delivers every record to every sink after each comes back', async () => {
    const results = await sinksDown({ sinks: ['hec', 'eventhubs'], outageMs: 3000, rate: 100, seed: 3 });
    for (const r of results)
      console.log(
        `${r.scenario}: sent ${r.sent}, delivered ${r.delivered}, lost ${r.lost}, duplicated ${r.duplicated}; ${r.notes.join('; ')}`,
      );
    expect(results.map((r) => r.scenario)).toHaveLength(3);
    for (const r of results) {
      expect(r.sent).toBeGreaterThan(0);
      expect(r.problems).toEqual([]);
      expect(r.lost).toBe(0);
    }
  }, 110_000);
});
