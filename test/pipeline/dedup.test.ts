import { afterEach, describe, expect, it } from 'vitest';
import { RecordingSink } from '../peers/recording-sink.js';
import { cleanup, metricValue, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { record, records } from '../helpers/records.js';
import { normalize } from '../../src/record/normalize.js';
import type { AlertRecord } from '../../src/record/types.js';
import { DIGESTS_KEPT, dedupOrder } from '../../src/pipeline/dedup.js';
import { keysFor } from '../../src/pipeline/keys.js';
import { createAlertGenerator } from '../../src/simulator/generate.js';
import { waitFor } from '../helpers/wait.js';

let tps: TestPipeline[] = [];
afterEach(async () => {
  for (const tp of tps) await cleanup(tp);
  tps = [];
});

async function settle(tp: TestPipeline): Promise<void> {
  await waitFor(() => tp.pipeline.idle(), { what: 'pipeline idle' });
}

describe('dedup', () => {
  it('delivers records emitted twice once, and counts the repeats as duplicates', async () => {
    const sink = new RecordingSink('a');
    const tp = await startTestPipeline([{ sink }]);
    tps.push(tp);
    const batch = records(50);
    const first = await tp.pipeline.emit(batch);
    const second = await tp.pipeline.emit(batch);
    expect(first).toMatchObject({ accepted: 50, duplicates: 0, stale: 0 });
    expect(second).toMatchObject({ accepted: 0, duplicates: 50, stale: 0 });
    await waitFor(() => sink.received.length >= 50);
    await settle(tp);
    expect(sink.received).toHaveLength(50);
    expect(new Set(sink.keys()).size).toBe(50);
    expect(await metricValue(tp.metrics, 'alertbridge_records_duplicate_total', { source: 'test' })).toBe(50);
    expect(
      await metricValue(tp.metrics, 'alertbridge_records_ingested_total', {
        source: 'test',
        resource: 'alerts_v2',
        via: 'poll',
      }),
    ).toBe(100);
  });

  it('delivers each record once when two emitters race with the same records', async () => {
    const sink = new RecordingSink('a');
    const tp = await startTestPipeline([{ sink }]);
    // A second pipeline on its own connections and the same prefix: another process, as far as Redis can tell.
    const other = await startTestPipeline([{ sink: new RecordingSink('a') }], { prefix: tp.prefix, consume: false });
    tps.push(tp, other);
    const batch = records(400);
    const results = await Promise.all([
      tp.pipeline.emit(batch),
      other.pipeline.emit(batch),
      tp.pipeline.emit(batch.slice().reverse()),
      other.pipeline.emit(batch),
    ]);
    expect(results.reduce((a, r) => a + r.accepted, 0)).toBe(400);
    expect(results.reduce((a, r) => a + r.duplicates, 0)).toBe(1200);
    await waitFor(() => sink.received.length >= 400);
    await settle(tp);
    expect(sink.received).toHaveLength(400);
    expect(new Set(sink.keys()).size).toBe(400);
  });

  it('delivers a newer revision as an update and drops an older one arriving late', async () => {
    const sink = new RecordingSink('a');
    const tp = await startTestPipeline([{ sink }]);
    tps.push(tp);
    const v1 = record(7, { updated: '2026-11-01T10:00:00.1234567Z' });
    const v2 = record(7, { updated: '2026-11-01T10:00:00.12346Z' }); // later by 3 ticks, fewer digits
    const v0 = record(7, { updated: '2026-11-01T09:59:59Z' });
    expect((await tp.pipeline.emit([v1])).accepted).toBe(1);
    expect((await tp.pipeline.emit([v2])).accepted).toBe(1);
    expect(await tp.pipeline.emit([v0])).toMatchObject({ accepted: 0, stale: 1 });
    expect(await tp.pipeline.emit([v2])).toMatchObject({ accepted: 0, duplicates: 1 });
    await waitFor(() => sink.received.length >= 2);
    await settle(tp);
    expect(sink.received.map((r) => r.revision)).toEqual([v1.revision, v2.revision]);
  });

  it('treats a changed content hash as an update when the object has no timestamp', async () => {
    const sink = new RecordingSink('a');
    const tp = await startTestPipeline([{ sink }]);
    tps.push(tp);
    const base = record(3);
    const noTime = (data: Record<string, unknown>) => {
      const { lastUpdateDateTime: _drop, ...rest } = data;
      return rest;
    };
    const { normalize } = await import('../../src/record/normalize.js');
    const a = normalize('alerts_v2', noTime({ ...base.data, status: 'new' }), { source: 'test', via: 'poll' });
    const b = normalize('alerts_v2', noTime({ ...base.data, status: 'resolved' }), { source: 'test', via: 'poll' });
    if (!a.ok || !b.ok) throw new Error('normalize failed');
    expect(a.record.revision).not.toBe(b.record.revision);
    expect((await tp.pipeline.emit([a.record, a.record, b.record])).accepted).toBe(2);
    await waitFor(() => sink.received.length >= 2);
  });

  it('forgets a key after the dedup TTL', async () => {
    const sink = new RecordingSink('a');
    const tp = await startTestPipeline([{ sink }], { dedupTtlMs: 300 });
    tps.push(tp);
    const r = record(1);
    expect((await tp.pipeline.emit([r])).accepted).toBe(1);
    await new Promise((res) => setTimeout(res, 600));
    expect((await tp.pipeline.emit([r])).accepted).toBe(1);
  });

  describe('late evidence: new content at the same revision', () => {
    const gen = createAlertGenerator({ seed: 13, tenantIds: ['5b1c0d9e-0f4a-4c3b-9d2e-1a2b3c4d5e6f'] });
    const rec = (obj: Record<string, unknown>, via: 'poll' | 'webhook' = 'poll'): AlertRecord => {
      const res = normalize('alerts_v2', obj, { source: 'test', via });
      if (!res.ok) throw new Error(res.reason);
      return res.record;
    };
    /** A simulator alert with at least two pieces of evidence, and the same alert as first read: one piece. */
    const alert = (): { full: Record<string, unknown>; first: Record<string, unknown> } => {
      for (;;) {
        const full = gen.alertV2();
        const evidence = full.evidence as unknown[];
        if (evidence.length >= 2) return { full, first: { ...full, evidence: evidence.slice(0, 1) } };
      }
    };

    it('delivers a richer object with the same lastUpdateDateTime, once; an identical or earlier content stays a duplicate', async () => {
      const sink = new RecordingSink('a');
      const tp = await startTestPipeline([{ sink }]);
      tps.push(tp);
      const { full, first } = alert();
      expect(await tp.pipeline.emit([rec(first)])).toMatchObject({ accepted: 1 });
      expect(await tp.pipeline.emit([rec(first)])).toMatchObject({ accepted: 0, duplicates: 1 });
      // the evidence grew, the update time did not
      expect(await tp.pipeline.emit([rec(full)])).toMatchObject({ accepted: 1, duplicates: 0 });
      // read again on the next poll, by id with the response's annotation, and the earlier content from a lagging read
      const byId = {
        '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2/$entity',
        ...full,
      };
      expect(await tp.pipeline.emit([rec(full), rec(byId, 'webhook'), rec(first)])).toMatchObject({
        accepted: 0,
        duplicates: 3,
      });
      // an older update time loses whatever its content; a newer one is an update
      const earlier = new Date(Date.parse(String(full.lastUpdateDateTime)) - 60_000).toISOString();
      const later = new Date(Date.parse(String(full.lastUpdateDateTime)) + 60_000).toISOString();
      expect(await tp.pipeline.emit([rec({ ...full, title: 'changed', lastUpdateDateTime: earlier })])).toMatchObject({
        accepted: 0,
        stale: 1,
      });
      expect(await tp.pipeline.emit([rec({ ...full, lastUpdateDateTime: later })])).toMatchObject({ accepted: 1 });
      await waitFor(() => sink.received.length >= 3);
      await settle(tp);
      expect(sink.received.map((r) => [r.revision, (r.data.evidence as unknown[]).length])).toEqual([
        [first.lastUpdateDateTime, 1],
        [full.lastUpdateDateTime, (full.evidence as unknown[]).length],
        [later, (full.evidence as unknown[]).length],
      ]);
    });

    it('takes dedup state written before content digests as the content delivered, and keeps a bounded list', async () => {
      const sink = new RecordingSink('a');
      const tp = await startTestPipeline([{ sink }]);
      tps.push(tp);
      const { full, first } = alert();
      const key = keysFor(tp.prefix).dedup(rec(first).key);
      await tp.redis.set(key, dedupOrder(rec(first)), 'PX', 60_000); // as an older version left it
      expect(await tp.pipeline.emit([rec(first)])).toMatchObject({ accepted: 0, duplicates: 1 });
      expect(await tp.pipeline.emit([rec(first)])).toMatchObject({ accepted: 0, duplicates: 1 });
      expect(await tp.pipeline.emit([rec(full)])).toMatchObject({ accepted: 1 });
      // many contents at one revision: each new one passes, the state stays bounded
      for (let i = 0; i < DIGESTS_KEPT + 4; i++)
        expect((await tp.pipeline.emit([rec({ ...full, comments: [`note ${i}`] })])).accepted).toBe(1);
      const state = (await tp.redis.get(key))!;
      expect(state.startsWith(`${dedupOrder(rec(full))}#`)).toBe(true);
      expect(state.split('#')[1]!.split(',')).toHaveLength(DIGESTS_KEPT);
      expect(await tp.pipeline.emit([rec({ ...full, comments: [`note ${DIGESTS_KEPT + 3}`] })])).toMatchObject({
        duplicates: 1,
      });
    });
  });
});
