/**
 * `format: ocsf` for write-back outcome records (`sync_outcomes`, outcome-record.ts): OCSF 1.4.0 API Activity
 * (class_uid 6003, category 6 "Application Activity"), "general CRUD API activities" — a write to Graph's API on
 * behalf of an analyst, and its result. Detection Finding (2004), which alert records use, would put outcomes among
 * the detections a SOC triages; Application Error (6008, health records) is about alertbridge itself.
 *
 * Every outcome is activity 3 Update (the change updates an alert or incident): `api.operation` is the write the
 * change asks for (`PATCH`, or `POST` when it only adds a comment), for every outcome so a SIEM can search by it;
 * `http_request.http_method` is the request Graph's status (`http_response.code`) answers — the write for
 * `applied`, the `GET` for `noop` and `conflict` (nothing was written), left out for `failed` (the failing request
 * may be the read or the write). `status_id` Success for applied/noop, Failure for conflict/failed, with the outcome
 * kind as `status_code` and its reason as `status_detail`. The required `actor` (who asked, `requested_by`, as
 * `actor.user.name`; alertbridge as `actor.app_name`), `api`, `src_endpoint` (alertbridge) are always set; the
 * alert or incident is `resources[0]` with the fields before and after in its `data`; the whole outcome is in
 * `unmapped.alertbridge`.
 */
import type { AlertRecord } from '../record/types.js';
import type { SyncOutcome, SyncOutcomeKind } from './queue.js';

export const OUTCOME_OCSF_VERSION = '1.4.0';
export const API_ACTIVITY = {
  class_uid: 6003,
  class_name: 'API Activity',
  category_uid: 6,
  category_name: 'Application Activity',
} as const;
/** API Activity's activity_id 3: "the API call in the event pertains to a 'update' activity". */
const UPDATE = [3, 'Update'] as const;
const GRAPH = 'Microsoft Graph';

/** Per outcome: OCSF severity, status (1 Success, 2 Failure) and what happened when the outcome has no reason. */
const KIND: Record<SyncOutcomeKind, { severity: [number, string]; status: [number, string]; detail: string }> = {
  applied: { severity: [1, 'Informational'], status: [1, 'Success'], detail: 'written to Graph' },
  noop: {
    severity: [1, 'Informational'],
    status: [1, 'Success'],
    detail: 'every field already had the value asked for; nothing was written',
  },
  conflict: {
    severity: [2, 'Low'],
    status: [2, 'Failure'],
    detail: 'the object changed since the analyst decided; nothing was written',
  },
  failed: { severity: [3, 'Medium'], status: [2, 'Failure'], detail: 'Graph refused the change' },
};

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const ms = (v: string | null | undefined): number | undefined => {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? undefined : t;
};

/** The write the change asks for: a PATCH of the object when it sets fields, else the comment's POST. */
function writeOf(o: SyncOutcome): { method: 'PATCH' | 'POST'; path: string } {
  const object = `/security/${o.resource}/${o.id}`;
  if (o.fields.length === 0 && o.comment !== null) return { method: 'POST', path: `${object}/comments` };
  // Applied with no field that moved (they already had their values): only the comment went out.
  if (o.outcome === 'applied' && o.comment !== null && o.fields.every((f) => same(f.from, f.to)))
    return { method: 'POST', path: `${object}/comments` };
  return { method: 'PATCH', path: object };
}

/** The outcome record as an OCSF API Activity event. Pure: the record is not modified. */
export function outcomeToOcsf(r: AlertRecord): Record<string, unknown> {
  const o = r.data as unknown as SyncOutcome;
  const kind = KIND[o.outcome] ?? KIND.failed;
  const [activityId, activity] = UPDATE;
  const write = writeOf(o);
  const answered =
    o.outcome === 'applied' ? write : o.outcome === 'noop' || o.outcome === 'conflict' ? { method: 'GET' } : undefined;
  const object = `/security/${o.resource}/${o.id}`;
  const code = typeof o.graph_status === 'number' ? o.graph_status : undefined;
  const failure = kind.status[0] === 2;
  return {
    ...API_ACTIVITY,
    activity_id: activityId,
    activity_name: activity,
    type_uid: API_ACTIVITY.class_uid * 100 + activityId,
    type_name: `${API_ACTIVITY.class_name}: ${activity}`,
    severity_id: kind.severity[0],
    severity: kind.severity[1],
    status_id: kind.status[0],
    status: kind.status[1],
    status_code: o.outcome,
    status_detail: o.reason ?? kind.detail,
    time: ms(o.finished_at) ?? Date.parse(r.revision),
    ...(ms(o.requested_at) === undefined ? {} : { start_time: ms(o.requested_at) }),
    ...(ms(o.finished_at) === undefined ? {} : { end_time: ms(o.finished_at) }),
    message: r.title,
    actor: { user: { name: o.requested_by || 'unknown' }, app_name: 'alertbridge' },
    api: {
      operation: write.method,
      service: { name: GRAPH },
      request: { uid: o.change_id },
      ...(code === undefined && !failure
        ? {}
        : {
            response: {
              ...(code === undefined ? {} : { code }),
              ...(failure ? { error: o.outcome, error_message: o.reason ?? kind.detail } : {}),
            },
          }),
    },
    src_endpoint: { svc_name: 'alertbridge' },
    dst_endpoint: { svc_name: GRAPH },
    ...(answered
      ? {
          http_request: {
            http_method: answered.method,
            url: { path: answered.method === 'GET' ? object : write.path },
          },
        }
      : {}),
    ...(code === undefined ? {} : { http_response: { code } }),
    cloud: { provider: 'Microsoft' },
    resources: [
      {
        uid: o.id,
        type: o.resource,
        data: {
          key: o.key,
          fields: o.fields,
          comment: o.comment,
          expected_revision: o.expected_revision,
          revision_before: o.revision_before,
          revision_after: o.revision_after,
        },
      },
    ],
    metadata: {
      version: OUTCOME_OCSF_VERSION,
      product: { name: 'alertbridge', vendor_name: 'alertbridge' },
      profiles: ['cloud'],
      uid: `${r.key}@${r.revision}`,
      ...(r.tenant_id ? { tenant_uid: r.tenant_id } : {}),
      logged_time: Date.parse(r.ingested_at),
      log_name: 'sync_outcomes',
      log_provider: 'alertbridge',
    },
    unmapped: { alertbridge: o },
  };
}
