/**
 * The health reporter against a real Redis: two replicas seeing one condition make one raised record and one cleared
 * record between them, in revision order, and a condition raised again after it ended is dated after its end. Then
 * the two conditions fed by the Graph source's own state, with the simulator: a tenant silent for longer than
 * `expect_alerts_within_ms`, and a request budget exhausted for longer than `budget_exhausted_alert_ms`.
 */
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { Condition, Subject } from '../../src/health/conditions.js';
import { HealthReporter, currentConditions } from '../../src/health/reporter.js';
import { keysFor } from '../../src/pipeline/keys.js';
import { connect } from '../../src/pipeline/redis.js';
import { mintReplicaId } from '../../src/pipeline/replica.js';
import type { AlertRecord } from '../../src/record/types.js';
import { revisionOrder } from '../../src/record/revision.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { RequestBudget } from '../../src/sources/graph/budget.js';
import { GraphSource, budgetWatch } from '../../src/sources/graph/source.js';
import { Metrics } from '../../src/observability/metrics.js';
import { graphSourceConfig, pollNow } from '../helpers/graph.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const prefix = uniquePrefix('health');
const keys = keysFor(prefix);
const conns = [connect({ url: redisUrl() }), connect({ url: redisUrl() })];
const silent = pino({ level: 'silent' });
afterAll(async () => {
  await deletePrefix(prefix);
  for (const c of conns) c.disconnect();
});

/** A replica's reporter and the records it emitted. */
function replica(i: number): { reporter: HealthReporter; emitted: AlertRecord[] } {
  const emitted: AlertRecord[] = [];
  const reporter = new HealthReporter({
    redis: conns[i]!,
    keys,
    emit: async (records) => void emitted.push(...records),
    logger: silent,
  });
  return { reporter, emitted };
}

