/**
 * Listing and reading the security collections. alerts_v2, incidents, secure scores and control profiles page with a
 * keyset `$skiptoken` (the last item's sort key): an object is never served twice within one walk of nextLinks, and
 * an object updated during the walk shows up with its newest revision if it is still ahead. Legacy alerts are
 * federated like Graph's: `$top` per provider, offset paging, `$skip` ≤ 500, no nextLink once `top+skip` reaches
 * 6000, and a failing provider turns the answer into 206 with a `Warning` header.
 */
import type { GraphObject } from './generate.js';
import { graphError, graphHeaders, type SimRequest, type SimResponse } from './http-util.js';
import {
  ODataError,
  comparator,
  compareValues,
  intOption,
  matches,
  parseFilter,
  parseOrderBy,
  pinnedValues,
  sortValue,
  type Filter,
  type OrderKey,
} from './odata.js';
import { LEGACY_LIMITS, LEGACY_PROVIDER_NAMES, type CollectionSpec } from './resources.js';
import type { Entry, SimStore } from './store.js';

export interface CollectionContext {
  req: SimRequest;
  store: SimStore;
  tenantId: string;
  spec: CollectionSpec;
  /** `/v1.0` or `/beta`, for links. */
  version: string;
  pageSize: number;
  /** Legacy providers currently failing (fault knob). */
  partialProviders: readonly string[];
  /** Where nextLinks point (fault knob `nextLinkOrigin`); the request's own origin when unset. */
  linkOrigin?: string;
  /** The token's application permissions. */
  roles?: readonly string[];
}

/** Sort key of an entry: the `$orderby` values, then creation order as the tiebreaker. */
type Tuple = [...(string | null)[], number];

/** Query options kept in nextLinks besides the skip token. */
const KEPT = ['$filter', '$orderby', '$top', '$count', '$expand', '$select'];

/** `GET /security/{collection}`; throws {@link ODataError} for a query it cannot answer. */
export function listCollection(ctx: CollectionContext): SimResponse {
  return ctx.spec.resource === 'alerts' ? listLegacy(ctx) : listKeyset(ctx);
}

function listKeyset(ctx: CollectionContext): SimResponse {
  const { req, spec } = ctx;
  const q = req.query;
  const filter = q.$filter ? parseFilter(q.$filter, spec.fields) : null;
  const keys: OrderKey[] = q.$orderby
    ? parseOrderBy(q.$orderby, spec.fields)
    : spec.resource === 'secure_scores'
      ? [{ field: 'createdDateTime', desc: true }]
      : [];
  const top = intOption(q, '$top');
  const tupleOf = (e: Entry): Tuple => [...keys.map((k) => sortValue(e.obj, k.field, spec.fields)), e.seq];
  const cmp = (a: Tuple, b: Tuple): number => {
    for (let i = 0; i < keys.length; i++) {
      const c = compareValues(a[i] as string | null, b[i] as string | null);
      if (c !== 0) return (keys[i] as OrderKey).desc ? -c : c;
    }
    return (a[keys.length] as number) - (b[keys.length] as number);
  };
  const matched = entriesMatching(ctx, filter)
    .map((e) => ({ e, t: tupleOf(e) }))
    .sort((a, b) => cmp(a.t, b.t));
  let start = intOption(q, '$skip') ?? 0;
  if (q.$skiptoken !== undefined) {
    const after = decodeToken(q.$skiptoken) as Tuple;
    if (!Array.isArray(after) || after.length !== keys.length + 1)
      throw new ODataError('Invalid $skiptoken: it does not belong to this query.');
    start = matched.findIndex((m) => cmp(m.t, after) > 0);
    if (start < 0) start = matched.length;
  }
  // Secure scores: `$top=n` means the n latest daily snapshots, not a page size.
  const size = top ?? ctx.pageSize;
  const page = matched.slice(start, start + size);
  const more = start + size < matched.length && !(spec.resource === 'secure_scores' && top !== undefined);
  const last = page[page.length - 1];
  const nextLink = more && last ? link(ctx, encodeToken(last.t)) : undefined;
  return respond(
    ctx,
    page.map((m) => m.e.obj),
    matched.length,
    nextLink,
    200,
    {},
  );
}

