/**
 * Status sync back to Graph: `PATCH /security/alerts_v2/{id}` and `/security/incidents/{id}` (200 + the object) and
 * legacy `PATCH /security/alerts/{id}` (needs `vendorInformation {provider, vendor}`; 204, or 200 with
 * `Prefer: return=representation`). Each accepted PATCH bumps the object's update time, so pollers see a revision.
 */
import type { Resource } from '../record/types.js';
import type { GraphObject } from './generate.js';
import { graphError, graphHeaders, type SimResponse } from './http-util.js';
import type { CollectionContext } from './collections.js';

/** Properties a client may change, per resource (Graph's documented updatable properties). */
const UPDATABLE: Partial<Record<Resource, readonly string[]>> = {
  alerts_v2: ['status', 'classification', 'determination', 'assignedTo', 'customDetails'],
  incidents: [
    'status',
    'classification',
    'determination',
    'assignedTo',
    'customTags',
    'description',
    'displayName',
    'severity',
    'resolvingComment',
    'summary',
  ],
  alerts: ['assignedTo', 'closedDateTime', 'comments', 'feedback', 'status', 'tags', 'vendorInformation'],
};

const CLASSIFICATIONS = [
  'unknown',
  'falsePositive',
  'truePositive',
  'informationalExpectedActivity',
  'unknownFutureValue',
];
/** alerts_v2 determinations; incidents name four of them differently (Graph v1.0 `incident` resource). */
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
  'unknownFutureValue',
];
const INCIDENT_NAMES: Record<string, string> = {
  compromisedAccount: 'compromisedUser',
  notMalicious: 'clean',
  notEnoughDataToValidate: 'insufficientData',
  confirmedActivity: 'confirmedUserActivity',
};

const ENUMS: Record<string, readonly string[]> = {
  'alerts_v2.status': ['new', 'inProgress', 'resolved', 'unknownFutureValue'],
  'alerts_v2.classification': CLASSIFICATIONS,
  'alerts_v2.determination': ALERT_DETERMINATIONS,
  'incidents.status': ['active', 'resolved', 'inProgress', 'redirected', 'awaitingAction', 'unknownFutureValue'],
  'incidents.classification': CLASSIFICATIONS,
  'incidents.determination': ALERT_DETERMINATIONS.map((d) => INCIDENT_NAMES[d] ?? d),
  'alerts.status': ['unknown', 'newAlert', 'inProgress', 'resolved', 'dismissed', 'unknownFutureValue'],
  'alerts.feedback': ['unknown', 'truePositive', 'falsePositive', 'benignPositive', 'unknownFutureValue'],
};

export function patchItem(ctx: CollectionContext, id: string): SimResponse {
  const { req, spec, store, tenantId } = ctx;
  const resource = spec.resource;
  const allowed = UPDATABLE[resource];
  const log = { resource };
  if (!allowed)
    return { ...graphError(req, 405, 'MethodNotAllowed', `PATCH is not supported on ${spec.segment}.`), log };
  let body: unknown;
  try {
    body = JSON.parse(req.rawBody || 'null');
  } catch {
    return { ...graphError(req, 400, 'BadRequest', 'The request body is not valid JSON.'), log };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ...graphError(req, 400, 'BadRequest', 'The request body must be a JSON object.'), log };
  }
  const changes = body as GraphObject;
  const current = store.get(tenantId, resource, id);
  if (!current)
    return { ...graphError(req, 404, 'NotFound', `No ${spec.segment} item with id '${id}' was found.`), log };
  const provider = spec.provider(current);
  for (const [key, value] of Object.entries(changes)) {
    if (!allowed.includes(key)) {
      return {
        ...graphError(
          req,
          400,
          'BadRequest',
          `The property '${key}' cannot be updated on ${spec.segment} (updatable: ${allowed.join(', ')}).`,
        ),
        log,
      };
    }
    if (key === 'customTags' && !(Array.isArray(value) && value.every((t) => typeof t === 'string'))) {
      return {
        ...graphError(req, 400, 'BadRequest', `Invalid value for customTags (expected an array of strings).`),
        log,
      };
    }
    if (key === 'assignedTo' && value !== null && typeof value !== 'string') {
      return { ...graphError(req, 400, 'BadRequest', `Invalid value for assignedTo (expected a string).`), log };
    }
    const values = ENUMS[`${resource}.${key}`];
    if (values && !values.some((v) => v.toLowerCase() === String(value).toLowerCase())) {
      return {
        ...graphError(
          req,
          400,
          'BadRequest',
          `Invalid value '${String(value)}' for ${key} (expected one of: ${values.join(', ')}).`,
        ),
        log,
      };
    }
  }
  if (resource === 'alerts') {
    const vendor = changes.vendorInformation as { provider?: unknown; vendor?: unknown } | undefined;
    const own = current.vendorInformation as { provider?: string; vendor?: string } | undefined;
    if (typeof vendor?.provider !== 'string' || typeof vendor.vendor !== 'string') {
      return {
        ...graphError(
          req,
          400,
          'BadRequest',
          'vendorInformation with provider and vendor is required to update an alert.',
        ),
        log,
      };
    }
    if (
      vendor.provider.toLowerCase() !== own?.provider?.toLowerCase() ||
      vendor.vendor.toLowerCase() !== own?.vendor?.toLowerCase()
    ) {
      return {
        ...graphError(
          req,
          400,
          'BadRequest',
          `vendorInformation does not match the alert's provider (${own?.provider}/${own?.vendor}).`,
        ),
        log,
      };
    }
    // The body's vendorInformation routes the request; the stored one (with providerVersion, subProvider) stays.
    delete changes.vendorInformation;
  }
  const next = store.patch(
    tenantId,
    resource,
    id,
    withSideEffects(resource, changes, current, store.stampAfter(current.resolvedDateTime)),
  );
  const entityLog = { resource, provider };
  if (resource === 'alerts' && !/return=representation/i.test(String(req.headers.prefer ?? ''))) {
    return { status: 204, headers: graphHeaders(req), log: entityLog };
  }
  const context = `${req.origin}${ctx.version}/$metadata#${spec.contextName}/$entity`;
  return { status: 200, headers: graphHeaders(req), body: { '@odata.context': context, ...next }, log: entityLog };
}

