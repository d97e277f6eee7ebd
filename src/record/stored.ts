/**
 * The stored form of a record: two JSON texts, the head (every field but `data`) and `data` (the Graph object).
 *
 * A record is serialized once, when it is staged in Redis, and the same text is what an `envelope` or `graph` sink
 * writes: a record read back from Redis parses only its head (a few hundred bytes: key, revision, times), and its
 * 2–5 KB Graph object is parsed only if something reads `record.data` (a filter never does; the `ocsf` format
 * does). Serializing and parsing each record several times was most of the pipeline's CPU (docs/benchmarks.md).
 */
import type { AlertRecord } from './types.js';

export interface StoredRecord {
  head: string;
  data: string;
}

/** The texts a decoded record was built from, for as long as nobody replaced its `data`. */
const TEXTS = new WeakMap<AlertRecord, StoredRecord>();

const DATA_KEY = ',"data":';

export function storeRecord(record: AlertRecord): StoredRecord {
  const known = TEXTS.get(record);
  if (known) return known;
  // One JSON.stringify, cut where `data` begins: the other fields are scalars, so the first `,"data":` is the key
  // (a quote inside a string value is escaped). Only when `data` is the last key, as normalize() builds records.
  let last = '';
  for (const k in record) last = k;
  if (last === 'data') {
    const text = JSON.stringify(record);
    const at = text.indexOf(DATA_KEY);
    if (at > 0) return { head: `${text.slice(0, at)}}`, data: text.slice(at + DATA_KEY.length, -1) };
  }
  const { data, ...head } = record;
  return { head: JSON.stringify(head), data: JSON.stringify(data) };
}

/** A record from its stored texts; `data` is parsed on first access. */
export function loadRecord(head: string, data: string): AlertRecord {
  const record = JSON.parse(head) as AlertRecord;
  const settle = (value: AlertRecord['data']) => {
    Object.defineProperty(record, 'data', { value, writable: true, enumerable: true, configurable: true });
    return value;
  };
  Object.defineProperty(record, 'data', {
    enumerable: true,
    configurable: true,
    get: () => settle(JSON.parse(data) as AlertRecord['data']),
    set: (value: AlertRecord['data']) => {
      TEXTS.delete(record);
      settle(value);
    },
  });
  TEXTS.set(record, { head, data });
  return record;
}

/** `JSON.stringify(record)`, from the stored text when the record came from Redis. */
export function recordJson(record: AlertRecord): string {
  const t = TEXTS.get(record);
  if (!t) return JSON.stringify(record);
  return t.head.length > 2 ? `${t.head.slice(0, -1)},"data":${t.data}}` : `{"data":${t.data}}`;
}

/** `JSON.stringify(record.data)`, from the stored text when the record came from Redis. */
export function dataJson(record: AlertRecord): string {
  return TEXTS.get(record)?.data ?? JSON.stringify(record.data);
}
