/**
 * A triage change a SIEM asks alertbridge to write back to Graph: its validation (every bad item with its index and
 * reason, unknown enum values with the allowed list), and how each field maps onto the Graph property of the
 * resource it targets. Alerts and incidents differ: an incident's status says `active` where an alert's says `new`,
 * and four determinations have other names on incidents (`compromisedUser` for `compromisedAccount`, …). A SIEM may
 * send either vocabulary; the change is stored in the target resource's own.
 */
/** Resources a change can target. */
export const SYNC_RESOURCES = ['alerts_v2', 'incidents'] as const;
export type SyncResource = (typeof SYNC_RESOURCES)[number];

const ALERT_STATUSES = ['new', 'inProgress', 'resolved'] as const;
const INCIDENT_STATUSES = ['active', 'inProgress', 'resolved', 'redirected', 'awaitingAction'] as const;
const CLASSIFICATIONS = ['unknown', 'falsePositive', 'truePositive', 'informationalExpectedActivity'] as const;
const ALERT_DETERMINATIONS = [
  'unknown',
  'apt',
  'malware',
  'securityPersonnel',
  'securityTesting',
  'unwantedSoftware',
  'other',
  'multiStagedAttack',
  'compromisedAccount',
  'phishing',
  'maliciousUserActivity',
  'notMalicious',
  'notEnoughDataToValidate',
  'confirmedActivity',
  'lineOfBusinessApplication',
] as const;
/** Incident determinations: the alert list with four members named differently (Graph's v1.0 incident resource). */
const INCIDENT_NAMES: Readonly<Record<string, string>> = {
  compromisedAccount: 'compromisedUser',
  notMalicious: 'clean',
  notEnoughDataToValidate: 'insufficientData',
  confirmedActivity: 'confirmedUserActivity',
};
const ALERT_NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(INCIDENT_NAMES).map(([a, i]) => [i, a]),
);
const INCIDENT_DETERMINATIONS = ALERT_DETERMINATIONS.map((d) => INCIDENT_NAMES[d] ?? d);

/** The values each resource takes, per change field (what a 400 lists). */
export const ALLOWED: Readonly<Record<SyncResource, Readonly<Record<EnumField, readonly string[]>>>> = {
  alerts_v2: { status: ALERT_STATUSES, classification: CLASSIFICATIONS, determination: ALERT_DETERMINATIONS },
  incidents: { status: INCIDENT_STATUSES, classification: CLASSIFICATIONS, determination: INCIDENT_DETERMINATIONS },
};
type EnumField = 'status' | 'classification' | 'determination';

/** Change fields → Graph properties. */
export const GRAPH_PROPERTY = {
  status: 'status',
  classification: 'classification',
  determination: 'determination',
  assigned_to: 'assignedTo',
  custom_tags: 'customTags',
} as const;
export type SyncField = keyof typeof GRAPH_PROPERTY;

/** A validated change, as queued: values already in the target resource's vocabulary. */
export interface SyncChange {
  resource: SyncResource;
  /** The Graph object id. */
  id: string;
  /** The record key, when the SIEM sent one (it names the provider too). */
  key?: string;
  status?: string;
  classification?: string;
  determination?: string;
  /** `''` unassigns. */
  assigned_to?: string;
  /** Incidents only: the whole new tag list. */
  custom_tags?: string[];
  comment?: string;
  /** The revision the SIEM's analyst saw; a newer one in Graph makes the change a conflict. */
  expected_revision?: string;
  /** A caller-chosen id making a resent request idempotent (same id: queued once). */
  change_id?: string;
}

const KNOWN = new Set([
  'key',
  'resource',
  'id',
  'status',
  'classification',
  'determination',
  'assigned_to',
  'comment',
  'custom_tags',
  'expected_revision',
  'change_id',
]);
const MAX_COMMENT = 10_000;
const MAX_TAGS = 50;
const MAX_TAG = 200;
const MAX_ID = 512;
const CHANGE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export type ParseResult = { ok: true; change: SyncChange } | { ok: false; error: string };

/**
 * One item of a `/sync` body. `tenantId` is the source's: a key naming another tenant is refused, so a SIEM can
 * never steer a change into a tenant this source does not own.
 */