/** What Graph sets along with a status change: resolution time for v2 alerts, closing time for legacy ones. */
function withSideEffects(resource: Resource, changes: GraphObject, current: GraphObject, now: string): GraphObject {
  const status = typeof changes.status === 'string' ? changes.status.toLowerCase() : undefined;
  if (resource === 'alerts_v2' && status === 'resolved' && !current.resolvedDateTime)
    return { ...changes, resolvedDateTime: now };
  if (
    resource === 'alerts' &&
    status === 'resolved' &&
    changes.closedDateTime === undefined &&
    !current.closedDateTime
  ) {
    return { ...changes, closedDateTime: now };
  }
  return changes;
}

/** The application permission a request needs, per resource: read for GET, write for the rest. */
const PERMISSIONS: Partial<Record<Resource, { read: string; write: string }>> = {
  alerts_v2: { read: 'SecurityAlert.Read.All', write: 'SecurityAlert.ReadWrite.All' },
  incidents: { read: 'SecurityIncident.Read.All', write: 'SecurityIncident.ReadWrite.All' },
  alerts: { read: 'SecurityEvents.Read.All', write: 'SecurityEvents.ReadWrite.All' },
  secure_scores: { read: 'SecurityEvents.Read.All', write: 'SecurityEvents.ReadWrite.All' },
  secure_score_control_profiles: { read: 'SecurityEvents.Read.All', write: 'SecurityEvents.ReadWrite.All' },
};

/**
 * Graph's 403 when the token's roles do not cover the request (a write needs the ReadWrite permission; a read takes
 * either), else undefined.
 */
export function permissionDenied(ctx: CollectionContext, kind: 'read' | 'write'): SimResponse | undefined {
  const need = PERMISSIONS[ctx.spec.resource];
  const roles = ctx.roles;
  if (!need || !roles) return undefined;
  const ok = kind === 'read' ? [need.read, need.write] : [need.write];
  if (ok.some((r) => roles.includes(r))) return undefined;
  return {
    ...graphError(
      ctx.req,
      403,
      'Forbidden',
      `Missing role permissions on the request. API requires one of '${ok.join(', ')}'. Roles on the request '${roles.join(', ')}'. Resource specific permissions on the request ''.`,
    ),
    log: { resource: ctx.spec.resource, fault: 'forbidden' },
  };
}

/**
 * `POST /security/alerts_v2/{id}/comments` and `/security/incidents/{id}/comments`: appends an alertComment (Graph
 * answers 200 with the object's comments) and, like any change, bumps the object's update time.
 */
export function postComment(ctx: CollectionContext, id: string): SimResponse {
  const { req, spec, store, tenantId } = ctx;
  const log = { resource: spec.resource };
  if (spec.resource !== 'alerts_v2' && spec.resource !== 'incidents')
    return { ...graphError(req, 405, 'MethodNotAllowed', `Comments are not supported on ${spec.segment}.`), log };
  let body: unknown;
  try {
    body = JSON.parse(req.rawBody || 'null');
  } catch {
    return { ...graphError(req, 400, 'BadRequest', 'The request body is not valid JSON.'), log };
  }
  const comment = (body as { comment?: unknown } | null)?.comment;
  if (typeof comment !== 'string' || comment.trim() === '')
    return { ...graphError(req, 400, 'BadRequest', "The property 'comment' is required and must be a string."), log };
  const current = store.get(tenantId, spec.resource, id);
  if (!current)
    return { ...graphError(req, 404, 'NotFound', `No ${spec.segment} item with id '${id}' was found.`), log };
  const entry = {
    '@odata.type': '#microsoft.graph.security.alertComment',
    comment,
    createdByDisplayName: 'Automation',
    createdDateTime: store.stampAfter(current.lastUpdateDateTime),
  };
  const comments = [...(Array.isArray(current.comments) ? current.comments : []), entry];
  store.patch(tenantId, spec.resource, id, { comments });
  const context = `${req.origin}${ctx.version}/$metadata#Collection(microsoft.graph.security.alertComment)`;
  return {
    status: 200,
    headers: graphHeaders(req),
    body: { '@odata.context': context, value: comments },
    log: { resource: spec.resource, provider: spec.provider(current) },
  };
}
