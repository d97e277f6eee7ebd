/**
 * Graph enum values mapped onto the record's normalized severity and status.
 *
 * Graph sends the same enum in different cases (`"Active"`, `"Medium"` in incident payloads; `"active"` elsewhere),
 * documentation placeholders (`"String"`, `"@odata.type: microsoft.graph.alertSeverity"`), and `unknownFutureValue`
 * when a client did not opt in to newer members. Everything is compared case-insensitively; whatever is not a known
 * member becomes `unknown` (the raw value stays in `data`).
 */
import type { Severity } from './types.js';

const SEVERITY_BY_LOWER: ReadonlyMap<string, Severity> = new Map([
  ['informational', 'informational'],
  ['low', 'low'],
  ['medium', 'medium'],
  ['high', 'high'],
]);

/**
 * Known statuses of every ingested resource, keyed by lower case, valued in the record's lowercase camelCase.
 * alerts_v2: new, inProgress, resolved. incidents: active, resolved, inProgress, redirected, awaitingAction.
 * Legacy alerts: newAlert (→ `new`, so that a SIEM filters one word for "untriaged"), inProgress, resolved, dismissed.
 * One table for all resources: a status that is valid for one resource is never turned into `unknown` for another.
 */
const STATUS_BY_LOWER: ReadonlyMap<string, string> = new Map([
  ['new', 'new'],
  ['newalert', 'new'],
  ['inprogress', 'inProgress'],
  ['resolved', 'resolved'],
  ['dismissed', 'dismissed'],
  ['active', 'active'],
  ['redirected', 'redirected'],
  ['awaitingaction', 'awaitingAction'],
]);

/** `informational`, `low`, `medium`, `high`, or `unknown` for anything else (absent, placeholder, future value). */
export function normalizeSeverity(value: unknown): Severity {
  if (typeof value !== 'string') return 'unknown';
  return SEVERITY_BY_LOWER.get(value.trim().toLowerCase()) ?? 'unknown';
}

/** The record's lowercase camelCase status, or `unknown` for anything not a known Graph status. */
export function normalizeStatus(value: unknown): string {
  if (typeof value !== 'string') return 'unknown';
  return STATUS_BY_LOWER.get(value.trim().toLowerCase()) ?? 'unknown';
}
