/**
 * Late evidence (issue 13 item 4, poller half): Defender adds evidence to an alert after it was first listed,
 * sometimes without moving lastUpdateDateTime, so the watermark never brings it back. Alerts created
 * `late_evidence.reread_after_ms` ago are listed once more (one request per delay per poll, by createdDateTime), and
 * the richer object reaches the sink again.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import type { AlertRecord } from '../../src/record/types.js';
import { GraphSource } from '../../src/sources/graph/source.js';
import { graphSourceConfig, pollNow, simulatorHooks } from '../helpers/graph.js';
import { waitFor } from '../helpers/wait.js';
import { mintReplicaId } from '../../src/pipeline/replica.js';

const T: TenantCredentials = {
  tenantId: 'aeaeaeae-0000-4000-8000-000000000601',
  clientId: 'app-late',
  clientSecret: 'secret-late',
};
const sim = await startSimulator({ tenants: [T], seed: 71, faults: { requestBudgetPerMinute: 150 } });
const harness = simulatorHooks(sim, { requestBudgetPerMinute: 150 });
const DELAY = 3000;

describe('late evidence', () => {
  it('re-reads alerts created reread_after_ms ago, and hands the richer object to the pipeline', async () => {
    const h = await harness();
    // created as it is first listed (the simulator otherwise backdates createdDateTime by up to 5 minutes)
    const alert = sim.create(T.tenantId, 'alerts_v2', { createdDateTime: new Date().toISOString() });
    sim.create(T.tenantId, 'alerts_v2', { createdDateTime: new Date().toISOString() }); // a newer one holds the watermark, so the window's own bound does not re-read `alert`
    const evidenceAt = (o: { data: unknown }) => ((o.data as { evidence?: unknown[] }).evidence ?? []).length;
    const emitted: AlertRecord[] = [];
    const cfg = graphSourceConfig(sim, {
      name: 'contoso',
      ...T,
      extra: `    overlap_ms: 0\n    late_evidence: { reread_after_ms: [${DELAY}] }`,
    });
    const src = new GraphSource(cfg, {
      redis: h.tp.redis,
      prefix: h.tp.prefix,
      metrics: h.tp.metrics,
      logger: pino({ level: 'silent' }),
      takeoverMs: 5000,
      replicaId: mintReplicaId(),
      emit: (records) => {
        emitted.push(...records);
        return h.tp.pipeline.emit(records);
      },
    });
    try {
      const poller = src.pollers[0]!;
      expect(await pollNow(poller)).toMatchObject({ accepted: 2 });
      const firstEvidence = evidenceAt(emitted.find((r) => r.id === alert.id)!);
      // Defender adds evidence without moving lastUpdateDateTime: the watermark alone never reads it again
      const richer = sim.addEvidence(T.tenantId, String(alert.id), { bump: false });
      expect(richer.lastUpdateDateTime).toBe(alert.lastUpdateDateTime);
      expect((richer.evidence as unknown[]).length).toBe(firstEvidence + 1);
      sim.clearLog();
      const before = await pollNow(poller); // not yet DELAY old: the re-read window does not hold it
      expect(before!.reread).toMatchObject({ requests: 1, fetched: 0 });
      expect(sim.requestLog.filter((e) => e.resource === 'alerts_v2')).toHaveLength(2);

      await new Promise((r) => setTimeout(r, DELAY + 200));
      sim.clearLog();
      const summary = await pollNow(poller);
      expect(summary).toMatchObject({ fetched: 1, accepted: 0, reread: { requests: 1, fetched: 2 } });
      const reads = sim.requestLog.filter((e) => e.resource === 'alerts_v2');
      expect(reads).toHaveLength(2); // the window, and one re-read
      expect(reads[1]!.query.$filter).toMatch(/^createdDateTime ge \S+ and createdDateTime lt \S+$/);
      expect(reads.every((e) => e.fault === undefined)).toBe(true); // within the budget
      // the re-read object, with the evidence added after the first read, went to the pipeline
      expect(emitted.filter((r) => r.id === alert.id).map(evidenceAt)).toEqual([firstEvidence, firstEvidence + 1]);

      // and reached the sink a second time, with the evidence (dedup takes a richer object at the same revision)
      await waitFor(() => h.sink.received.filter((r) => r.id === alert.id).length >= 2, {
        what: 'the richer alert delivered',
      });
      expect(h.sink.received.filter((r) => r.id === alert.id).map(evidenceAt)).toEqual([
        firstEvidence,
        firstEvidence + 1,
      ]);

      // once re-read, it is not re-read again at this delay
      await new Promise((r) => setTimeout(r, 300));
      sim.clearLog();
      const after = await pollNow(poller);
      expect(after!.reread?.fetched ?? 0).toBe(0);
      await waitFor(() => h.tp.pipeline.idle());
      expect(h.sink.received.filter((r) => r.id === alert.id)).toHaveLength(2);
    } finally {
      await src.stop();
    }
  }, 60_000);
});