function listLegacy(ctx: CollectionContext): SimResponse {
  const { req, spec } = ctx;
  const q = req.query;
  const filter = q.$filter ? parseFilter(q.$filter, spec.fields) : null;
  const order = q.$orderby ? comparator(parseOrderBy(q.$orderby, spec.fields), spec.fields) : null;
  const top = intOption(q, '$top') ?? ctx.pageSize;
  const skip = intOption(q, '$skip') ?? 0;
  if (top > LEGACY_LIMITS.maxTop)
    throw new ODataError(`Invalid value for $top: ${top}. The maximum value allowed is ${LEGACY_LIMITS.maxTop}.`);
  if (skip > LEGACY_LIMITS.maxSkip)
    throw new ODataError(`Invalid value for $skip: ${skip}. The maximum value allowed is ${LEGACY_LIMITS.maxSkip}.`);
  let depth = skip;
  if (q.$skiptoken !== undefined) {
    const token = decodeToken(q.$skiptoken) as { d?: unknown };
    if (typeof token?.d !== 'number') throw new ODataError('Invalid $skiptoken: it does not belong to this query.');
    depth = token.d;
  }
  const byProvider = new Map<string, GraphObject[]>(LEGACY_PROVIDER_NAMES.map((p) => [p, []]));
  for (const e of entriesMatching(ctx, filter)) {
    const p = spec.provider(e.obj) ?? 'Unknown';
    const list = byProvider.get(p) ?? [];
    byProvider.set(p, list);
    list.push(e.obj);
  }
  const asked = pinnedValues(filter, 'vendorInformation/provider')?.map((p) => p.toLowerCase());
  const items: GraphObject[] = [];
  const warnings: string[] = [];
  let total = 0;
  let more = false;
  for (const [provider, list] of byProvider) {
    if (asked && !asked.includes(provider.toLowerCase())) continue;
    if (ctx.partialProviders.some((p) => p.toLowerCase() === provider.toLowerCase())) {
      warnings.push(partialWarning(provider));
      continue;
    }
    if (order) list.sort(order);
    items.push(...list.slice(depth, depth + top));
    total += list.length;
    more ||= list.length > depth + top;
  }
  const nextDepth = depth + top;
  const nextLink =
    more && nextDepth < LEGACY_LIMITS.maxDepth ? link(ctx, encodeToken({ d: nextDepth }), ['$skip']) : undefined;
  const headers: Record<string, string[]> = warnings.length ? { warning: warnings } : {};
  const r = respond(ctx, items, total, nextLink, warnings.length ? 206 : 200, headers);
  const provider = asked?.length === 1 ? asked[0] : undefined;
  return {
    ...r,
    log: {
      ...r.log,
      provider: provider && byProviderName(byProvider, provider),
      fault: warnings.length ? 'partial' : undefined,
    },
  };
}

/** `GET /security/{collection}/{id}`; a legacy alert of a failing provider gives 206 + Warning and no entity. */
export function getItem(ctx: CollectionContext, id: string): SimResponse {
  const { req, spec } = ctx;
  const obj = ctx.store.get(ctx.tenantId, spec.resource, id);
  const provider = obj ? spec.provider(obj) : undefined;
  const context = `${req.origin}${ctx.version}/$metadata#${spec.contextName}/$entity`;
  if (spec.resource === 'alerts') {
    const failing = ctx.partialProviders.filter((p) => !obj || p.toLowerCase() === provider?.toLowerCase());
    if (failing.length) {
      return {
        status: 206,
        headers: { ...graphHeaders(req), warning: failing.map(partialWarning) },
        body: { '@odata.context': context },
        log: { resource: spec.resource, provider, fault: 'partial' },
      };
    }
  }
  if (!obj) {
    return {
      ...graphError(req, 404, 'NotFound', `No ${spec.segment} item with id '${id}' was found.`),
      log: { resource: spec.resource },
    };
  }
  return {
    status: 200,
    headers: graphHeaders(req),
    body: { '@odata.context': context, ...project(ctx, obj) },
    log: { resource: spec.resource, provider },
  };
}

