/**
 * A write-back outcome as a pipeline record, for the sinks that opt in (`filter.resources: [sync_outcomes]`): the
 * envelope's routing fields, `schema: alertbridge.sync_outcome/v1` (consumers tell kinds apart by `schema`), and the
 * outcome itself as `data`. Keyed by source and change id and revised by its finishing time, so dedup delivers each
 * outcome once. Formats: `envelope`, `graph` (the outcome object) and `ocsf` (an API Activity, ocsf.ts).
 */
import { SYNC_OUTCOMES, type AlertRecord } from '../record/types.js';
import type { SyncOutcome } from './queue.js';

export function outcomeRecord(o: SyncOutcome, now = new Date()): AlertRecord {
  return {
    schema: o.schema as AlertRecord['schema'],
    key: `sync:${o.source}/${o.change_id}`,
    revision: o.finished_at,
    tenant_id: o.tenant_id,
    source: o.source,
    resource: SYNC_OUTCOMES as AlertRecord['resource'],
    provider: 'alertbridge',
    id: o.change_id,
    incident_id: null,
    severity: 'unknown',
    status: o.outcome,
    title: `${o.outcome}: ${o.resource}/${o.id}`,
    created_at: o.requested_at,
    updated_at: o.finished_at,
    ingested_at: now.toISOString(),
    via: 'sync',
    data: o as unknown as Record<string, unknown>,
  };
}
