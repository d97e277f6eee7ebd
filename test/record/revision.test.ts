import { describe, it, expect } from 'vitest';
import { canonicalJson, contentRevision, isHashRevision, revisionOrder } from '../../src/record/revision.js';

describe('revisionOrder', () => {
  it('writes every timestamp as UTC with exactly seven fractional digits', () => {
    expect(revisionOrder('2024-01-01T00:00:00Z')).toBe('2024-01-01T00:00:00.0000000Z');
    expect(revisionOrder('2024-01-01T00:00:00.1234567Z')).toBe('2024-01-01T00:00:00.1234567Z');
    expect(revisionOrder('2021-04-26T07:45:50.116Z')).toBe('2021-04-26T07:45:50.1160000Z');
    expect(revisionOrder('2024-01-01T00:00:00.5z')).toBe('2024-01-01T00:00:00.5000000Z');
    expect(revisionOrder('2024-01-01T01:00:00.5+01:00')).toBe('2024-01-01T00:00:00.5000000Z');
    expect(revisionOrder('2024-01-01T00:00:00+00:00')).toBe('2024-01-01T00:00:00.0000000Z');
    expect(revisionOrder('2024-12-31T22:30:00.25-05:00')).toBe('2025-01-01T03:30:00.2500000Z');
    expect(revisionOrder('2024-01-01T05:30:00+0530')).toBe('2024-01-01T00:00:00.0000000Z');
  });

  it('reads a timestamp without offset as UTC and one without seconds as :00', () => {
    expect(revisionOrder('2024-03-01T10:20:30.123')).toBe('2024-03-01T10:20:30.1230000Z');
    expect(revisionOrder('2024-03-01T10:20Z')).toBe('2024-03-01T10:20:00.0000000Z');
  });

  it('truncates digits beyond the seventh (Graph resolution is 100 ns)', () => {
    expect(revisionOrder('2024-01-01T00:00:00.123456789Z')).toBe('2024-01-01T00:00:00.1234567Z');
  });

  it('gives equal forms for the same instant written differently', () => {
    const forms = [
      '2024-06-01T12:00:00Z',
      '2024-06-01T12:00:00.0000000Z',
      '2024-06-01T14:00:00.000+02:00',
      '2024-06-01T07:00:00-05:00',
    ];
    expect(new Set(forms.map(revisionOrder))).toEqual(new Set(['2024-06-01T12:00:00.0000000Z']));
  });

  it('sorts lexicographically in time order across fraction lengths and offsets', () => {
    const inTimeOrder = [
      '2024-01-01T00:30:00+01:00', // 2023-12-31T23:30:00Z
      '2023-12-31T23:59:59.9999999Z',
      '2024-01-01T00:00:00Z', // as a raw string this sorts after every '…00:00:00.x' below ('Z' > '.')
      '2024-01-01T00:00:00.0000001Z',
      '2024-01-01T00:00:00.0000002Z',
      '2024-01-01T00:00:00.12Z',
      '2024-01-01T00:00:00.1234567Z',
      '2024-01-01T00:00:00.5Z',
      '2024-01-01T01:00:01+01:00', // 00:00:01Z
      '2024-01-01T00:00:01.5-00:00',
      '2024-01-01T00:00:02Z',
    ];
    const byOrder = (a: string, b: string): number => {
      const [x, y] = [revisionOrder(a) as string, revisionOrder(b) as string];
      return x < y ? -1 : x > y ? 1 : 0;
    };
    expect([...inTimeOrder].reverse().sort(byOrder)).toEqual(inTimeOrder);
    expect([...inTimeOrder].sort()).not.toEqual(inTimeOrder); // raw strings would not do
    // Agrees with Date wherever Date can tell the values apart.
    const ms = [
      '2024-01-01T00:00:00.5Z',
      '2024-01-01T00:00:00Z',
      '2024-01-01T02:00:00.001+03:00',
      '2023-06-01T00:00:00-12:00',
    ];
    expect([...ms].sort(byOrder)).toEqual([...ms].sort((a, b) => Date.parse(a) - Date.parse(b)));
  });

  it('keeps sub-millisecond precision that Date would lose', () => {
    const a = '2024-05-01T08:00:00.1230001Z';
    const b = '2024-05-01T08:00:00.1230009Z';
    expect(Date.parse(a)).toBe(Date.parse(b));
    expect((revisionOrder(a) as string) < (revisionOrder(b) as string)).toBe(true);
  });

  it('accepts leap days and rejects impossible dates', () => {
    expect(revisionOrder('2024-02-29T00:00:00Z')).toBe('2024-02-29T00:00:00.0000000Z');
    expect(revisionOrder('2000-02-29T00:00:00Z')).toBe('2000-02-29T00:00:00.0000000Z');
    expect(revisionOrder('2023-02-29T00:00:00Z')).toBeNull();
    expect(revisionOrder('1900-02-29T00:00:00Z')).toBeNull();
    expect(revisionOrder('2024-04-31T00:00:00Z')).toBeNull();
    expect(revisionOrder('2024-13-01T00:00:00Z')).toBeNull();
    expect(revisionOrder('2024-01-01T24:00:00Z')).toBeNull();
    expect(revisionOrder('2024-01-01T00:60:00Z')).toBeNull();
    expect(revisionOrder('2024-01-01T00:00:00+24:00')).toBeNull();
  });

  it('returns null for hash revisions and non-timestamps', () => {
    expect(revisionOrder(`sha256:${'a'.repeat(64)}`)).toBeNull();
    expect(revisionOrder('String (timestamp)')).toBeNull();
    expect(revisionOrder('datetime-value')).toBeNull();
    expect(revisionOrder('')).toBeNull();
    expect(revisionOrder('2024-01-01')).toBeNull();
    expect(revisionOrder('1704067200')).toBeNull();
    expect(revisionOrder('0000-01-01T00:00:00+01:00')).toBeNull(); // year -1 in UTC
    expect(revisionOrder(42 as unknown as string)).toBeNull();
  });
});

describe('contentRevision', () => {
  it('is sha256 of the canonical JSON', () => {
    const rev = contentRevision({ b: 1, a: 'x' });
    expect(rev).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(isHashRevision(rev)).toBe(true);
    expect(isHashRevision('2024-01-01T00:00:00Z')).toBe(false);
  });

  it('does not depend on key order, at any depth', () => {
    const one = { id: '1', nested: { x: 1, y: [{ p: 1, q: 2 }] }, z: null };
    const two = { z: null, nested: { y: [{ q: 2, p: 1 }], x: 1 }, id: '1' };
    expect(contentRevision(one)).toBe(contentRevision(two));
  });

  it('changes with content, including array order', () => {
    expect(contentRevision({ a: [1, 2] })).not.toBe(contentRevision({ a: [2, 1] }));
    expect(contentRevision({ a: 1 })).not.toBe(contentRevision({ a: '1' }));
  });
});

describe('canonicalJson', () => {
  it('sorts keys and otherwise writes what JSON.stringify writes', () => {
    expect(canonicalJson({ b: [3, { d: 1, c: 'é' }], a: true })).toBe('{"a":true,"b":[3,{"c":"é","d":1}]}');
    expect(canonicalJson({ a: undefined, b: [undefined] })).toBe('{"b":[null]}');
    expect(canonicalJson({ d: new Date('2024-01-01T00:00:00Z') })).toBe('{"d":"2024-01-01T00:00:00.000Z"}');
    expect(canonicalJson(undefined)).toBe('null');
  });
});
