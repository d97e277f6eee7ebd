/**
 * Graph-like listing of alerts_v2 and incidents: what real Graph does, not what a friendly server would. Newest first
 * without `$orderby`, offset (`$skip`) nextLinks, `$top` clamped, no nextLink past a depth, only the documented query
 * options and `$filter` properties (others: 400 in Graph's error shape), and objects that change while a client walks
 * the pages. Each behaviour and its source is listed in docs/simulator.md.
 */
import type { Resource } from '../record/types.js';
import type { CollectionContext } from './collections.js';
import { respond, skipLink } from './collections.js';
import { Random } from './generate-random.js';
import type { GraphObject } from './generate.js';
import {
  ODataError,
  compareValues,
  intOption,
  matches,
  parseFilter,
  sortValue,
  type FieldSpec,
  type Filter,
  type OrderKey,
} from './odata.js';
import type { Entry, SimStore } from './store.js';
import type { GraphLikeOptions, GraphLikeUpdate } from './types.js';
import type { SimResponse } from './http-util.js';

export type GraphLikeSettings = Required<GraphLikeOptions> & { maxTop: { alerts_v2: number; incidents: number } };

/** Defaults, with their sources in docs/simulator.md. */
export const GRAPH_LIKE_DEFAULTS: Readonly<GraphLikeSettings> = Object.freeze({
  maxTop: { alerts_v2: 1000, incidents: 50 },
  maxDepth: 1000,
  defaultOrderField: 'lastUpdateDateTime',
  updatesPerPage: 0,
  evidencePerPage: 0,
  silentEvidencePerPage: 0,
  maxChanges: null,
});

/** The resources graph-like mode applies to; the others keep the default behaviour. */
export const GRAPH_LIKE_RESOURCES: readonly Resource[] = ['alerts_v2', 'incidents'];

/** Documented `$filter` properties (List alerts_v2 / List incidents pages). */
const FIELDS: Record<'alerts_v2' | 'incidents', FieldSpec> = {
  alerts_v2: {
    time: ['lastUpdateDateTime', 'createdDateTime'],
    equality: ['severity', 'status', 'serviceSource', 'assignedTo', 'classification', 'determination'],
    strict: true,
  },
  incidents: {
    time: ['lastUpdateDateTime', 'createdDateTime'],
    equality: ['severity', 'status', 'assignedTo', 'classification', 'determination'],
    strict: true,
  },
};

/**
 * Query options each list accepts: the documented ones (`$count $filter $skip $top`, plus `$expand` on incidents),
 * `$orderby` on the two time fields (not documented, but Elastic's integration relies on it) and `$select`.
 */
const ALLOWED: Record<'alerts_v2' | 'incidents', readonly string[]> = {
  alerts_v2: ['$count', '$filter', '$skip', '$top', '$orderby', '$select'],
  incidents: ['$count', '$filter', '$skip', '$top', '$orderby', '$select', '$expand'],
};

/** The mode's settings and its seeded draws; `null` settings: the mode is off. */
export class GraphLikeState {
  private current: GraphLikeSettings | null = null;
  private readonly rnd: Random;
  /** Changes made since the last `maxChanges` was set. */
  private changes = 0;

  constructor(seed: number, initial: boolean | GraphLikeOptions | undefined) {
    this.rnd = new Random(seed ^ 0x9a9e);
    if (initial) this.set(initial === true ? {} : initial);
  }

  get settings(): Readonly<GraphLikeSettings> | null {
    return this.current;
  }

  /** Applies to this resource's list requests? */
  applies(resource: Resource): resource is 'alerts_v2' | 'incidents' {
    return this.current !== null && GRAPH_LIKE_RESOURCES.includes(resource);
  }

  /** `false` turns the mode off, `true` on with what was set before (or defaults); an object merges knobs. */
  set(update: GraphLikeUpdate | boolean): void {
    if (update === false) {
      this.current = null;
      return;
    }
    const base = this.current ?? (structuredClone(GRAPH_LIKE_DEFAULTS) as GraphLikeSettings);
    if (update === true) {
      this.current = base;
      return;
    }
    const next: GraphLikeSettings = { ...base, maxTop: { ...base.maxTop } };
    for (const key of ['maxDepth', 'updatesPerPage', 'evidencePerPage', 'silentEvidencePerPage'] as const) {
      const v = update[key];
      if (v === undefined) continue;
      if (v !== null && !(Number.isInteger(v) && v >= 0))
        throw new RangeError(`graphLike.${key} must be a whole number ≥ 0, got ${String(v)}`);
      next[key] = v ?? GRAPH_LIKE_DEFAULTS[key];
    }
    if (update.maxDepth === 0) throw new RangeError('graphLike.maxDepth must be at least 1');
    if (update.maxTop !== undefined) {
      for (const r of GRAPH_LIKE_RESOURCES as Array<'alerts_v2' | 'incidents'>) {
        const v = update.maxTop?.[r];
        if (v != null && !(Number.isInteger(v) && v >= 1))
          throw new RangeError(`graphLike.maxTop.${r} must be a whole number ≥ 1, got ${String(v)}`);
        next.maxTop[r] = update.maxTop === null ? GRAPH_LIKE_DEFAULTS.maxTop[r] : (v ?? next.maxTop[r]);
      }
    }
    if (update.defaultOrderField !== undefined) {
      const f = update.defaultOrderField ?? GRAPH_LIKE_DEFAULTS.defaultOrderField;
      if (f !== 'lastUpdateDateTime' && f !== 'createdDateTime')
        throw new RangeError(
          `graphLike.defaultOrderField must be lastUpdateDateTime or createdDateTime, got ${String(f)}`,
        );
      next.defaultOrderField = f;
    }
    if (update.maxChanges !== undefined) {
      const v = update.maxChanges;
      if (v !== null && !(Number.isInteger(v) && v >= 0))
        throw new RangeError(`graphLike.maxChanges must be a whole number ≥ 0 or null, got ${String(v)}`);
      next.maxChanges = v;
      this.changes = 0;
    }
    this.current = next;
  }

