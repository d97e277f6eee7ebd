/**
 * How each Graph resource is read, as `fetchPage(state)`: the schedule, lease, checkpoint and emit around it are
 * the poller's. A window starts at `since` (the watermark minus the overlap) and ends when the resource says so.
 */
import type { Resource } from '../../record/types.js';
import { revisionOrder } from '../../record/revision.js';
import type { GraphClient, PartialWarning } from './client.js';

export type GraphObject = Record<string, unknown>;

export interface WindowState {
  /** Start of the window (inclusive), ISO 8601. */
  since: string;
  /** Newest update time seen in the window (sortable form) up to `ceiling`, for the next watermark. */
  maxSeen?: string;
  /**
   * Update times past this (sortable form) are "from the future": the object is still returned, but it does not
   * move `maxSeen` (one alert dated 2099 would otherwise freeze polling) and the page lists it in `future`.
   */
  ceiling?: string;
  /** Legacy alerts: read one provider only (`vendorInformation/provider eq …`), from its own older bound. */
  provider?: string;
  /** Providers that failed somewhere in the window (206): the watermark must not move past it. */
  gaps: string[];
  /** v2 paging: the opaque nextLink. */
  nextLink?: string;
  /** Legacy paging: the sliding lower bound and the $skip at it. */
  slideSince?: string;
  skip?: number;
  /** The next page reads the objects at `slideSince` only (a page-full share one time), with `$skip`. */
  deep?: boolean;
  /** alerts_v2 / incidents: ids already read at the slide's bound, left out when the next page returns them again. */
  boundaryIds?: string[];
  /** `$top` for the rest of the window, once a page over max_response_bytes had to be read smaller (getPage). */
  top?: number;
  pages: number;
}

/**
 * Alerts Graph's paging cannot reach. Legacy alerts: one provider has at least `read` alerts at one
 * `lastModifiedDateTime`. alerts_v2 / incidents (`provider` is the resource): Graph counted `expected` objects from
 * `at` (to `to` when set, else onwards) but answered only `read` of them.
 */
export interface Overflow {
  provider: string;
  /** The shared `lastModifiedDateTime` (sortable form), or the lower bound of the window that could not be read. */
  at: string;
  /** How many of them were read: the first {@link LEGACY_MAX_DEPTH}. */
  read: number;
  /** alerts_v2 / incidents: what Graph's `@odata.count` said there was. */
  expected?: number;
  /** alerts_v2 / incidents: the upper bound (inclusive) of the window, when it has one. */
  to?: string;
}

export interface Page {
  objects: GraphObject[];
  state: WindowState;
  done: boolean;
  partial: PartialWarning[];
  /** Set when the page found alerts that could not be read (legacy alerts only); the caller logs and counts them. */
  overflow?: Overflow[];
  /** Items of the page that were not JSON objects (`null`, strings, lists): skipped; the caller logs and counts them. */
  malformed?: number;
  /** Ids of objects updated after `state.ceiling`: delivered, but they do not move the watermark. */
  future?: string[];
}

/** A page Graph answered with something other than a list in `value`: the page fails, the watermark stays. */
export class GraphPageError extends Error {
  override name = 'GraphPageError';
}

export interface Fetcher {
  resource: Resource;
  /** Graph path of the collection, also used for GET by id. */
  path: string;
  /** The field whose value is the object's update time (the watermark field). */
  timeField: string;
  /** Extra delay between polls for slowly changing resources. */
  minIntervalMs: number;
  /** Legacy alerts: a read can be pinned to one provider (`WindowState.provider`), so a failing one lags alone. */
  perProvider?: boolean;
  fetchPage(client: GraphClient, state: WindowState, signal: AbortSignal): Promise<Page>;
  /**
   * alerts_v2: one page of the alerts created in `[from, to)` (sortable forms), oldest first, for late-evidence
   * re-reads. `next` is where the following page starts when the window was larger than the page.
   */
  reread?(
    client: GraphClient,
    from: string,
    to: string,
    signal: AbortSignal,
  ): Promise<{ objects: GraphObject[]; next?: string }>;
}

const V2_HEADERS = { Prefer: 'include-unknown-enum-members' };
/** The legacy API refuses `$skip` above 500 and `$top` above 1000 (per provider). */
export const LEGACY_MAX_SKIP = 500;
export const LEGACY_MAX_TOP = 1000;
/**
 * The most alerts of one provider sharing one `lastModifiedDateTime` that can be read: a time filter cannot tell them
 * apart, so only `$skip` (≤ 500) plus one page (`$top` ≤ 1000) reach into them.
 */
