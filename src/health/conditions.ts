/**
 * Health conditions: what alertbridge knows is wrong with its coverage or its delivery, each under a stable key so
 * that it is reported once when it starts (raised) and once when it ends (cleared), whichever replica sees it and
 * however often it is seen in between. The contract of each kind is docs/health.md.
 */

export const HEALTH_SCHEMA = 'alertbridge.health/v1';

/** Every condition kind, with its severity while raised (a cleared condition is `informational`). */
export const CONDITION_SEVERITY = {
  /** A provider missing from a Graph 206 partial response: its alerts of that window may not have been read. */
  provider_gap: 'high',
  /** Alerts Graph's paging could not reach (deep window split limits, `$skip` depth): passed over. */
  paging_overflow: 'high',
  /** A poll window failing on every poll for longer than `stuck_window_alert_ms`. */
  window_failing: 'high',
  /** Entra ID or Graph refuses the source's credentials (token request refused, 401). */
  credentials_refused: 'high',
  /** Graph answers 403 for a resource: the app lacks the permission (or its consent). */
  permission_refused: 'high',
  /** No new record of a resource for longer than the source's `expect_alerts_within_ms`. */
  tenant_silent: 'medium',
  /** The tenant's request budget exhausted for longer than `budget_exhausted_alert_ms`. */
  budget_exhausted: 'medium',
  /** A sink paused on refused credentials or a missing destination (sent to the other sinks). */
  sink_paused: 'high',
  /** Records dead-lettered at a sink: one condition per `dead_letter.report_window_ms`, with the count. */
  dead_letters: 'medium',
} as const;
export type ConditionKind = keyof typeof CONDITION_SEVERITY;
export const CONDITION_KINDS = Object.keys(CONDITION_SEVERITY) as ConditionKind[];

/** Conditions of one (source, resource) poll, decided at the end of each poll. */
export const POLL_KINDS: readonly ConditionKind[] = [
  'provider_gap',
  'paging_overflow',
  'window_failing',
  'permission_refused',
  'tenant_silent',
];

/** Where a condition is: a source (a tenant), one of its resources or all of them (`*`), or a sink. */
export type Subject = { source: string; tenant_id: string; resource: string } | { sink: string };

/** A condition as observed now; its first and last sightings are kept in Redis (reporter.ts). */
export interface Condition {
  kind: ConditionKind;
  subject: Subject;
  /** What tells two conditions of one kind and subject apart: the provider of a gap or an overflow. */
  provider?: string;
  /** One line for people (the record's `title`). */
  message: string;
  /** What this sighting saw (a gap's window, the error, the wait); the first and the last are kept. */
  detail?: Record<string, unknown>;
  /** Dead letters: how many this sighting added (summed over the condition's life). */
  count?: number;
}

/** `health:{source}/{resource}/{kind}[/{provider}]` or `health:sink:{sink}/{kind}`: stable over the condition's life. */
export function conditionKey(c: Pick<Condition, 'kind' | 'subject' | 'provider'>): string {
  return `${scopeOf(c.subject)}${c.kind}${c.provider ? `/${c.provider}` : ''}`;
}

/** The key prefix of a subject's conditions: an observation clears only conditions under it. */
export function scopeOf(s: Subject): string {
  return 'sink' in s ? `health:sink:${s.sink}/` : `health:${s.source}/${s.resource}/`;
}

/** The subject of a source's conditions that concern all its resources (its credentials). */
export function sourceWide(source: string, tenantId: string): Subject {
  return { source, tenant_id: tenantId, resource: '*' };
}
