/**
 * `startSimulator()`: the Microsoft Graph Security API and its Entra ID token endpoint on one local HTTPS server, with
 * realistic data, Graph's paging and limits, fault injection and a request log. It is what `alertbridge simulate`
 * and `alertbridge demo` run, and what the Graph poller's tests run against — so it reproduces the behaviours in
 * graph-api-notes.md that a client must cope with, not just the happy path.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Resource } from '../record/types.js';
import { RESOURCES } from '../record/types.js';
import { handleAdmin } from './admin.js';
import { Authority } from './auth.js';
import { FaultState } from './faults.js';
import { GraphLikeState } from './graph-like.js';
import { startFeed } from './feed.js';
import { startStreamingPublisher } from './streaming.js';
import type { GraphObject } from './generate.js';
import { handleGraph, isGraphPath, type GraphRouteDeps } from './graph-routes.js';
import { BodyTooLargeError, readBody, writeResponse, type SimRequest, type SimResponse } from './http-util.js';
import { SimStore } from './store.js';
import { SubscriptionManager } from './subscriptions.js';
import { createSimulatorTls } from './tls.js';
import {
  DEMO_TENANT,
  type DeliveryLogEntry,
  type RequestLogEntry,
  type Simulator,
  type SimulatorOptions,
} from './types.js';

/** File name of the CA certificate inside `dir`. */
export const CA_FILE_NAME = 'graph-simulator-ca.pem';

const AUTH_PATH =
  /^\/([^/]+)\/(?:(v2\.0\/)?\.well-known\/openid-configuration|oauth2\/v2\.0\/token|discovery\/v2\.0\/keys|discovery\/instance)$/;