function entriesMatching(ctx: CollectionContext, filter: Filter | null): Entry[] {
  const all = ctx.store.entries(ctx.tenantId, ctx.spec.resource);
  return filter ? all.filter((e) => matches(filter, e.obj)) : all;
}

export function respond(
  ctx: CollectionContext,
  items: GraphObject[],
  count: number,
  nextLink: string | undefined,
  status: number,
  headers: Record<string, string | string[]>,
): SimResponse {
  const { req, spec } = ctx;
  const body: GraphObject = { '@odata.context': `${req.origin}${ctx.version}/$metadata#${spec.contextName}` };
  if (req.query.$count === 'true') body['@odata.count'] = count;
  if (nextLink) body['@odata.nextLink'] = nextLink;
  body.value = items.map((o) => project(ctx, o));
  return {
    status,
    headers: { ...graphHeaders(req), ...headers },
    body,
    log: { resource: spec.resource, items: items.length },
  };
}

/** `$select` and (incidents) `$expand=alerts` applied to one object. */
function project(ctx: CollectionContext, obj: GraphObject): GraphObject {
  const { query } = ctx.req;
  let out = obj;
  if (query.$expand !== undefined) {
    if (ctx.spec.resource !== 'incidents' || query.$expand !== 'alerts') {
      throw new ODataError(`Invalid $expand '${query.$expand}': only 'alerts' on incidents is supported.`);
    }
    const alerts = ctx.store
      .entries(ctx.tenantId, 'alerts_v2')
      .filter((e) => String(e.obj.incidentId) === String(obj.id));
    out = { ...out, alerts: alerts.map((e) => e.obj) };
  }
  if (query.$select) {
    const fields = new Set(['id', ...query.$select.split(',').map((f) => f.trim())]);
    out = Object.fromEntries(Object.entries(out).filter(([k]) => fields.has(k)));
  }
  return out;
}

function link(ctx: CollectionContext, token: string, drop: string[] = []): string {
  const q = ctx.req.query;
  const params = KEPT.filter((k) => q[k] !== undefined && !drop.includes(k)).map(
    (k) => `${k}=${encodeURIComponent(q[k] as string)}`,
  );
  params.push(`$skiptoken=${token}`);
  return `${ctx.linkOrigin ?? ctx.req.origin}${ctx.req.path}?${params.join('&')}`;
}

/** A nextLink with `$skip` (graph-like paging): the request's options, `$top` as served, `$skip` moved on. */
export function skipLink(ctx: CollectionContext, skip: number, top: number): string {
  const q = ctx.req.query;
  const params = KEPT.filter((k) => k !== '$top' && q[k] !== undefined).map(
    (k) => `${k}=${encodeURIComponent(q[k] as string)}`,
  );
  params.push(`$top=${top}`, `$skip=${skip}`);
  return `${ctx.linkOrigin ?? ctx.req.origin}${ctx.req.path}?${params.join('&')}`;
}

function partialWarning(provider: string): string {
  return `199 - "Microsoft/${provider}/504/10000"`;
}

function byProviderName(map: Map<string, unknown>, lower: string): string {
  return [...map.keys()].find((p) => p.toLowerCase() === lower) ?? lower;
}

function encodeToken(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeToken(token: string): unknown {
  try {
    return JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
  } catch {
    throw new ODataError('Invalid $skiptoken.');
  }
}
