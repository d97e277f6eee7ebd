/**
 * `format: ocsf` for health records: OCSF 1.4.0 Application Error (class_uid 6008, category 6 "Application
 * Activity"), whose definition is "issues with an application that generates OCSF events" — alertbridge telling of
 * its own coverage and delivery. Detection Finding (2004), which alert records use, would put these among the
 * security detections a SOC triages; Application Lifecycle (6002) is about installs and restarts, not failures.
 *
 * A raised condition is activity 1 "General Error" with status Failure; a cleared one activity 99 "Other"
 * (`activity_name: "Cleared"`) with status Success. `start_time`/`end_time` are the condition's first sighting and
 * its end, `count` its sightings, `metadata.correlation_uid` its stable key (the same on both records), and the
 * condition itself (every field of docs/health.md) is in `unmapped.alertbridge`.
 */
import type { AlertRecord } from '../record/types.js';

export const HEALTH_OCSF_VERSION = '1.4.0';
export const APPLICATION_ERROR = {
  class_uid: 6008,
  class_name: 'Application Error',
  category_uid: 6,
  category_name: 'Application Activity',
} as const;
const SEVERITY_ID: Record<string, [number, string]> = {
  informational: [1, 'Informational'],
  low: [2, 'Low'],
  medium: [3, 'Medium'],
  high: [4, 'High'],
};

export function healthToOcsf(r: AlertRecord): Record<string, unknown> {
  const d = r.data;
  const raised = r.status === 'raised';
  const [activityId, activity] = raised ? [1, 'General Error'] : [99, 'Cleared'];
  const [severityId, severity] = SEVERITY_ID[r.severity] ?? [0, 'Unknown'];
  const ms = (v: unknown): number | undefined => (typeof v === 'string' ? Date.parse(v) : undefined);
  return {
    ...APPLICATION_ERROR,
    activity_id: activityId,
    activity_name: activity,
    type_uid: APPLICATION_ERROR.class_uid * 100 + activityId,
    type_name: `${APPLICATION_ERROR.class_name}: ${activity}`,
    severity_id: severityId,
    severity,
    status_id: raised ? 2 : 1,
    status: raised ? 'Failure' : 'Success',
    status_code: String(d.condition),
    time: Date.parse(r.revision),
    start_time: ms(d.first_seen),
    ...(raised ? {} : { end_time: ms(d.cleared_at) }),
    count: d.observations,
    message: r.title,
    metadata: {
      version: HEALTH_OCSF_VERSION,
      product: { name: 'alertbridge', vendor_name: 'alertbridge' },
      uid: `${r.key}@${r.revision}`,
      correlation_uid: r.key,
      ...(r.tenant_id ? { tenant_uid: r.tenant_id } : {}),
      logged_time: Date.parse(r.ingested_at),
      log_name: 'health',
      log_provider: 'alertbridge',
    },
    unmapped: { alertbridge: d },
  };
}
