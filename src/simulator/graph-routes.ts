/**
 * Graph routes (`/v1.0/…`, `/beta/…`): bearer-token check (tenant and app come from the token), fault injection,
 * then the security collections and subscriptions. Every answer carries Graph's error shape and headers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Authority } from './auth.js';
import { getItem, listCollection, type CollectionContext } from './collections.js';
import type { FaultState } from './faults.js';
import { listGraphLike, type GraphLikeState } from './graph-like.js';
import { graphError, graphHeaders, type SimRequest, type SimResponse } from './http-util.js';
import { ODataError } from './odata.js';
import { patchItem, permissionDenied, postComment } from './patch.js';
import { collectionBySegment } from './resources.js';
import type { SimStore } from './store.js';
import type { SubscriptionManager } from './subscriptions.js';

export interface GraphRouteDeps {
  authority: Authority;
  store: SimStore;
  faults: FaultState;
  subscriptions: SubscriptionManager;
  pageSize: number;
  /** Graph-like listing of alerts_v2 and incidents, when its settings are on. */
  graphLike: GraphLikeState;
}

const GRAPH_PATH = /^\/(v1\.0|beta)\/(.*)$/;

/** True for paths this module answers. */
export function isGraphPath(path: string): boolean {
  return GRAPH_PATH.test(path);
}

export async function handleGraph(req: SimRequest, deps: GraphRouteDeps): Promise<SimResponse> {
  const [, version, rest = ''] = GRAPH_PATH.exec(req.path) as RegExpExecArray;
  const slow = deps.faults.slowMs();
  if (slow > 0) await sleep(slow);
  const auth = deps.authority.verify(req.headers.authorization, req.now);
  if (!auth.ok) {
    return graphError(req, 401, 'InvalidAuthenticationToken', auth.message, {
      'www-authenticate': wwwAuthenticate(req),
    });
  }
  const { tid: tenantId, appid: clientId } = auth.claims;
  const withIdentity = (r: SimResponse): SimResponse => ({ ...r, log: { ...r.log, tenant: tenantId, clientId } });
  if (deps.faults.revoked(auth.claims.xms_seq)) {
    return withIdentity({
      ...graphError(
        req,
        401,
        'InvalidAuthenticationToken',
        'Access token validation failure. The token has been revoked.',
        { 'www-authenticate': wwwAuthenticate(req) },
      ),
      log: { resource: resourceOf(rest), fault: 'revoked' },
    });
  }
  const fault = deps.faults.intercept(req, tenantId, clientId);
  if (fault) return withIdentity({ ...fault, log: { ...fault.log, resource: resourceOf(rest) } });
  try {
    const r = await route(req, deps, `/${version}`, rest, tenantId, clientId, auth.claims.roles);
    const write = req.method === 'PATCH' || (req.method === 'POST' && rest.startsWith('security/'));
    if (write && r.status >= 200 && r.status < 300 && deps.faults.takeCommitThenFail()) {
      return withIdentity({
        ...graphError(req, 500, 'InternalServerError', 'An internal server error occurred.'),
        log: { ...r.log, fault: 'committed_then_500' },
      });
    }
    return withIdentity(r);
  } catch (err) {
    if (err instanceof ODataError)
      return withIdentity({ ...graphError(req, 400, 'BadRequest', err.message), log: { resource: resourceOf(rest) } });
    throw err;
  }
}

async function route(
  req: SimRequest,
  deps: GraphRouteDeps,
  version: string,
  rest: string,
  tenantId: string,
  clientId: string,
  roles: readonly string[],
): Promise<SimResponse> {
  const segments = rest.split('/').filter(Boolean).map(decodeURIComponent);
  if (segments[0] === 'subscriptions') return deps.subscriptions.handle(req, tenantId, clientId, segments.slice(1));
  const spec = segments[0] === 'security' && segments[1] ? collectionBySegment(segments[1]) : undefined;
  const sub = segments[3];
  if (!spec || segments.length > 4 || (sub !== undefined && sub !== 'comments')) {
    return graphError(
      req,
      400,
      'BadRequest',
      `Resource not found for the segment '${segments.slice(0, 3).join('/')}'.`,
    );
  }
  const ctx: CollectionContext = {
    req,
    store: deps.store,
    tenantId,
    spec,
    version,
    pageSize: deps.pageSize,
    partialProviders: deps.faults.partialProviders(),
    linkOrigin: deps.faults.faults.nextLinkOrigin ?? undefined,
    roles,
  };
  const id = segments[2];
  const denied = permissionDenied(ctx, req.method === 'GET' ? 'read' : 'write');
  if (denied) return denied;
  if (sub === 'comments') {
    if (req.method === 'POST' && id !== undefined) return postComment(ctx, id);
    return {
      ...graphError(req, 405, 'MethodNotAllowed', `${req.method} is not supported on comments.`),
      log: { resource: spec.resource },
    };
  }
  if (req.method === 'GET' && spec.resource === 'alerts' && deps.faults.faults.legacyRetired) {
    // Retired: the endpoint still answers, with nothing in it.
    const r =
      id === undefined
        ? {
            status: 200,
            headers: graphHeaders(req),
            body: { '@odata.context': `${req.origin}${version}/$metadata#Security/alerts`, value: [] },
          }
        : graphError(req, 404, 'NotFound', `No alerts item with id '${id}' was found.`);
    return { ...r, log: { resource: 'alerts', fault: 'retired', ...(id === undefined ? { items: 0 } : {}) } };
  }
  if (req.method === 'GET' && id === undefined && deps.graphLike.applies(spec.resource))
    return listGraphLike(ctx, deps.graphLike);
  if (req.method === 'GET') return id === undefined ? listCollection(ctx) : getItem(ctx, id);
  if (req.method === 'PATCH' && id !== undefined) return patchItem(ctx, id);
  return {
    ...graphError(req, 405, 'MethodNotAllowed', `${req.method} is not supported on this resource.`),
    log: { resource: spec.resource },
  };
}

function wwwAuthenticate(req: SimRequest): string {
  return `Bearer realm="", authorization_uri="${req.origin}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`;
}

/** The resource named by a Graph path, for the request log. */
function resourceOf(rest: string): string | undefined {
  const [first, second] = rest.split('/');
  if (first === 'subscriptions') return 'subscriptions';
  return second ? (collectionBySegment(second.split('?')[0] as string)?.resource ?? undefined) : undefined;
}