export const LEGACY_MAX_DEPTH = LEGACY_MAX_SKIP + LEGACY_MAX_TOP;

function maxOrder(objects: GraphObject[], field: string, current?: string, ceiling?: string): string | undefined {
  let max = current;
  for (const o of objects) {
    const v = typeof o[field] === 'string' ? revisionOrder(o[field] as string) : null;
    if (v && (!max || v > max) && (!ceiling || v <= ceiling)) max = v;
  }
  return max;
}

/** Ids of the objects updated after `ceiling`. */
function futureIds(objects: GraphObject[], field: string, ceiling?: string): string[] | undefined {
  if (!ceiling) return undefined;
  const ids = objects
    .filter((o) => {
      const v = typeof o[field] === 'string' ? revisionOrder(o[field] as string) : null;
      return v !== null && v > ceiling;
    })
    .map((o) => String(o.id));
  return ids.length ? ids : undefined;
}

/**
 * The items of a list answer. A `value` that is not a list fails the page (never read as "nothing new", which would
 * move the watermark past what was not read); items that are not objects are left out and counted.
 */
export function listItems(body: unknown, what: string): { objects: GraphObject[]; malformed: number } {
  const value = body !== null && typeof body === 'object' ? (body as { value?: unknown }).value : undefined;
  if (!Array.isArray(value)) {
    throw new GraphPageError(
      `${what}: Graph answered a page whose "value" is ${value === undefined ? 'missing' : `not a list (${value === null ? 'null' : typeof value})`}; the page is not read and the watermark stays`,
    );
  }
  const objects = value.filter((o): o is GraphObject => o !== null && typeof o === 'object' && !Array.isArray(o));
  return { objects, malformed: value.length - objects.length };
}

/** What every list page reports besides its objects: malformed items and objects from the future. */
function pageExtras(
  malformed: number,
  objects: GraphObject[],
  field: string,
  state: WindowState,
): Pick<Page, 'malformed' | 'future'> {
  const future = futureIds(objects, field, state.ceiling);
  return { ...(malformed ? { malformed } : {}), ...(future ? { future } : {}) };
}

function odataTime(order: string): string {
  return order; // revisionOrder's form, YYYY-MM-DDTHH:MM:SS.fffffffZ, is what Graph accepts in $filter
}

interface ListBody {
  value?: unknown;
  '@odata.nextLink'?: string;
}

/**
 * alerts_v2 and incidents. Graph lists them newest first with offset nextLinks, stops giving nextLinks past some
 * depth (elastic/integrations#20234) and clamps `$top` (incidents: 50), and an alert that changes during an offset
 * walk shifts every row after it: "no nextLink" proves nothing. So a window is never walked deep. Each request is a
 * first page, `$filter=lastUpdateDateTime ge S&$orderby=lastUpdateDateTime asc&$top=N&$count=true`, and the lower
 * bound S slides to the newest time on the page; the page's `@odata.count` (everything at or after S) says whether
 * anything is left. The objects at the new bound are read again (the overlap of a slide: they are duplicates for
 * dedup). An alert updated during the walk moves to a later time, ahead of the bound: it is read again, newest
 * revision, later in the same walk. nextLinks are not followed.
 *
 * When a whole page shares one time (more than N alerts updated in the same 100 ns), the bound cannot slide: those
 * are read with `lastUpdateDateTime eq S` and `$skip`, checked against their own count. If Graph stops answering
 * before the count is reached, the page reports the window as incomplete (the poller logs and counts it, never
 * silent) and the walk moves on one tick later.
 */