  /**
   * After a page was cut: update / enrich random objects among `candidates` (the request's window). Returns how many
   * objects changed.
   */
  churn(store: SimStore, tenantId: string, resource: 'alerts_v2' | 'incidents', candidates: readonly Entry[]): number {
    const s = this.current;
    if (!s || candidates.length === 0) return 0;
    const plan: Array<'update' | 'evidence' | 'silent'> = [
      ...Array<'update'>(s.updatesPerPage).fill('update'),
      ...(resource === 'alerts_v2' ? Array<'evidence'>(s.evidencePerPage).fill('evidence') : []),
      ...(resource === 'alerts_v2' ? Array<'silent'>(s.silentEvidencePerPage).fill('silent') : []),
    ];
    const budget = s.maxChanges === null ? plan.length : Math.max(0, s.maxChanges - this.changes);
    const ids = this.rnd.sample(candidates, Math.min(plan.length, budget)).map((e) => String(e.obj.id));
    ids.forEach((id, i) => {
      const kind = plan[i];
      if (kind === 'update') store.update(tenantId, resource, id);
      else store.addEvidence(tenantId, id, { bump: kind === 'evidence' });
    });
    this.changes += ids.length;
    return ids.length;
  }
}

/** `GET /security/alerts_v2` or `/security/incidents` in graph-like mode. */
export function listGraphLike(ctx: CollectionContext, state: GraphLikeState): SimResponse {
  const settings = state.settings as GraphLikeSettings;
  const resource = ctx.spec.resource as 'alerts_v2' | 'incidents';
  const q = ctx.req.query;
  const fields = FIELDS[resource];
  for (const name of Object.keys(q)) {
    if (name.startsWith('$') && !ALLOWED[resource].includes(name)) throw notAllowed(name);
  }
  if (q.$expand !== undefined && q.$expand !== 'alerts')
    throw new ODataError(
      `Parsing OData Select and Expand failed: Could not find a property named '${q.$expand}' on type 'microsoft.graph.security.incident'.`,
    );
  let filter: Filter | null = null;
  try {
    filter = q.$filter ? parseFilter(q.$filter, fields) : null;
  } catch (err) {
    if (err instanceof ODataError) throw new ODataError(`Invalid filter clause: ${err.message}`);
    throw err;
  }
  const keys = q.$orderby ? orderBy(q.$orderby, fields) : [{ field: settings.defaultOrderField, desc: true }];
  const requested = intOption(q, '$top');
  const top = Math.min(requested ?? ctx.pageSize, settings.maxTop[resource]);
  const skip = intOption(q, '$skip') ?? 0;
  const all = ctx.store.entries(ctx.tenantId, resource);
  const matched = filter ? all.filter((e) => matches(filter, e.obj)) : all;
  const sorted = matched
    .map((e) => ({ e, k: keys.map((k) => sortValue(e.obj, k.field, fields)) }))
    .sort((a, b) => {
      for (let i = 0; i < keys.length; i++) {
        const c = compareValues(a.k[i] ?? null, b.k[i] ?? null);
        if (c !== 0) return (keys[i] as OrderKey).desc ? -c : c;
      }
      // Ties: the later-created object first when the first key is descending, as a newest-first list would.
      return (keys[0] as OrderKey).desc ? b.e.seq - a.e.seq : a.e.seq - b.e.seq;
    });
  const page = sorted.slice(skip, skip + top).map((s) => s.e.obj);
  const nextSkip = skip + top;
  // Real Graph stops handing out nextLinks past some depth (elastic/integrations#20234): the walk just ends.
  const nextLink =
    top > 0 && nextSkip < sorted.length && nextSkip < settings.maxDepth ? skipLink(ctx, nextSkip, top) : undefined;
  const r = respond(ctx, page as GraphObject[], matched.length, nextLink, 200, {});
  const changed = state.churn(ctx.store, ctx.tenantId, resource, matched);
  return changed ? { ...r, log: { ...r.log, changed } } : r;
}

function orderBy(text: string, fields: FieldSpec): OrderKey[] {
  return text.split(',').map((part) => {
    const m = /^\s*([\w/]+)(?:\s+(asc|desc))?\s*$/i.exec(part);
    const field = m?.[1];
    if (!m || !field || !fields.time.includes(field)) {
      throw new ODataError(
        `Invalid OrderBy clause: '${part.trim()}' is not supported (supported: lastUpdateDateTime or createdDateTime, asc or desc).`,
      );
    }
    return { field, desc: m[2]?.toLowerCase() === 'desc' };
  });
}

/** The message Graph's OData layer gives for a query option a controller does not allow (seen in 2024 for $skiptoken). */
function notAllowed(option: string): ODataError {
  const name = option.slice(1);
  const pascal = name === 'skiptoken' ? 'SkipToken' : name.charAt(0).toUpperCase() + name.slice(1);
  return new ODataError(
    `The query specified in the URI is not valid. Query option '${pascal}' is not allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings.`,
  );
}