/** Starts the simulator and resolves once it listens. See {@link SimulatorOptions} for the knobs. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const clock = opts.clock ?? (() => new Date());
  const tenants = opts.tenants?.length ? opts.tenants.map((t) => ({ ...t })) : [{ ...DEMO_TENANT }];
  const seed = opts.seed ?? 1;
  const host = opts.host ?? '127.0.0.1';
  const hostnames = opts.hostnames ?? [];
  const tls = await createSimulatorTls([...hostnames, ...(isWildcard(host) ? [] : [host])]);
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'alertbridge-sim-')));
  await mkdir(dir, { recursive: true });
  const caFile = join(dir, CA_FILE_NAME);
  await writeFile(caFile, tls.caPem);

  const logLimit = opts.logLimit ?? 10_000;
  const requestLog: RequestLogEntry[] = [];
  const deliveryLog: DeliveryLogEntry[] = [];
  const append = <T>(log: T[], entry: T): void => {
    log.push(entry);
    if (log.length > logLimit) log.splice(0, log.length - logLimit);
  };
  // The fault state counts on the authority for `revokeTokens`; the authority reads token lifetimes from it.
  const faults: FaultState = new FaultState(seed, {}, (): number => authority.issued);
  const store = new SimStore(
    tenants.map((t) => t.tenantId),
    seed,
    clock,
    initialCount(opts.initial, 'secure_scores'),
    opts.retain,
  );
  const publisher = opts.streaming ? await startStreamingPublisher(opts.streaming) : undefined;
  if (publisher)
    store.onChange((tenantId, resource, obj, kind) => {
      if (resource === 'alerts_v2' && kind === 'created') publisher.publish(tenantId, obj);
    });
  const authority = new Authority({
    tenants,
    keyPem: tls.keyPem,
    lifetimeS: () => faults.faults.tokenLifetimeS ?? opts.tokenLifetimeS ?? 3599,
    hostnames,
  });
  faults.set(opts.faults ?? {});
  const subscriptions = new SubscriptionManager(store, clock, opts.subscriptions ?? {}, (e) => append(deliveryLog, e));
  store.seed(Object.fromEntries(RESOURCES.map((r) => [r, initialCount(opts.initial, r)])));
  const graphLike = new GraphLikeState(seed, opts.graphLike);
  const deps: GraphRouteDeps = { authority, store, faults, subscriptions, pageSize: opts.pageSize ?? 100, graphLike };

  // Admin routes need the handle, which exists once the server listens.
  const self: { sim?: Simulator } = {};
  const route = async (req: SimRequest): Promise<SimResponse> => {
    if (req.path.startsWith('/_sim/')) return handleAdmin(req, self.sim as Simulator);
    if (isGraphPath(req.path)) return handleGraph(req, deps);
    const m = AUTH_PATH.exec(req.path);
    if (m) {
      const tenant = decodeURIComponent(m[1] as string);
      if (req.path.endsWith('/token')) {
        const slow = faults.faults.slowTokenMs ?? 0;
        if (slow > 0) await sleep(slow);
        return req.method === 'POST'
          ? authority.token(req, tenant)
          : { status: 405, body: { error: 'invalid_request', error_description: 'Use POST.' } };
      }
      if (req.path.endsWith('openid-configuration')) return authority.openidConfiguration(req, tenant);
      if (req.path.endsWith('/keys')) return authority.jwks();
      return authority.instanceDiscovery(req);
    }
    return {
      status: 404,
      body: { error: { code: 'NotFound', message: `No simulator route for ${req.method} ${req.path}.` } },
    };
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const now = clock();
    const url = new URL(req.url ?? '/', 'https://simulator.invalid');
    const simReq: SimRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      origin: `https://${req.headers.host ?? 'localhost'}`,
      rawBody: '',
      now,
      requestId: randomUUID(),
    };
    let r: SimResponse;
    try {
      simReq.rawBody = await readBody(req);
      // Once the whole request is here: a test that kills the client from this hook still gets the request applied.
      opts.onRequest?.({ method: simReq.method, path: simReq.path, body: simReq.rawBody });
      r = await route(simReq);
    } catch (err) {
      const status = err instanceof BodyTooLargeError ? 413 : 500;
      r = {
        status,
        body: {
          error: {
            code: status === 413 ? 'RequestEntityTooLarge' : 'InternalServerError',
            message: `simulator error: ${(err as Error).message}`,
          },
        },
      };
    }
    if (res.destroyed) return;
    writeResponse(res, r);
    if (simReq.path.startsWith('/_sim/')) return;
    append(requestLog, {
      at: now.toISOString(),
      method: simReq.method,
      path: simReq.path,
      query: simReq.query,
      tenant: r.log?.tenant ?? null,
      ...(r.log?.clientId ? { clientId: r.log.clientId } : {}),
      status: r.status,
      ...(r.log?.resource ? { resource: r.log.resource } : {}),
      ...(r.log?.provider ? { provider: r.log.provider } : {}),
      ...(r.log?.fault ? { fault: r.log.fault } : {}),
      ...(r.log?.items !== undefined ? { items: r.log.items } : {}),
      ...(r.log?.changed ? { changed: r.log.changed } : {}),
      headers: loggedHeaders(req.headers),
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
  };

  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => void onRequest(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const base = `https://${urlHost(host)}:${port}`;
  const stopFeed = startFeed(
    store,
    tenants.map((t) => t.tenantId),
    { rate: opts.rate ?? 0, updateRatio: opts.updateRatio ?? 0.3, seed },
  );

  let closing: Promise<void> | undefined;
  const sim: Simulator = {
    url: base,
    authorityHost: base,
    port,
    caFile,
    caPem: tls.caPem,
    tenants,
    consent: (tenantId, roles) => {
      const tenant = tenants.find((t) => t.tenantId === tenantId);
      if (!tenant) throw new Error(`no tenant ${tenantId} in the simulator`);
      tenant.roles = roles && [...roles];
    },
    requestLog,
    deliveryLog,
    clearLog: () => {
      requestLog.length = 0;
      deliveryLog.length = 0;
    },
    create: (tenantId: string, resource: Resource, overrides?: GraphObject) =>
      structuredClone(store.create(tenantId, resource, overrides)),
    createMany: (tenantId, resource, count, manyOpts) =>
      structuredClone(store.createMany(tenantId, resource, count, manyOpts)),
    update: (tenantId: string, resource: Resource, id: string) => structuredClone(store.update(tenantId, resource, id)),
    list: (tenantId: string, resource: Resource) =>
      store.entries(tenantId, resource).map((e) => structuredClone(e.obj)),
    addEvidence: (tenantId, id, evidenceOpts) => structuredClone(store.addEvidence(tenantId, id, evidenceOpts)),
    get graphLike() {
      return graphLike.settings;
    },
    setGraphLike: (update) => graphLike.set(update),
    setFaults: (f) => faults.set(f),
    get faults() {
      return faults.faults;
    },
    lifecycle: (id, event) => subscriptions.lifecycle(id, event),
    close: () =>
      (closing ??= (async () => {
        stopFeed();
        subscriptions.close();
        await publisher?.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        if (ownDir) await rm(dir, { recursive: true, force: true });
      })()),
  };
  self.sim = sim;
  return sim;
}

/** Headers never written to the request log: credentials. */
const UNLOGGED_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

function loggedHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || UNLOGGED_HEADERS.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function initialCount(initial: SimulatorOptions['initial'], resource: Resource): number {
  if (typeof initial === 'number') return initial;
  return initial?.[resource] ?? 0;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** How clients reach `host`: wildcard binds are reached on loopback; IPv6 literals are bracketed. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