function v2Fetcher(resource: Resource, path: string, pageSize: number, extraFilter?: string): Fetcher {
  const and = extraFilter ? ` and ${extraFilter}` : '';
  const order = `&$orderby=${encodeURIComponent('lastUpdateDateTime asc')}`;
  return {
    resource,
    path,
    timeField: 'lastUpdateDateTime',
    minIntervalMs: 0,
    async fetchPage(client, state, signal) {
      const since = state.slideSince ?? state.since;
      const tie = state.deep === true;
      const skip = tie ? (state.skip ?? 0) : 0;
      const filter = `lastUpdateDateTime ${tie ? 'eq' : 'ge'} ${odataTime(since)}${and}`;
      const url = `${path}?$filter=${encodeURIComponent(filter)}${order}&$top=${state.top ?? pageSize}&$count=true${skip ? `&$skip=${skip}` : ''}`;
      const res = await client.getPage<ListBody>(url, resource, signal, V2_HEADERS);
      const top = res.top ?? state.top ?? pageSize;
      const { objects: all, malformed } = listItems(res.body, `GET ${resource}`);
      const rawCount = (res.body as { '@odata.count'?: unknown })['@odata.count'];
      const count = typeof rawCount === 'number' ? rawCount : undefined;
      // An object without a usable update time cannot be placed in the order: it takes its predecessor's place, so
      // one odd item neither fails the window as "out of order" (a stall until someone skips it) nor moves the bound.
      let prev = since;
      const times = all.map(
        (o) => (prev = (typeof o.lastUpdateDateTime === 'string' ? revisionOrder(o.lastUpdateDateTime) : null) ?? prev),
      );
      for (let i = 1; i < times.length; i++) {
        if (times[i]! < times[i - 1]!)
          throw new GraphPageError(
            `GET ${resource}: Graph did not honour $orderby=lastUpdateDateTime asc (a page came out of order); the window is not read, the watermark stays`,
          );
      }
      // What the previous page already returned at the bound comes again (`ge`): not passed on twice.
      const already = new Set(tie ? [] : (state.boundaryIds ?? []));
      const objects = already.size ? all.filter((o, i) => !(times[i] === since && already.has(String(o.id)))) : all;
      const base: WindowState = {
        ...state,
        maxSeen: maxOrder(objects, 'lastUpdateDateTime', state.maxSeen, state.ceiling),
        gaps: [...state.gaps, ...res.partial.map((p) => p.provider)],
        pages: state.pages + 1,
        ...(top < pageSize ? { top } : {}),
      };
      const page = (next: Partial<WindowState>, done: boolean, overflow?: Overflow): Page => ({
        objects,
        state: { ...base, ...next },
        done,
        partial: res.partial,
        ...(overflow ? { overflow: [overflow] } : {}),
        ...pageExtras(malformed, objects, 'lastUpdateDateTime', state),
      });
      // Without a count (Graph should give one), a short page without a nextLink is the only sign of the end.
      const complete = (read: number): boolean =>
        count !== undefined ? read >= count : all.length < top && !res.body['@odata.nextLink'];
      if (tie) {
        const read = skip + all.length;
        if (all.length > 0 && !complete(read)) return page({ skip: read }, false);
        const missing = count !== undefined && read < count;
        return page(
          { slideSince: nextTick(since), skip: 0, deep: undefined, boundaryIds: undefined },
          false,
          missing ? { provider: resource, at: since, read, expected: count, to: since } : undefined,
        );
      }
      if (complete(all.length)) return page({}, true);
      if (all.length === 0) {
        // Graph counted more than it returned from a first page: nothing to slide on.
        return page({}, true, { provider: resource, at: since, read: 0, expected: count });
      }
      const last = times[times.length - 1]!;
      if (last > since)
        return page(
          { slideSince: last, boundaryIds: all.filter((_, i) => times[i] === last).map((o) => String(o.id)) },
          false,
        );
      return page({ deep: true, skip: 0, boundaryIds: undefined }, false); // a whole page at `since`: step through those with $skip
    },
  };
}

/**
 * Legacy alerts are federated: `$top` applies per provider, `$skip` stops at 500 and nextLinks stop at 6,000. A deep
 * window is read by sliding the time filter: ordered by lastModifiedDateTime, each page moves the lower bound to
 * the newest time among providers that filled their page. Providers that did not are re-read (dedup absorbs it).
 *
 * When a provider fills a whole page with alerts of one timestamp, the filter cannot slide past them: `$skip` steps
 * through them (each provider's pages stay contiguous, so nothing of the others is lost), and once `$skip` would
 * pass 500, one "deep" page asks for that timestamp alone with the largest `$top` at `$skip=500`. That reads the
 * first {@link LEGACY_MAX_DEPTH} alerts of each provider at the timestamp; a provider that fills even the deep page
 * may have more, which Graph offers no way to reach: the page reports it as an overflow (logged and counted by the
 * poller, never silent) and the window moves on one tick later.
 */
