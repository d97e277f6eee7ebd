/**
 * Graph objects → alertbridge records (CONTRACT.md "The record"). One function for every resource and every way in
 * (poll, webhook, partner push): the per-resource differences are a small table below.
 *
 * Tolerant by design: Graph payloads carry fields no schema lists, placeholders and future enum members. Only an
 * object without an identity is rejected; everything else becomes a record, `unknown` where a value is not usable,
 * with the object kept verbatim in `data`.
 */
import { normalizeSeverity, normalizeStatus } from './enums.js';
import { contentRevision, revisionOrder } from './revision.js';
import { RECORD_SCHEMA, RESOURCES, type AlertRecord, type Resource, type Via } from './types.js';

export interface NormalizeContext {
  /** The configured source name, copied to `record.source`. */
  source: string;
  via: Via;
  /** The source's tenant, used when the object names none (`tenantId` / `azureTenantId`). @defaultValue `unknown` */
  tenantId?: string;
  /** Clock for `ingested_at`, injectable for tests. @defaultValue `new Date()` */
  now?: Date;
}

export type NormalizeResult = { ok: true; record: AlertRecord } | { ok: false; reason: string };

/** Rejection reasons: short and stable, since tests and HTTP responses show them. */
export const REJECT_NOT_OBJECT = 'record is not a JSON object';
export const REJECT_NO_ID = 'record has no id';

/**
 * Prefix of the keys of partner-pushed records: `push:{source}/{tenant_id}/{resource}/{provider}/{id}`. A push
 * source is a third party: it may name any tenant, provider and id, so its records live under its own name and
 * can never take the dedup state (or a SIEM's latest-by-key view) of a Graph alert, nor of another push source.
 * Source names are `[a-z0-9][a-z0-9_-]*`, so the prefix cannot be confused across sources.
 */
export const PUSH_KEY_PREFIX = 'push:';

/** Placeholder for a tenant or provider the object does not name. */
export const UNKNOWN = 'unknown';

/** Provider of every incident: incidents are Microsoft 365 Defender's correlation, not one product's. */
export const INCIDENT_PROVIDER = 'microsoft365Defender';
/** Provider of secure scores and control profiles when `vendorInformation.provider` is absent. */
export const SECURE_SCORE_PROVIDER = 'SecureScore';

interface ResourceSpec {
  /** Field holding the tenant. */
  tenant: 'tenantId' | 'azureTenantId';
  /** Field holding the object's own update time: the revision and `updated_at`. */
  updated: string;
  provider(obj: Record<string, unknown>): string;
  title(obj: Record<string, unknown>): string | null;
}

const SPECS: Record<Resource, ResourceSpec> = {
  alerts_v2: {
    tenant: 'tenantId',
    updated: 'lastUpdateDateTime',
    provider: (o) => text(o.serviceSource) ?? UNKNOWN,
    title: (o) => text(o.title),
  },
  incidents: {
    tenant: 'tenantId',
    updated: 'lastUpdateDateTime',
    provider: () => INCIDENT_PROVIDER,
    title: (o) => text(o.displayName),
  },
  alerts: {
    tenant: 'azureTenantId',
    updated: 'lastModifiedDateTime',
    provider: (o) => vendorProvider(o) ?? UNKNOWN,
    title: (o) => text(o.title),
  },
  secure_scores: {
    tenant: 'azureTenantId',
    // A secure score is a daily snapshot that is never modified: its creation is its revision.
    updated: 'createdDateTime',
    provider: (o) => vendorProvider(o) ?? SECURE_SCORE_PROVIDER,
    title: secureScoreTitle,
  },
  secure_score_control_profiles: {
    tenant: 'azureTenantId',
    updated: 'lastModifiedDateTime',
    provider: (o) => vendorProvider(o) ?? SECURE_SCORE_PROVIDER,
    title: (o) => text(o.title),
  },
};

/**
 * Normalizes one Graph object of `resource` into a record.
 *
 * - `key` is `{tenant_id}/{resource}/{provider}/{id}` with every part verbatim (ids and providers may contain `/`:
 *   the key is an opaque identity, not a path to split); for `via: 'push'`, `push:{source}/` comes first
 *   ({@link PUSH_KEY_PREFIX}).
 * - `revision` is the update-time field verbatim when it is a valid timestamp, else `sha256:<hex>` of the object's
 *   canonical JSON (see {@link contentRevision}).
 * - `created_at` / `updated_at` are the Graph fields verbatim, or null when absent or not a timestamp (documentation
 *   placeholders like `"String (timestamp)"` would break a SIEM's time parsing).
 * - severity and status: see `enums.ts`. Secure scores and control profiles have neither: both are `unknown`.
 * - `incident_id`: see {@link incidentIdOf}.
 * - title: `title` (alerts, control profiles), `displayName` (incidents); secure scores, which have no title, get
 *   `Secure score {currentScore}/{maxScore}`.
 * - `data` is `obj` itself (same reference, never modified).
 */