export function parseChange(item: unknown, tenantId: string): ParseResult {
  if (item === null || typeof item !== 'object' || Array.isArray(item))
    return { ok: false, error: 'a change must be a JSON object' };
  const o = item as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KNOWN.has(k));
  if (unknown.length)
    return {
      ok: false,
      error: `unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${[...KNOWN].join(', ')})`,
    };
  let resource: SyncResource;
  let id: string;
  let key: string | undefined;
  if (o.key !== undefined) {
    if (typeof o.key !== 'string') return { ok: false, error: 'key must be a string' };
    const parsed = parseKey(o.key, tenantId);
    if (!parsed.ok) return parsed;
    ({ resource, id } = parsed);
    key = o.key;
    if (o.resource !== undefined && o.resource !== resource)
      return { ok: false, error: `resource ${JSON.stringify(o.resource)} does not match the key's (${resource})` };
    if (o.id !== undefined && o.id !== id)
      return { ok: false, error: `id ${JSON.stringify(o.id)} does not match the key's (${id})` };
  } else {
    if (o.resource === undefined || o.id === undefined) return { ok: false, error: 'needs key, or resource and id' };
    if (!(SYNC_RESOURCES as readonly unknown[]).includes(o.resource))
      return { ok: false, error: `resource must be one of: ${SYNC_RESOURCES.join(', ')}` };
    if (typeof o.id !== 'string' || !validId(o.id))
      return { ok: false, error: `id must be a non-empty string of at most ${MAX_ID} characters, without / or ?` };
    resource = o.resource as SyncResource;
    id = o.id;
  }
  const change: SyncChange = { resource, id, ...(key ? { key } : {}) };
  for (const field of ['status', 'classification', 'determination'] as const) {
    const v = o[field];
    if (v === undefined || v === null) continue;
    const mapped = typeof v === 'string' ? mapEnum(resource, field, v) : undefined;
    if (mapped === undefined)
      return {
        ok: false,
        error: `${field} ${JSON.stringify(v)} is not valid for ${resource} (allowed: ${ALLOWED[resource][field].join(', ')})`,
      };
    change[field] = mapped;
  }
  if (o.assigned_to !== undefined && o.assigned_to !== null) {
    if (typeof o.assigned_to !== 'string' || o.assigned_to.length > 256)
      return { ok: false, error: 'assigned_to must be a string of at most 256 characters ("" unassigns)' };
    change.assigned_to = o.assigned_to;
  }
  if (o.custom_tags !== undefined && o.custom_tags !== null) {
    if (resource !== 'incidents')
      return { ok: false, error: 'custom_tags applies to incidents only (alerts_v2 has no customTags)' };
    const tags = o.custom_tags;
    if (
      !Array.isArray(tags) ||
      tags.length > MAX_TAGS ||
      !tags.every((t) => typeof t === 'string' && t.length > 0 && t.length <= MAX_TAG)
    )
      return {
        ok: false,
        error: `custom_tags must be an array of at most ${MAX_TAGS} non-empty strings of at most ${MAX_TAG} characters`,
      };
    change.custom_tags = tags as string[];
  }
  if (o.comment !== undefined && o.comment !== null) {
    if (typeof o.comment !== 'string' || o.comment.trim() === '' || o.comment.length > MAX_COMMENT)
      return { ok: false, error: `comment must be a non-empty string of at most ${MAX_COMMENT} characters` };
    change.comment = o.comment;
  }
  if (o.expected_revision !== undefined && o.expected_revision !== null) {
    if (typeof o.expected_revision !== 'string' || Number.isNaN(Date.parse(o.expected_revision)))
      return {
        ok: false,
        error: 'expected_revision must be the record revision the change was decided on (an ISO 8601 time)',
      };
    change.expected_revision = o.expected_revision;
  }
  if (o.change_id !== undefined) {
    if (typeof o.change_id !== 'string' || !CHANGE_ID.test(o.change_id))
      return { ok: false, error: 'change_id must be 1-128 characters of A-Z a-z 0-9 . _ : -' };
    change.change_id = o.change_id;
  }
  if (changedFields(change).length === 0 && change.comment === undefined)
    return {
      ok: false,
      error:
        'nothing to change: give at least one of status, classification, determination, assigned_to, comment, custom_tags',
    };
  return { ok: true, change };
}

