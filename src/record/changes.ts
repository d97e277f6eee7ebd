/**
 * `changes: [{field, from, to}]`: what a revision changed, against the previous revision alertbridge delivered, for
 * the fields analysts triage by. SIEMs are append-only: without it an analyst diffs two full copies by eye.
 *
 * Each accepted record leaves a compact summary of those fields beside its dedup state (`{prefix}:dc:{key}`, same
 * TTL); the dedup script compares the next accepted revision's summary with it and writes `changes` into the record
 * in the same atomic step (dedup.ts). The summary is `field US json RS field US json …` (US = \x1f, RS = \x1e): JSON
 * text never contains raw control characters, so the script splits and compares texts without decoding JSON.
 * The first revision alertbridge delivers of a key (and every revision of a key whose summary expired, or was
 * written before this existed) has no `changes`.
 */
import type { AlertRecord } from './types.js';

/** One changed field: Graph's property name (or `evidenceCount`, `alertIds`), the value before and after. */
export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export const SUMMARY_FIELD_SEP = '\x1f';
export const SUMMARY_SEP = '\x1e';

/** The tracked fields of a record, in a fixed order (the order of `changes`). */
export function summaryOf(record: AlertRecord): string {
  const d = record.data;
  const fields: Array<[string, unknown]> = [
    ['status', record.status],
    ['severity', record.severity],
  ];
  if (record.resource === 'alerts_v2' || record.resource === 'incidents' || record.resource === 'alerts') {
    fields.push(['assignedTo', scalar(d.assignedTo)]);
  }
  if (record.resource === 'alerts_v2' || record.resource === 'incidents') {
    fields.push(['classification', scalar(d.classification)], ['determination', scalar(d.determination)]);
  }
  if (record.resource === 'alerts_v2' && Array.isArray(d.evidence)) fields.push(['evidenceCount', d.evidence.length]);
  if (record.resource === 'incidents' && Array.isArray(d.alerts)) {
    const ids = (d.alerts as unknown[])
      .map((a) => (a && typeof a === 'object' ? (a as { id?: unknown }).id : undefined))
      .filter((id): id is string => typeof id === 'string')
      .sort();
    fields.push(['alertIds', ids]);
  }
  return fields.map(([f, v]) => `${f}${SUMMARY_FIELD_SEP}${JSON.stringify(v)}`).join(SUMMARY_SEP);
}

function scalar(v: unknown): string | number | boolean | null {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : null;
}
