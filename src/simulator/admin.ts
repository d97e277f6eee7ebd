/**
 * `/_sim/…`: control of a running simulator for tests in another process (and curious humans): read or clear the
 * request log, change fault knobs, create or update objects, trigger lifecycle notifications. Unauthenticated, as
 * the simulator is a local tool; these requests are not themselves logged.
 */
import { isResource } from '../record/normalize.js';
import type { GraphObject } from './generate.js';
import type { SimRequest, SimResponse } from './http-util.js';
import type { GraphLikeUpdate, Simulator, SimulatorFaultsUpdate } from './types.js';

export function handleAdmin(req: SimRequest, sim: Simulator): SimResponse | Promise<SimResponse> {
  const parts = req.path.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
  const [first, a, b, c, d] = parts;
  try {
    if (first === 'log' && req.method === 'GET')
      return json(200, { value: sim.requestLog, deliveries: sim.deliveryLog });
    if (first === 'log' && req.method === 'DELETE') {
      sim.clearLog();
      return { status: 204 };
    }
    if (first === 'faults' && req.method === 'GET') return json(200, sim.faults);
    if (first === 'faults' && (req.method === 'POST' || req.method === 'PATCH')) {
      sim.setFaults((body(req) ?? {}) as SimulatorFaultsUpdate);
      return json(200, sim.faults);
    }
    if (first === 'graph-like' && req.method === 'GET') return json(200, { graphLike: sim.graphLike });
    if (first === 'graph-like' && (req.method === 'POST' || req.method === 'PATCH')) {
      sim.setGraphLike((body(req) ?? true) as GraphLikeUpdate | boolean);
      return json(200, { graphLike: sim.graphLike });
    }
    if (first === 'info' && req.method === 'GET') {
      return json(200, { url: sim.url, authorityHost: sim.authorityHost, caFile: sim.caFile, tenants: sim.tenants });
    }
    // /_sim/tenants/{tenant}/{resource}[/{id}/update]
    if (first === 'tenants' && a && isResource(b)) {
      if (req.method === 'GET' && c === undefined) return json(200, { value: sim.list(a, b) });
      if (req.method === 'POST' && c === undefined && req.query.count !== undefined) {
        // ?count=N[&sameTime=true][&provider=MCAS]: many at once, body = overrides of each
        const created = sim.createMany(a, b, Number(req.query.count), {
          sameTime: req.query.sameTime === 'true',
          provider: req.query.provider,
          overrides: (body(req) ?? undefined) as GraphObject | undefined,
          ...(req.query.variety !== undefined ? { variety: Number(req.query.variety) } : {}),
        });
        return json(201, { value: created });
      }
      if (req.method === 'POST' && c === undefined)
        return json(201, sim.create(a, b, (body(req) ?? undefined) as GraphObject | undefined));
      if (req.method === 'POST' && c !== undefined && d === 'update') return json(200, sim.update(a, b, c));
      // ?bump=false: the evidence arrives without a new lastUpdateDateTime
      if (req.method === 'POST' && b === 'alerts_v2' && c !== undefined && d === 'evidence')
        return json(200, sim.addEvidence(a, c, { bump: req.query.bump !== 'false' }));
    }
    // /_sim/subscriptions/{id}/lifecycle {"event": "reauthorizationRequired"}
    if (first === 'subscriptions' && a && b === 'lifecycle' && req.method === 'POST') {
      const event = (body(req) as { event?: string } | null)?.event ?? 'reauthorizationRequired';
      return sim.lifecycle(a, event).then(
        (status) => json(200, { status }),
        (err: Error) => json(400, { error: err.message }),
      );
    }
  } catch (err) {
    if (err instanceof RangeError || err instanceof SyntaxError || err instanceof TypeError)
      return json(400, { error: err.message });
    throw err;
  }
  return json(404, { error: `unknown admin route ${req.method} ${req.path}` });
}

function body(req: SimRequest): unknown {
  return req.rawBody.trim() ? (JSON.parse(req.rawBody) as unknown) : null;
}

function json(status: number, value: unknown): SimResponse {
  return { status, body: value, headers: { 'content-type': 'application/json' } };
}
