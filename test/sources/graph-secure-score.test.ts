/**
 * Secure scores (one snapshot a day, `$top=n` = the n latest days) and control profiles (a small catalogue read
 * whole) through the poller against the simulator: read at most hourly, each snapshot and profile revision once.
 */
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { graphSourceConfig, simulatorHooks, type GraphHarness } from '../helpers/graph.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'eeeeeeee-0000-4000-8000-0000000000e1',
  clientId: 'app-score',
  clientSecret: 'secret-score',
};
const DAY = 86_400_000;
const HOUR = 3_600_000;

const sim = await startSimulator({
  tenants: [T],
  seed: 23,
  initial: { secure_scores: 10, secure_score_control_profiles: 12 },
});
const harness = simulatorHooks(sim);
let h: GraphHarness | undefined;

const requests = (resource: string) => sim.requestLog.filter((e) => e.resource === resource);

describe('secure scores and control profiles through the poller', () => {
  it('delivers the snapshots of the lookback and the whole catalogue, reads at most hourly, and each new snapshot or revision once', async () => {
    h = await harness();
    // A lookback halfway between the 7th and 8th newest of the 10 daily snapshots seeded (the last one yesterday).
    const started = Date.now();
    const ages = sim
      .list(T.tenantId, 'secure_scores')
      .map((s) => started - Date.parse(String(s.createdDateTime)))
      .sort((a, b) => a - b);
    const lookbackMs = Math.round((ages[6]! + ages[7]!) / 2);
    const inLookback = sim
      .list(T.tenantId, 'secure_scores')
      .filter((s) => Date.parse(String(s.createdDateTime)) >= started - lookbackMs);
    expect(inLookback).toHaveLength(7);
    const src = h.source(
      graphSourceConfig(sim, {
        name: 'scores',
        ...T,
        resources: ['secure_scores', 'secure_score_control_profiles'],
        extra: `    initial_lookback_ms: ${lookbackMs}`,
      }),
    );
    const [scores, profiles] = src.pollers as [(typeof src.pollers)[0], (typeof src.pollers)[0]];

    // First poll (no cursor yet: due at once)
    expect(await scores!.tick()).toMatchObject({ fetched: 7, accepted: 7, gaps: [] });
    expect(await profiles!.tick()).toMatchObject({ fetched: 12, accepted: 12 });
    // `$top` counts days: enough of them to cover the lookback (one more for the partial day)
    const top = Number(requests('secure_scores')[0]!.query.$top);
    expect(top).toBeGreaterThanOrEqual(Math.ceil(lookbackMs / DAY));
    expect(top).toBeLessThanOrEqual(Math.ceil(lookbackMs / DAY) + 2);
    await waitFor(() => h!.sink.received.length >= 19);
    const got = (resource: string) => h!.sink.received.filter((r) => r.resource === resource);
    expect(
      got('secure_scores')
        .map((r) => r.id)
        .sort(),
    ).toEqual(inLookback.map((s) => String(s.id)).sort());
    expect(
      got('secure_scores').every(
        (r) => r.provider === 'SecureScore' && r.key === `${T.tenantId}/secure_scores/SecureScore/${r.id}`,
      ),
    ).toBe(true);
    expect(new Set(got('secure_scores').map((r) => String(r.id).slice(-10))).size).toBe(7); // one snapshot per day
    expect(
      got('secure_score_control_profiles')
        .map((r) => r.id)
        .sort(),
    ).toEqual(
      sim
        .list(T.tenantId, 'secure_score_control_profiles')
        .map((p) => String(p.id))
        .sort(),
    );

    // At most hourly, whatever poll_interval_ms (1 s here) says: no Graph request within the hour
    sim.clearLog();
    for (const at of [Date.now(), started + 30 * 60_000, started + HOUR - 60_000]) {
      expect(await scores!.tick(at)).toBeNull();
      expect(await profiles!.tick(at)).toBeNull();
    }
    expect(requests('secure_scores')).toEqual([]);
    expect(requests('secure_score_control_profiles')).toEqual([]);

    // An hour on: read again, nothing new (an hour after the later of the two first polls began: on a loaded
    // machine the second one can start seconds after `started`)
    const lastStart = Math.max((await scores!.cursor()).last_started_at!, (await profiles!.cursor()).last_started_at!);
    const hourLater = lastStart + HOUR + 1000;
    expect(await scores!.tick(hourLater)).toMatchObject({ accepted: 0 });
    expect(await profiles!.tick(hourLater)).toMatchObject({ fetched: 12, accepted: 0 });

    // Today's snapshot appears, is recomputed later in the day, and one profile changes
    const today = sim.create(T.tenantId, 'secure_scores');
    const profile = sim.update(
      T.tenantId,
      'secure_score_control_profiles',
      String(sim.list(T.tenantId, 'secure_score_control_profiles')[4]!.id),
    );
    expect(await scores!.tick(hourLater + HOUR)).toMatchObject({ accepted: 1 });
    expect(await profiles!.tick(hourLater + HOUR)).toMatchObject({ accepted: 1 });
    const recomputed = sim.update(T.tenantId, 'secure_scores', String(today.id));
    expect(await scores!.tick(hourLater + 2 * HOUR)).toMatchObject({ accepted: 1 });

    await waitFor(() => h!.sink.received.length >= 22);
    await waitFor(() => h!.tp.pipeline.idle());
    expect(h.sink.received).toHaveLength(22);
    expect(
      got('secure_scores')
        .filter((r) => r.id === today.id)
        .map((r) => r.revision),
    ).toEqual([today.createdDateTime, recomputed.createdDateTime]);
    expect(
      got('secure_score_control_profiles')
        .filter((r) => r.id === profile.id)
        .map((r) => r.revision)
        .at(-1),
    ).toBe(profile.lastModifiedDateTime);
  });
});
