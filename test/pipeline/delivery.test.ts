import { describe, expect, it } from 'vitest';
import { RecordingSink } from '../peers/recording-sink.js';
import { metricValue, pipelinesPerTest } from '../helpers/pipeline.js';
import { record, records, recordsInOneShard } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';

const start = pipelinesPerTest();

describe('fan-out and dead letters', () => {
  it('keeps feeding a healthy sink while another fails permanently; replay delivers the dead letters', async () => {
    const good = new RecordingSink('good');
    const bad = new RecordingSink('bad');
    bad.brokenPermanently = true;
    const tp = await start([
      { sink: good, maxRecords: 25 },
      { sink: bad, maxRecords: 25 },
    ]);
    await tp.pipeline.emit(records(100));
    await waitFor(() => good.received.length >= 100, { what: 'good sink' });
    await waitFor(async () => (await tp.pipeline.deadLetters.count('bad')) === 100, { what: 'dead letters' });
    const entries = await tp.pipeline.deadLetters.list('bad', 0, 1000);
    expect(entries[0]).toMatchObject({ sink: 'bad', error: "sink 'bad' rejects everything", attempts: 1 });
    expect(entries[0]!.record.schema).toBe('alertbridge.record/v1');
    expect(new Set(entries.map((e) => e.record.key)).size).toBe(100);
    expect(bad.received).toHaveLength(0);
    expect(await metricValue(tp.metrics, 'alertbridge_dead_letters', { sink: 'bad' })).toBe(100);

    bad.brokenPermanently = false; // the operator fixed the sink
    expect(await tp.pipeline.replay('bad')).toBe(100);
    await waitFor(() => bad.received.length >= 100, { what: 'replayed records' });
    await waitFor(() => tp.pipeline.idle());
    expect(new Set(bad.keys()).size).toBe(100);
    expect(bad.received).toHaveLength(100);
    expect(good.received).toHaveLength(100);
    expect(await tp.pipeline.deadLetters.count('bad')).toBe(0);
  });

  it('dead-letters only the rejected record of a batch (per-record result)', async () => {
    const sink = new RecordingSink('s');
    sink.rejects = (r) => r.id === record(13).id;
    const tp = await start([{ sink, maxRecords: 50 }]);
    await tp.pipeline.emit(records(50));
    await waitFor(async () => sink.received.length >= 49 && (await tp.pipeline.deadLetters.count('s')) === 1);
    const [dl] = await tp.pipeline.deadLetters.list('s');
    expect(dl!.record.id).toBe(record(13).id);
    expect(dl!.error).toBe(`record ${record(13).id} is invalid`);
    expect(sink.received).toHaveLength(49);
  });

  it('bisects a batch the sink rejects as a whole, and dead-letters only the offender', async () => {
    const sink = new RecordingSink('s');
    sink.rejectMode = 'whole-batch';
    sink.rejects = (r) => r.id === record(30).id;
    const tp = await start([{ sink, maxRecords: 64 }]);
    await tp.pipeline.emit(records(64));
    await waitFor(async () => (await tp.pipeline.deadLetters.count('s')) === 1 && sink.received.length >= 63);
    await waitFor(() => tp.pipeline.idle());
    expect(sink.received).toHaveLength(63);
    expect(new Set(sink.keys()).size).toBe(63);
    const [dl] = await tp.pipeline.deadLetters.list('s');
    expect(dl!.record.id).toBe(record(30).id);
    // log2(64) levels: the offender is found in a handful of calls, not 64
    expect(sink.calls.filter((c) => c.outcome === 'batch-rejected').length).toBeLessThanOrEqual(7);
  });

  it('keeps records queued, loudly, when the dead-letter queue is full', async () => {
    const sink = new RecordingSink('s');
    sink.brokenPermanently = true;
    const tp = await start([{ sink, maxRecords: 10, deadLetterMax: 10 }]);
    await tp.pipeline.emit(recordsInOneShard(15));
    await waitFor(
      async () => (await metricValue(tp.metrics, 'alertbridge_dead_letter_full_total', { sink: 's' })) >= 1,
    );
    expect(await tp.pipeline.deadLetters.count('s')).toBe(10);
    const depth = await tp.pipeline.queueDepth();
    expect(depth['sink:s']).toBe(1); // the other 5 wait in their job, not dropped
  });
});

