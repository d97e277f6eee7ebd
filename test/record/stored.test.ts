import { describe, expect, it } from 'vitest';
import { formatterFor, sinkFormat, type FormatName } from '../../src/record/format.js';
import { normalize } from '../../src/record/normalize.js';
import { loadRecord, recordJson, storeRecord, dataJson } from '../../src/record/stored.js';
import type { AlertRecord, Resource } from '../../src/record/types.js';
import { createAlertGenerator } from '../../src/simulator/generate.js';
import { loadSample } from '../helpers/samples.js';

function sampleRecords(): AlertRecord[] {
  const gen = createAlertGenerator({ seed: 7, tenantIds: ['5b1c0d9e-0f4a-4c3b-9d2e-1a2b3c4d5e6f'] });
  const objects: Array<[Resource, Record<string, unknown>]> = [
    ['alerts_v2', loadSample('alerts_v2-resource-representation.json')],
    ['incidents', loadSample('incident-resource-representation.json')],
    ['alerts', loadSample('alert-resource-representation.v1.json')],
    ...Array.from({ length: 20 }, () => ['alerts_v2', gen.alertV2()] as [Resource, Record<string, unknown>]),
  ];
  return objects.map(([resource, obj]) => {
    const res = normalize(resource, obj, { source: 'contoso', via: 'poll' });
    if (!res.ok) throw new Error(res.reason);
    return res.record;
  });
}

describe('stored records', () => {
  it('carry incident_id in the head, the envelope and OCSF metadata.correlation_uid, also when staged without it', () => {
    const res = normalize(
      'alerts_v2',
      { id: 'a1', tenantId: 't', serviceSource: 'microsoftDefenderForEndpoint', incidentId: '28282' },
      { source: 'contoso', via: 'poll' },
    );
    if (!res.ok) throw new Error(res.reason);
    const { head, data } = storeRecord(res.record);
    expect(JSON.parse(head)).toMatchObject({ id: 'a1', incident_id: '28282' });
    const loaded = loadRecord(head, data);
    expect(JSON.parse(sinkFormat('envelope').encode(loaded))).toMatchObject({ incident_id: '28282' });
    expect(JSON.parse(sinkFormat('ocsf').encode(loaded))).toMatchObject({ metadata: { correlation_uid: '28282' } });
    // a record staged by a version without the field: the OCSF correlation still comes from the object
    const { incident_id: _gone, ...older } = JSON.parse(head) as Record<string, unknown>;
    const old = loadRecord(JSON.stringify(older), data);
    expect(JSON.parse(sinkFormat('ocsf').encode(old))).toMatchObject({ metadata: { correlation_uid: '28282' } });
    const none = normalize('alerts_v2', { id: 'a2', tenantId: 't' }, { source: 'contoso', via: 'poll' });
    if (!none.ok) throw new Error(none.reason);
    expect(JSON.parse(sinkFormat('envelope').encode(none.record))).toMatchObject({ incident_id: null });
    expect((JSON.parse(sinkFormat('ocsf').encode(none.record)) as { metadata: object }).metadata).not.toHaveProperty(
      'correlation_uid',
    );
  });

  it('come back from their stored texts equal to what was stored, field by field and as JSON', () => {
    for (const r of sampleRecords()) {
      const { head, data } = storeRecord(r);
      const loaded = loadRecord(head, data);
      expect(recordJson(loaded)).toBe(JSON.stringify(r));
      expect(dataJson(loaded)).toBe(JSON.stringify(r.data));
      expect(JSON.stringify(loaded)).toBe(JSON.stringify(r));
      expect(loaded).toEqual(r);
      expect(Object.keys(loaded)).toEqual(Object.keys(r));
      // a loaded record is stored again as the same texts, without serializing it again
      expect(storeRecord(loaded)).toEqual({ head, data });
    }
  });

  it('encode to the same text as JSON.stringify(format(record)) in every format, loaded or not', () => {
    for (const name of ['envelope', 'graph', 'ocsf'] as FormatName[]) {
      const { encode } = sinkFormat(name);
      for (const r of sampleRecords()) {
        const { head, data } = storeRecord(r);
        const expected = JSON.stringify(formatterFor(name)(r));
        expect(encode(r)).toBe(expected);
        expect(encode(loadRecord(head, data))).toBe(expected);
      }
    }
  });

  it('store a title that looks like the data key, and a record whose data is not its last key', () => {
    const [r] = sampleRecords();
    const tricky = { ...r!, title: 'x","data":{"forged":1},"y":"' };
    const { data: d, ...rest } = tricky;
    const reordered = { data: d, ...rest } as AlertRecord;
    for (const rec of [tricky, reordered]) {
      const { head, data } = storeRecord(rec);
      expect(JSON.parse(data)).toEqual(rec.data);
      expect(JSON.parse(head)).toEqual(rest);
      expect(loadRecord(head, data)).toEqual(rec);
    }
  });

  it('forget their stored text once data is replaced', () => {
    const [r] = sampleRecords();
    const { head, data } = storeRecord(r!);
    const loaded = loadRecord(head, data);
    loaded.data = { id: 'replaced' };
    expect(loaded.data).toEqual({ id: 'replaced' });
    expect(recordJson(loaded)).toBe(JSON.stringify({ ...r, data: { id: 'replaced' } }));
    expect(dataJson(loaded)).toBe('{"id":"replaced"}');
    expect(storeRecord(loaded).data).toBe('{"id":"replaced"}');
  });
});