describe('health reporter', () => {
  it('two replicas: one record per change, revisions in order, a new raise after the clearance', async () => {
    const a = replica(0);
    const b = replica(1);
    const subject: Subject = { source: 'contoso', tenant_id: 't1', resource: 'alerts_v2' };
    const gap = (to: string): Condition => ({
      kind: 'provider_gap',
      subject,
      provider: 'MCAS',
      message: 'MCAS missing',
      detail: { window: { from: '2026-12-01T00:00:00.000Z', to } },
    });
    const all = () => [...a.emitted, ...b.emitted].sort((x, y) => (x.revision < y.revision ? -1 : 1));
    // Both replicas see the gap on every poll, concurrently.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? a : b).reporter.observe(subject, [gap(`2026-12-01T00:0${i}:00.000Z`)], { clears: ['provider_gap'] }),
      ),
    );
    expect(all().map((r) => [r.key, r.status])).toEqual([['health:contoso/alerts_v2/provider_gap/MCAS', 'raised']]);
    const [current] = await currentConditions(conns[0]!, keys);
    expect(current).toMatchObject({ kind: 'provider_gap', observations: 10, provider: 'MCAS' });
    // The provider answers again: both replicas' next polls see no gap; one clearance.
    await Promise.all([a, b, a, b].map((r) => r.reporter.observe(subject, [], { clears: ['provider_gap'] })));
    const [raised, cleared] = all();
    expect(all()).toHaveLength(2);
    expect(cleared).toMatchObject({ key: raised!.key, status: 'cleared', severity: 'informational' });
    expect(revisionOrder(cleared!.revision)! > revisionOrder(raised!.revision)!).toBe(true);
    expect(cleared!.data).toMatchObject({
      first_seen: raised!.revision,
      cleared_at: cleared!.revision,
      observations: 10,
    });
    expect(await currentConditions(conns[0]!, keys)).toEqual([]);
    // Another gap later: a new raise of the same key, dated after the clearance.
    await b.reporter.observe(subject, [gap('2026-12-02T00:00:00.000Z')]);
    const again = all()[2]!;
    expect(again).toMatchObject({ key: raised!.key, status: 'raised' });
    expect(revisionOrder(again.revision)! > revisionOrder(cleared!.revision)!).toBe(true);
    // Kinds an observation does not speak for are left alone.
    await a.reporter.observe(subject, [], { clears: ['window_failing'] });
    expect(all()).toHaveLength(3);
  });

  it('an emit that fails puts the change back: the next sighting raises it, once', async () => {
    const emitted: AlertRecord[] = [];
    let refuse = 1;
    const reporter = new HealthReporter({
      redis: conns[0]!,
      keys,
      // The pipeline refusing once (Redis failing over, a durability wait refused), then accepting.
      emit: async (records) => {
        if (refuse-- > 0) throw new Error('refused');
        emitted.push(...records);
      },
      logger: silent,
    });
    const subject: Subject = { sink: 'splunk' };
    const paused: Condition = { kind: 'sink_paused', subject, message: 'paused' };
    await reporter.observe(subject, [paused]);
    expect(emitted).toEqual([]);
    expect((await currentConditions(conns[0]!, keys)).filter((c) => c.sink === 'splunk')).toEqual([]);
    await reporter.observe(subject, [paused]);
    await reporter.observe(subject, [paused]);
    expect(emitted.map((r) => [r.key, r.status])).toEqual([['health:sink:splunk/sink_paused', 'raised']]);
    // The same for a clearance.
    refuse = 1;
    await reporter.observe(subject, [], { clears: ['sink_paused'] });
    await reporter.observe(subject, [], { clears: ['sink_paused'] });
    expect(emitted.map((r) => r.status)).toEqual(['raised', 'cleared']);
  });

  it('budget_exhausted: raised once every request has waited that long, cleared when one finds a slot at once', async () => {
    const r = replica(0);
    const cfg = { name: 'busy', tenant_id: 't2', budget_exhausted_alert_ms: 1000, request_budget_per_minute: 2 };
    // 2 requests per 300 ms stands in for Graph's 150 per minute.
    const budget = new RequestBudget(conns[0]!, `${prefix}:budget:busy`, 2, 300, budgetWatch(r.reporter, cfg));
    await waitFor(
      async () => {
        // more than it allows; each request is answered at once (its slot then counts for one window from its answer)
        const answered = () => budget.take().then((slot) => slot.release());
        await Promise.all([answered(), answered(), answered(), answered()]);
        return r.emitted.length;
      },
      { what: 'budget_exhausted raised', timeoutMs: 30_000, intervalMs: 0 },
    );
    expect(r.emitted.map((e) => [e.key, e.status])).toEqual([['health:busy/*/budget_exhausted', 'raised']]);
    await new Promise((resolve) => setTimeout(resolve, 700)); // nobody asks: the window empties
    await (await budget.take()).release();
    await waitFor(() => r.emitted.length === 2, { what: 'budget_exhausted cleared' });
    expect(r.emitted[1]).toMatchObject({ key: 'health:busy/*/budget_exhausted', status: 'cleared' });
  });

  it('tenant_silent: raised when nothing is newer than expect_alerts_within_ms, cleared by a new alert', async () => {
    const T: TenantCredentials = { tenantId: 'aaaaaaaa-0000-4000-8000-0000000018b1', clientId: 'c', clientSecret: 's' };
    const sim = await startSimulator({ tenants: [T], seed: 181 });
    const r = replica(1);
    const source = new GraphSource(
      graphSourceConfig(sim, { name: 'quiet', ...T, extra: '    expect_alerts_within_ms: 3600000\n' }),
      {
        redis: conns[1]!,
        prefix,
        emit: async (records) => ({ accepted: records.length, duplicates: 0, stale: 0, verdicts: [] }),
        metrics: new Metrics({ defaultMetrics: false }),
        logger: silent,
        takeoverMs: 5000,
        replicaId: mintReplicaId(),
        health: r.reporter,
      },
    );
    try {
      const twoHoursAgo = new Date(Date.now() - 7_200_000).toISOString();
      sim.create(T.tenantId, 'alerts_v2', { lastUpdateDateTime: twoHoursAgo, createdDateTime: twoHoursAgo });
      await pollNow(source.pollers[0]!);
      expect(r.emitted.map((e) => [e.key, e.status, e.severity])).toEqual([
        ['health:quiet/alerts_v2/tenant_silent', 'raised', 'medium'],
      ]);
      await pollNow(source.pollers[0]!);
      expect(r.emitted).toHaveLength(1);
      sim.create(T.tenantId, 'alerts_v2');
      await pollNow(source.pollers[0]!);
      expect(r.emitted.map((e) => e.status)).toEqual(['raised', 'cleared']);
    } finally {
      await source.stop();
      await sim.close();
    }
  }, 60_000);
});
