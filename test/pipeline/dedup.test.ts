import { afterEach, describe, expect, it } from 'vitest';
import { RecordingSink } from '../peers/recording-sink.js';
import { cleanup, metricValue, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { record, records } from '../helpers/records.js';
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
    expect(await metricValue(tp.metrics, 'alertbridge_records_ingested_total', { source: 'test', resource: 'alerts_v2', via: 'poll' })).toBe(100);
  });

  it('delivers each record once when two emitters race with the same records', async () => {
    const sink = new RecordingSink('a');
    const tp = await startTestPipeline([{ sink }]);
    // A second pipeline on its own connections and the same prefix: another process, as far as Redis can tell.
    const other = await startTestPipeline([{ sink: new RecordingSink('a') }], { prefix: tp.prefix, consume: false });
    tps.push(tp, other);
    const batch = records(400);
    const results = await Promise.all([
      tp.pipeline.emit(batch), other.pipeline.emit(batch), tp.pipeline.emit(batch.slice().reverse()), other.pipeline.emit(batch),
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
});
