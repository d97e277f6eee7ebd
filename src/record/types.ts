/**
 * The alertbridge record: one Graph object (alert, incident, secure score, …) normalized for delivery.
 * Field names are the public contract (CONTRACT.md "The record"); SIEM searches depend on them.
 */

/** Graph resources alertbridge ingests. */
export const RESOURCES = [
  'alerts_v2',
  'incidents',
  'alerts',
  'secure_scores',
  'secure_score_control_profiles',
] as const;
export type Resource = (typeof RESOURCES)[number];

/**
 * The `resource` of write-back outcome records (src/sync/outcome-record.ts): not a Graph resource. Sinks receive them
 * only when their filter names it (`filter.resources: [..., sync_outcomes]`).
 */
export const SYNC_OUTCOMES = 'sync_outcomes';

/**
 * The `resource` of rows of a streamed Advanced Hunting table passed through by a `defender_streaming` source
 * (`tables:`): `streaming/<Table>`, e.g. `streaming/DeviceProcessEvents`. Like `sync_outcomes` they reach only the sinks
 * whose filter names them (`streaming/<Table>`, or `streaming/*` for every table).
 */
export const STREAMING_RESOURCE = /^streaming\/(?:\*|[A-Za-z][A-Za-z0-9]{0,99})$/;
export const isStreamingResource = (resource: string): boolean => resource.startsWith('streaming/');

/**
 * The `resource` of health records (src/health/, `schema: alertbridge.health/v1`): not a Graph resource. Sinks receive
 * them only when their filter names it (`filter.resources: [..., health]`).
 */
export const HEALTH = 'health';

/** Normalized severities, ordered from least to most severe (`unknown` sorts lowest for filtering). */
export const SEVERITIES = ['unknown', 'informational', 'low', 'medium', 'high'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** How a record entered alertbridge. */
export type Via = 'poll' | 'webhook' | 'push' | 'streaming' | 'sync' | 'health';

import type { FieldChange } from './changes.js';

export const RECORD_SCHEMA = 'alertbridge.record/v1';

export interface AlertRecord {
  schema: typeof RECORD_SCHEMA;
  /**
   * `{tenant_id}/{resource}/{provider}/{id}`: the dedup identity. Partner-pushed records (`via: push`) carry their
   * source's namespace first: `push:{source}/{tenant_id}/{resource}/{provider}/{id}`.
   */
  key: string;
  /** The Graph object's own update time, verbatim, or `sha256:<hex>` of its content when it has none. */
  revision: string;
  tenant_id: string;
  /** The configured source name that ingested it. */
  source: string;
  resource: Resource;
  provider: string;
  id: string;
  /**
   * The Defender incident the object belongs to, so a SIEM can group alerts without parsing `data`: alerts_v2
   * `incidentId`; an incident's own `id`; legacy alerts the first of `incidentIds`; null when there is none
   * (secure scores, control profiles, an alert not correlated yet). Absent from records staged by older versions.
   */
  incident_id: string | null;
  severity: Severity;
  /** lowercase camelCase (`new`, `inProgress`, `resolved`, …), `unknown` when absent or a placeholder. */
  status: string;
  title: string | null;
  created_at: string | null;
  updated_at: string | null;
  /** When alertbridge accepted it (ISO 8601, UTC). */
  ingested_at: string;
  via: Via;
  /**
   * What this revision changed against the previous one alertbridge delivered, for the triage fields (status,
   * severity, assignedTo, classification, determination, evidenceCount, alertIds): record/changes.ts. Absent on the
   * first revision delivered of a key; `[]` when none of those fields changed.
   */
  changes?: FieldChange[];
  /** The Graph object verbatim, unknown fields included. */
  data: Record<string, unknown>;
}