describe('retry', () => {
  it('retries a flaky sink until it succeeds, delivering every record exactly once', async () => {
    const sink = new RecordingSink('s');
    sink.failNext = 3;
    const tp = await start([{ sink, maxRecords: 20, maxAttempts: 10 }]);
    await tp.pipeline.emit(recordsInOneShard(60));
    await waitFor(() => sink.received.length >= 60);
    await waitFor(() => tp.pipeline.idle());
    expect(sink.received).toHaveLength(60);
    expect(new Set(sink.keys()).size).toBe(60);
    expect(sink.calls.filter((c) => c.outcome === 'retryable')).toHaveLength(3);
    // three failed attempts of a 20-record batch: 60 records' attempts failed
    expect(await metricValue(tp.metrics, 'alertbridge_delivery_errors_total', { sink: 's', kind: 'retryable' })).toBe(
      60,
    );
    expect(await metricValue(tp.metrics, 'alertbridge_records_delivered_total', { sink: 's' })).toBe(60);
  });

  it("waits at least the sink's Retry-After before trying again", async () => {
    const sink = new RecordingSink('s');
    sink.failNext = 1;
    sink.retryAfterMs = 1200;
    const tp = await start([{ sink }]);
    await tp.pipeline.emit(recordsInOneShard(5));
    await waitFor(() => sink.received.length >= 5);
    const [fail, ok] = sink.calls;
    expect(fail!.outcome).toBe('retryable');
    expect(ok!.at - fail!.at).toBeGreaterThanOrEqual(1200);
  });

  it('dead-letters records out of attempts with the last error', async () => {
    const sink = new RecordingSink('s');
    sink.failNext = 100;
    const tp = await start([{ sink, maxAttempts: 3 }]);
    await tp.pipeline.emit(recordsInOneShard(4));
    await waitFor(async () => (await tp.pipeline.deadLetters.count('s')) === 4);
    const entries = await tp.pipeline.deadLetters.list('s');
    expect(entries.every((e) => e.attempts === 3 && e.error === "sink 's' is busy")).toBe(true);
    expect(sink.calls).toHaveLength(3);
    expect(await metricValue(tp.metrics, 'alertbridge_delivery_errors_total', { sink: 's', kind: 'exhausted' })).toBe(
      4,
    );
  });
});

describe('isolation and filters', () => {
  it('a slow sink does not hold back another sink', async () => {
    const slow = new RecordingSink('slow');
    slow.delayMs = 4000;
    const fast = new RecordingSink('fast');
    const tp = await start([
      { sink: slow, maxRecords: 10 },
      { sink: fast, maxRecords: 10 },
    ]);
    await tp.pipeline.emit(records(50));
    await waitFor(() => fast.received.length >= 50, { what: 'fast sink' });
    // the slow sink is still on its first batch when the fast one has everything
    expect(slow.received.length).toBeLessThan(50);
    slow.delayMs = 0;
  });

  it('applies per-sink filters on severity, provider, resource and source', async () => {
    const high = new RecordingSink('high');
    const mdi = new RecordingSink('mdi');
    const other = new RecordingSink('other');
    const tp = await start([
      { sink: high, filter: { min_severity: 'high' } },
      { sink: mdi, filter: { providers: ['MicrosoftDefenderForIdentity'], resources: ['alerts_v2'] } },
      { sink: other, filter: { sources: ['elsewhere'] } },
    ]);
    await tp.pipeline.emit([
      record(1, { severity: 'high' }),
      record(2, { severity: 'low' }),
      record(3, { severity: 'unknownFutureValue' }),
      record(4, { provider: 'microsoftDefenderForIdentity', severity: 'high' }),
      record(5, { source: 'elsewhere' }),
    ]);
    await waitFor(() => high.received.length >= 2 && mdi.received.length >= 1 && other.received.length >= 1);
    await waitFor(() => tp.pipeline.idle());
    expect(high.received.map((r) => r.id).sort()).toEqual([record(1).id, record(4).id]);
    expect(mdi.received.map((r) => r.id)).toEqual([record(4).id]);
    expect(other.received.map((r) => r.id)).toEqual([record(5).id]);
  });
});
