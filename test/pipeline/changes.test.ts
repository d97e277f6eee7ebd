/**
 * `changes` in the envelope (issue 15): each delivered revision lists the triage fields it changed against the
 * previous revision delivered, computed atomically with dedup from the compact summary kept beside the dedup state.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { normalize } from '../../src/record/normalize.js';
import type { AlertRecord } from '../../src/record/types.js';
import { keysFor } from '../../src/pipeline/keys.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { cleanup, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { alertV2 } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';

let tps: TestPipeline[] = [];
afterEach(async () => {
  for (const tp of tps) await cleanup(tp);
  tps = [];
});

function rec(obj: Record<string, unknown>, resource: 'alerts_v2' | 'incidents' = 'alerts_v2'): AlertRecord {
  const res = normalize(resource, obj, { source: 'test', via: 'poll' });
  if (!res.ok) throw new Error(res.reason);
  return res.record;
}

describe('changes', () => {
  it('lists exactly the tracked fields a revision changed; none on the first revision; [] when only other fields moved', async () => {
    const sink = new RecordingSink('a');
    const tp = await startTestPipeline([{ sink }]);
    tps.push(tp);
    const v1 = { ...alertV2(1), assignedTo: null, classification: null, determination: null, evidence: [{}, {}] };
    const v2 = {
      ...v1,
      lastUpdateDateTime: '2026-11-01T11:00:00.0000000Z',
      status: 'resolved',
      assignedTo: 'ana@contoso.com',
      classification: 'truePositive',
      determination: 'malware',
    };
    const v3 = { ...v2, lastUpdateDateTime: '2026-11-01T12:00:00.0000000Z', title: 'renamed', evidence: [{}, {}, {}] };
    const v4 = { ...v3, lastUpdateDateTime: '2026-11-01T13:00:00.0000000Z', description: 'only text' };
    for (const v of [v1, v2, v2, v3, v4]) await tp.pipeline.emit([rec(v)]);
    await waitFor(() => sink.received.length >= 4);
    const got = sink.received.map((r) => r.changes);
    expect(got).toEqual([
      undefined,
      [
        { field: 'status', from: 'new', to: 'resolved' },
        { field: 'assignedTo', from: null, to: 'ana@contoso.com' },
        { field: 'classification', from: null, to: 'truePositive' },
        { field: 'determination', from: null, to: 'malware' },
      ],
      [{ field: 'evidenceCount', from: 2, to: 3 }],
      [],
    ]);
    // kept beside the dedup state, with its TTL
    const key = keysFor(tp.prefix).changeSummary(sink.received[0]!.key);
    expect(await tp.redis.pttl(key)).toBeGreaterThan(0);
  });

  it('an incident lists its alert ids when they changed', async () => {
    const sink = new RecordingSink('a');
    const tp = await startTestPipeline([{ sink }]);
    tps.push(tp);
    const inc = {
      '@odata.type': '#microsoft.graph.security.incident',
      id: '42',
      tenantId: '11111111-2222-3333-4444-555555555555',
      status: 'active',
      severity: 'high',
      displayName: 'x',
      createdDateTime: '2026-11-01T10:00:00Z',
      lastUpdateDateTime: '2026-11-01T10:00:00Z',
      alerts: [{ id: 'a1' }],
    };
    await tp.pipeline.emit([rec(inc, 'incidents')]);
    await tp.pipeline.emit([
      rec({ ...inc, lastUpdateDateTime: '2026-11-01T11:00:00Z', alerts: [{ id: 'a2' }, { id: 'a1' }] }, 'incidents'),
    ]);
    await waitFor(() => sink.received.length >= 2);
    expect(sink.received[1]!.changes).toEqual([{ field: 'alertIds', from: ['a1'], to: ['a1', 'a2'] }]);
  });
});
