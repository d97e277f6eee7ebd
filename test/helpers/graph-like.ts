/**
 * Helpers for tests against a simulator in graph-like mode (real Graph's paging: newest first, `$skip` nextLinks,
 * `$top` clamped, nextLink dropped past a depth, objects changing mid-walk). Typical use, a poller test:
 *
 * ```ts
 * const sim = await startGraphLikeSimulator({ maxDepth: 1000 });
 * const window = fillWindow(sim, 20_000);                      // 20,000 alerts_v2 in one time window
 * sim.setGraphLike(churnDuringWalk({ total: 20_000, share: 0.05, top: 1000 })); // 5% updated during the walk
 * // … run the poller …
 * expect(listRequests(sim, 'alerts_v2').length).toBeLessThan(…);
 * expect(filtersSent(sim, 'alerts_v2')[0]).toContain('lastUpdateDateTime');
 * ```
 */
import { ClientSecretCredential } from '@azure/identity';
import {
  callSimulator,
  DEMO_TENANT,
  startSimulator,
  type GraphLikeOptions,
  type GraphLikeUpdate,
  type GraphObject,
  type RequestLogEntry,
  type Simulator,
  type SimulatorOptions,
} from '../../src/simulator/index.js';

export type ListPage = {
  '@odata.context': string;
  '@odata.nextLink'?: string;
  '@odata.count'?: number;
  value: GraphObject[];
};

/** A simulator with graph-like listing on (defaults of {@link GraphLikeOptions} unless given). */
export function startGraphLikeSimulator(
  graphLike: GraphLikeOptions = {},
  opts: SimulatorOptions = {},
): Promise<Simulator> {
  return startSimulator({ ...opts, graphLike });
}

/** An access token of the tenant's app (default: the demo tenant), from the simulator's own Entra ID. */
export async function simToken(sim: Simulator, tenant = sim.tenants[0] ?? DEMO_TENANT): Promise<string> {
  const cred = new ClientSecretCredential(tenant.tenantId, tenant.clientId, tenant.clientSecret, {
    authorityHost: sim.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: sim.caPem },
  });
  return (await cred.getToken(`${sim.url}/.default`)).token;
}

/**
 * `count` alerts_v2 (or incidents) created now, so they share one time window (a few seconds wide; `sameTime`: one
 * identical lastUpdateDateTime, as after a bulk import). Returns them, oldest first. Past 2,000, only `variety`
 * (default 500) are generated and the rest are copies with their own ids and update times: 20,000 take about a
 * second instead of 10–20 s on a loaded machine.
 */
export function fillWindow(
  sim: Simulator,
  count: number,
  opts: { tenantId?: string; resource?: 'alerts_v2' | 'incidents'; sameTime?: boolean; variety?: number } = {},
): GraphObject[] {
  const variety = opts.variety ?? (count > 2000 ? 500 : undefined);
  return sim.createMany(opts.tenantId ?? DEMO_TENANT.tenantId, opts.resource ?? 'alerts_v2', count, {
    sameTime: opts.sameTime,
    ...(variety ? { variety } : {}),
  });
}

/**
 * Knobs that update `share` of `total` objects while a client walks them in pages of `top`: spread over the pages an
 * offset walk of the whole window would take, capped at `share × total` changes in all. `kind`: plain updates
 * (default), evidence with a bumped lastUpdateDateTime, or evidence without one.
 */
export function churnDuringWalk(o: {
  total: number;
  share: number;
  top: number;
  kind?: 'update' | 'evidence' | 'silentEvidence';
}): GraphLikeUpdate {
  const changes = Math.round(o.total * o.share);
  const pages = Math.max(1, Math.ceil(o.total / o.top));
  const perPage = Math.ceil(changes / pages);
  const key =
    o.kind === 'evidence'
      ? 'evidencePerPage'
      : o.kind === 'silentEvidence'
        ? 'silentEvidencePerPage'
        : 'updatesPerPage';
  return { [key]: perPage, maxChanges: changes };
}

/** Follows nextLinks from `first` (a path or URL) until none or `maxPages`; returns every item and page. */
export async function walk(
  sim: Simulator,
  token: string,
  first: string,
  maxPages = 10_000,
): Promise<{ items: GraphObject[]; pages: ListPage[] }> {
  const items: GraphObject[] = [];
  const pages: ListPage[] = [];
  let next: string | undefined = first;
  while (next && pages.length < maxPages) {
    const r = await callSimulator(sim, next, { token });
    if (r.status !== 200) throw new Error(`GET ${next}: ${r.status} ${r.text}`);
    const page = r.json as ListPage;
    pages.push(page);
    items.push(...page.value);
    next = page['@odata.nextLink'];
  }
  return { items, pages };
}

/** The list requests (GET of the collection, not of one item) the simulator answered for `resource`. */
export function listRequests(
  sim: Simulator,
  resource: 'alerts_v2' | 'incidents' | 'alerts' = 'alerts_v2',
): RequestLogEntry[] {
  const path = resource === 'alerts' ? /\/security\/alerts$/ : new RegExp(`/security/${resource}$`);
  return sim.requestLog.filter((e) => e.method === 'GET' && path.test(e.path));
}

/** The `$filter` of each list request for `resource`, in order ('' when none was sent). */
export function filtersSent(sim: Simulator, resource: 'alerts_v2' | 'incidents' | 'alerts' = 'alerts_v2'): string[] {
  return listRequests(sim, resource).map((e) => e.query.$filter ?? '');
}

/** Objects changed by the churn knobs so far (sum of the log's `changed`). */
export function changedDuringWalks(sim: Simulator): number {
  return sim.requestLog.reduce((n, e) => n + (e.changed ?? 0), 0);
}