/** `{tenant}/{resource}/{provider}/{id}` of this source's tenant. */
function parseKey(
  key: string,
  tenantId: string,
): { ok: true; resource: SyncResource; id: string } | { ok: false; error: string } {
  if (key.startsWith('push:'))
    return { ok: false, error: 'key names a pushed record: only Graph records can be synced' };
  const parts = key.split('/');
  if (parts.length < 4) return { ok: false, error: 'key must be {tenant_id}/{resource}/{provider}/{id}' };
  const [tenant, resource] = parts as [string, string];
  const id = parts.slice(3).join('/');
  if (tenant.toLowerCase() !== tenantId.toLowerCase())
    return { ok: false, error: `key names tenant ${tenant}, not this source's (${tenantId})` };
  if (!(SYNC_RESOURCES as readonly string[]).includes(resource))
    return { ok: false, error: `key names resource ${resource}: only ${SYNC_RESOURCES.join(', ')} can be synced` };
  if (!validId(id)) return { ok: false, error: 'key has an invalid id' };
  return { ok: true, resource: resource as SyncResource, id };
}

function validId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_ID && !/[/?#\\]/.test(id) && id !== '.' && id !== '..';
}

/** The value in the resource's vocabulary, case-insensitively, from either resource's names; undefined if none. */
export function mapEnum(resource: SyncResource, field: EnumField, value: string): string | undefined {
  const lower = value.trim().toLowerCase();
  let v = lower;
  if (field === 'status') {
    if (resource === 'incidents' && lower === 'new') v = 'active';
    if (resource === 'alerts_v2' && lower === 'active') v = 'new';
  }
  if (field === 'determination') {
    const names = resource === 'incidents' ? INCIDENT_NAMES : ALERT_NAMES;
    const other = Object.keys(names).find((k) => k.toLowerCase() === lower);
    if (other) v = names[other]!.toLowerCase();
  }
  return ALLOWED[resource][field].find((a) => a.toLowerCase() === v);
}

/** The fields (besides the comment) a change sets. */
export function changedFields(change: SyncChange): SyncField[] {
  return (Object.keys(GRAPH_PROPERTY) as SyncField[]).filter((f) => change[f] !== undefined);
}

/**
 * The PATCH body: only the fields that differ from `current` (the object as Graph has it now). Enum values are
 * compared case-insensitively and across the two determination vocabularies; `assignedTo` `''` and null are the
 * same; tags compare as sets.
 */
export function patchBody(change: SyncChange, current: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of changedFields(change)) {
    const prop = GRAPH_PROPERTY[field];
    const want = change[field];
    const have = current[prop];
    if (!sameValue(change.resource, field, want, have)) body[prop] = want;
  }
  return body;
}

function sameValue(resource: SyncResource, field: SyncField, want: unknown, have: unknown): boolean {
  if (field === 'custom_tags') {
    const a = new Set(want as string[]);
    const b = new Set(Array.isArray(have) ? (have as unknown[]).map(String) : []);
    return a.size === b.size && [...a].every((t) => b.has(t));
  }
  if (field === 'assigned_to') return (want || null) === ((typeof have === 'string' && have) || null);
  if (typeof have !== 'string') return false;
  if (field === 'status' || field === 'classification' || field === 'determination')
    return mapEnum(resource, field, have) === want;
  return have === want;
}

/** True when `current` already carries a comment with exactly this text (a resent change, or an automation loop). */
export function hasComment(current: Record<string, unknown>, text: string): boolean {
  const comments = current.comments;
  if (!Array.isArray(comments)) return false;
  return comments.some(
    (c) => c === text || (c !== null && typeof c === 'object' && (c as { comment?: unknown }).comment === text),
  );
}

/** The schema value of outcome records (CONTRACT.md: records of other kinds carry their own). */
export const OUTCOME_SCHEMA = 'alertbridge.sync_outcome/v1';