function legacyFetcher(pageSize: number): Fetcher {
  const top = Math.min(pageSize, LEGACY_MAX_TOP);
  return {
    resource: 'alerts',
    path: '/security/alerts',
    timeField: 'lastModifiedDateTime',
    minIntervalMs: 0,
    perProvider: true,
    async fetchPage(client, state, signal) {
      const since = state.slideSince ?? state.since;
      const skip = state.deep ? LEGACY_MAX_SKIP : (state.skip ?? 0);
      const pageTop = state.deep ? LEGACY_MAX_TOP : top;
      const pin = state.provider ? ` and vendorInformation/provider eq '${state.provider.replace(/'/g, "''")}'` : '';
      const filter = `lastModifiedDateTime ${state.deep ? 'eq' : 'ge'} ${odataTime(since)}${pin}`;
      const url = `/security/alerts?$filter=${encodeURIComponent(filter)}&$orderby=${encodeURIComponent('lastModifiedDateTime asc')}&$top=${pageTop}${skip ? `&$skip=${skip}` : ''}`;
      const res = await client.get<ListBody>(url, 'alerts', signal);
      const { objects, malformed } = listItems(res.body, 'GET alerts');
      const byProvider = new Map<string, GraphObject[]>();
      for (const o of objects) {
        const p = String((o.vendorInformation as { provider?: string } | undefined)?.provider ?? 'unknown');
        (byProvider.get(p) ?? byProvider.set(p, []).get(p)!).push(o);
      }
      const full = [...byProvider].filter(([, list]) => list.length >= pageTop);
      const base: WindowState = {
        ...state,
        maxSeen: maxOrder(objects, 'lastModifiedDateTime', state.maxSeen, state.ceiling),
        gaps: [...state.gaps, ...res.partial.map((p) => p.provider)],
        deep: undefined,
        pages: state.pages + 1,
      };
      const page = (next: Partial<WindowState>, done = false, overflow?: Overflow[]): Page => ({
        objects,
        state: { ...base, ...next },
        done,
        partial: res.partial,
        ...(overflow?.length ? { overflow } : {}),
        ...pageExtras(malformed, objects, 'lastModifiedDateTime', state),
      });
      if (state.deep) {
        // Everything Graph can give at `since` is read; a provider that filled the deep page may have more.
        return page(
          { slideSince: nextTick(since), skip: 0 },
          false,
          full.map(([provider]) => ({ provider, at: since, read: LEGACY_MAX_DEPTH })),
        );
      }
      if (full.length === 0) return page({}, true);
      const bound = full.map(([, list]) => maxOrder(list, 'lastModifiedDateTime')!).sort()[0]!;
      if (bound > since) return page({ slideSince: bound, skip: 0 });
      // A provider filled its page with alerts at `since` alone: step into them with $skip, then one deep page.
      if (skip + top < LEGACY_MAX_SKIP) return page({ skip: skip + top });
      return page({ skip: 0, deep: true });
    },
  };
}

/** One .NET tick (100 ns) later, in the sortable form. */
export function nextTick(order: string): string {
  const m = /^(.*\.)(\d{7})Z$/.exec(order);
  if (!m) return order;
  const n = Number(m[2]) + 1;
  if (n < 10_000_000) return `${m[1]}${String(n).padStart(7, '0')}Z`;
  const d = new Date(Date.parse(order.slice(0, 19) + 'Z') + 1000).toISOString().slice(0, 19);
  return `${d}.0000000Z`;
}

/** Secure scores: one snapshot a day; `$top=n` returns the n most recent days. */
function secureScoresFetcher(): Fetcher {
  return {
    resource: 'secure_scores',
    path: '/security/secureScores',
    timeField: 'createdDateTime',
    minIntervalMs: 3_600_000,
    async fetchPage(client, state, signal) {
      const days = Math.min(90, Math.max(1, Math.ceil((Date.now() - Date.parse(state.since)) / 86_400_000) + 1));
      const res = await client.get<ListBody>(`/security/secureScores?$top=${days}`, 'secure_scores', signal);
      const { objects: all, malformed } = listItems(res.body, 'GET secure_scores');
      const objects = all.filter((o) => {
        const t = typeof o.createdDateTime === 'string' ? revisionOrder(o.createdDateTime) : null;
        return !t || t >= state.since;
      });
      return {
        objects,
        state: {
          ...state,
          maxSeen: maxOrder(objects, 'createdDateTime', state.maxSeen, state.ceiling),
          pages: state.pages + 1,
        },
        done: true,
        partial: res.partial,
        ...pageExtras(malformed, objects, 'createdDateTime', state),
      };
    },
  };
}