export function normalize(resource: Resource, obj: unknown, ctx: NormalizeContext): NormalizeResult {
  const spec = SPECS[resource];
  if (!spec) return { ok: false, reason: `unknown resource ${JSON.stringify(resource)}` };
  if (!isPlainObject(obj)) return { ok: false, reason: REJECT_NOT_OBJECT };
  const id = text(obj.id);
  if (id === null) return { ok: false, reason: REJECT_NO_ID };

  const tenantId = text(obj[spec.tenant]) ?? text(ctx.tenantId) ?? UNKNOWN;
  const provider = spec.provider(obj);
  const updatedAt = timestamp(obj[spec.updated]);
  const namespace = ctx.via === 'push' ? `${PUSH_KEY_PREFIX}${ctx.source}/` : '';
  const record: AlertRecord = {
    schema: RECORD_SCHEMA,
    key: `${namespace}${tenantId}/${resource}/${provider}/${id}`,
    revision: updatedAt ?? contentRevision(obj),
    tenant_id: tenantId,
    source: ctx.source,
    resource,
    provider,
    id,
    incident_id: incidentIdOf(resource, obj),
    severity: normalizeSeverity(obj.severity),
    status: normalizeStatus(obj.status),
    title: spec.title(obj),
    created_at: timestamp(obj.createdDateTime),
    updated_at: updatedAt,
    ingested_at: (ctx.now ?? new Date()).toISOString(),
    via: ctx.via,
    data: obj,
  };
  return { ok: true, record };
}

/**
 * The incident an object belongs to (`record.incident_id`): alerts_v2 `incidentId`, an incident its own `id`,
 * legacy alerts the first of `incidentIds` (Graph lists at most one in practice); null otherwise.
 */
export function incidentIdOf(resource: Resource, obj: Record<string, unknown>): string | null {
  switch (resource) {
    case 'alerts_v2':
      return text(obj.incidentId);
    case 'incidents':
      return text(obj.id);
    case 'alerts':
      return Array.isArray(obj.incidentIds) ? text(obj.incidentIds[0]) : null;
    default:
      return null;
  }
}

const V2_ALERT_TYPE = 'microsoft.graph.security.alert';
const V1_ALERT_TYPE = 'microsoft.graph.alert';
/** Fields only a v2 alert (microsoft.graph.security.alert) has. */
const V2_FIELDS = ['serviceSource', 'providerAlertId', 'evidence'] as const;
/** Fields only a legacy alert (microsoft.graph.alert) has. */
const V1_FIELDS = ['vendorInformation', 'azureTenantId'] as const;

/**
 * Which alert resource a pushed object is: `alerts_v2` or `alerts` (legacy v1), or null when it is neither (not an
 * object, or none of the telling fields). `@odata.type` decides when present; otherwise the v2-only fields
 * (`serviceSource`, `providerAlertId`, `evidence`) win over the v1-only ones (`vendorInformation`, `azureTenantId`).
 */
export function detectResource(obj: unknown): 'alerts_v2' | 'alerts' | null {
  if (!isPlainObject(obj)) return null;
  const type = typeof obj['@odata.type'] === 'string' ? obj['@odata.type'].replace(/^#/, '').toLowerCase() : '';
  if (type === V2_ALERT_TYPE) return 'alerts_v2';
  if (type === V1_ALERT_TYPE) return 'alerts';
  if (V2_FIELDS.some((f) => f in obj)) return 'alerts_v2';
  if (V1_FIELDS.some((f) => f in obj)) return 'alerts';
  return null;
}

/** True for the resources this module knows; for callers holding an unchecked string. */
export function isResource(value: unknown): value is Resource {
  return typeof value === 'string' && (RESOURCES as readonly string[]).includes(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A non-blank string, verbatim; null otherwise. */
function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

function timestamp(value: unknown): string | null {
  return typeof value === 'string' && revisionOrder(value) !== null ? value : null;
}

function vendorProvider(obj: Record<string, unknown>): string | null {
  const vendor = obj.vendorInformation;
  return isPlainObject(vendor) ? text(vendor.provider) : null;
}

function secureScoreTitle(obj: Record<string, unknown>): string | null {
  const { currentScore: current, maxScore: max } = obj;
  if (typeof current !== 'number' || !Number.isFinite(current)) return null;
  return typeof max === 'number' && Number.isFinite(max) ? `Secure score ${current}/${max}` : `Secure score ${current}`;
}