/** Control profiles: a small catalogue, read whole; unchanged profiles are duplicates by revision. */
function controlProfilesFetcher(pageSize: number): Fetcher {
  return {
    resource: 'secure_score_control_profiles',
    path: '/security/secureScoreControlProfiles',
    timeField: 'lastModifiedDateTime',
    minIntervalMs: 3_600_000,
    async fetchPage(client, state, signal) {
      const url = state.nextLink ?? `/security/secureScoreControlProfiles?$top=${pageSize}`;
      const res = await client.getPage<ListBody>(url, 'secure_score_control_profiles', signal);
      const { objects, malformed } = listItems(res.body, 'GET secure_score_control_profiles');
      const next = res.body['@odata.nextLink'];
      return {
        objects,
        state: {
          ...state,
          nextLink: next,
          maxSeen: maxOrder(objects, 'lastModifiedDateTime', state.maxSeen, state.ceiling),
          pages: state.pages + 1,
        },
        done: !next,
        partial: res.partial,
        ...pageExtras(malformed, objects, 'lastModifiedDateTime', state),
      };
    },
  };
}

/** A source's `filter`, as the config gives it. */
export interface SourceFilter {
  service_source?: readonly string[];
  severity?: readonly string[];
  status?: readonly string[];
}

const ALERT_STATUS = new Set(['unknown', 'new', 'inprogress', 'resolved']);
const INCIDENT_STATUS = new Set(['active', 'resolved', 'inprogress', 'redirected', 'awaitingaction']);

/**
 * The `$filter` clauses of a source's filter for one resource (joined by `and`), or undefined: `serviceSource`
 * (alerts_v2), `severity`, and `status` with the values that resource knows — the documented filterable properties.
 */
export function compileFilter(resource: Resource, filter: SourceFilter = {}): string | undefined {
  const inList = (field: string, values: readonly string[]): string =>
    `${field} in (${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',')})`;
  const parts: string[] = [];
  if (resource === 'alerts_v2' && filter.service_source?.length)
    parts.push(inList('serviceSource', filter.service_source));
  if (filter.severity?.length) parts.push(inList('severity', filter.severity));
  const known = resource === 'alerts_v2' ? ALERT_STATUS : INCIDENT_STATUS;
  const status = filter.status?.filter((v) => known.has(v.toLowerCase()));
  if (status?.length) parts.push(inList('status', status));
  return parts.length ? parts.join(' and ') : undefined;
}

/** Late-evidence re-reads of alerts_v2: one first page by createdDateTime, ascending, checked against its count. */
function withReread(fetcher: Fetcher, pageSize: number, extraFilter?: string): Fetcher {
  return {
    ...fetcher,
    async reread(client, from, to, signal) {
      const filter = `createdDateTime ge ${odataTime(from)} and createdDateTime lt ${odataTime(to)}${extraFilter ? ` and ${extraFilter}` : ''}`;
      const url = `${fetcher.path}?$filter=${encodeURIComponent(filter)}&$orderby=${encodeURIComponent('createdDateTime asc')}&$top=${pageSize}&$count=true`;
      const res = await client.getPage<ListBody>(url, fetcher.resource, signal, V2_HEADERS);
      const { objects } = listItems(res.body, `GET ${fetcher.resource} (late evidence)`);
      const count = (res.body as { '@odata.count'?: unknown })['@odata.count'];
      const last = objects.length ? revisionOrder(String(objects[objects.length - 1]!.createdDateTime)) : null;
      const more = typeof count === 'number' ? objects.length < count : objects.length >= pageSize;
      return { objects, ...(more && last && last > from ? { next: last } : {}) };
    },
  };
}

export function fetcherFor(resource: Resource, pageSize: number, filter?: SourceFilter): Fetcher {
  switch (resource) {
    case 'alerts_v2':
      return withReread(
        v2Fetcher('alerts_v2', '/security/alerts_v2', pageSize, compileFilter('alerts_v2', filter)),
        pageSize,
        compileFilter('alerts_v2', filter),
      );
    case 'incidents':
      return v2Fetcher('incidents', '/security/incidents', pageSize, compileFilter('incidents', filter));
    case 'alerts':
      return legacyFetcher(pageSize);
    case 'secure_scores':
      return secureScoresFetcher();
    case 'secure_score_control_profiles':
      return controlProfilesFetcher(pageSize);
  }
}
