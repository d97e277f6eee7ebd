/**
 * `POST /sync/{source}`: a SIEM's triage changes, queued for write-back to Graph; `GET /sync/{source}/changes/{id}`:
 * where one change is and its outcome. Both are authenticated like the partner push (bearer and/or HMAC, with the
 * source's own `sync` secrets — push/auth.ts). The body is one change or an array; every item is validated first,
 * and any invalid item makes the answer 400 with each problem by index, nothing queued. 202 `{accepted, ids}` only
 * once the changes are durably in Redis (and on replicas, with `redis.durability`); 503 with Retry-After otherwise.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { PERSIST_TIMEOUT_MS, requireJson } from '../server/server.js';
import { checkPushAuth, type PushAuthConfig } from '../sources/push/auth.js';
import { withTimeout } from '../util/timeout.js';
import { groupOf } from '../config/tenant-name.js';
import { parseChange, type SyncChange } from './change.js';
import type { SyncQueue } from './queue.js';

export interface SyncRouteSource {
  name: string;
  tenantId: string;
  auth: PushAuthConfig;
  queue: SyncQueue;
}

export interface SyncRouteOptions {
  sources: readonly SyncRouteSource[];
  logger: Logger;
  /** `redis.durability`: resolves once the queued changes are on replicas; undefined when off. */
  waitDurable?: () => Promise<void>;
  onRejected?: (source: string, reason: 'auth' | 'invalid') => void;
}

/** Most changes in one request. */
export const MAX_CHANGES = 1000;

/** Validates and queues changes of one source; shared by the route, the CLI and the Kafka input. */
export async function queueChanges(
  source: SyncRouteSource,
  items: unknown[],
  requestedBy: string,
  waitDurable?: () => Promise<void>,
): Promise<
  | { ok: true; accepted: number; duplicates: number; ids: string[] }
  | { ok: false; errors: Array<{ index: number; error: string }> }
> {
  const errors: Array<{ index: number; error: string }> = [];
  const changes: SyncChange[] = [];
  items.forEach((item, index) => {
    const r = parseChange(item, source.tenantId);
    if (r.ok) changes.push(r.change);
    else errors.push({ index, error: r.error });
  });
  if (errors.length) return { ok: false, errors };
  const requestedAt = new Date().toISOString();
  const queued = changes.map((change) => ({
    id: change.change_id ?? randomUUID(),
    change,
    requestedBy,
    requestedAt,
  }));
  const fresh = await source.queue.enqueue(queued);
  await waitDurable?.();
  const accepted = fresh.filter(Boolean).length;
  return { ok: true, accepted, duplicates: fresh.length - accepted, ids: queued.map((q) => q.id) };
}

/**
 * Changes sent to a source with tenants: each goes to the tenant its key names. All are checked before any is
 * queued, as for one source; `ids` keep the order of the body.
 */
async function queueTenantChanges(
  members: readonly SyncRouteSource[],
  items: unknown[],
  requestedBy: string,
  waitDurable?: () => Promise<void>,
): ReturnType<typeof queueChanges> {
  const errors: Array<{ index: number; error: string }> = [];
  const routed = new Map<SyncRouteSource, { index: number; item: unknown }[]>();
  items.forEach((item, index) => {
    const key = item !== null && typeof item === 'object' ? (item as { key?: unknown }).key : undefined;
    const tenant = typeof key === 'string' ? key.split('/', 1)[0]!.toLowerCase() : undefined;
    const member = tenant === undefined ? undefined : members.find((m) => m.tenantId.toLowerCase() === tenant);
    if (!member) {
      errors.push({
        index,
        error:
          tenant === undefined
            ? 'this source reads several tenants: name the alert by its key, or send the change to /sync/{source}%2F{tenant}'
            : `key names tenant ${tenant}, which is not one of this source's tenants`,
      });
      return;
    }
    const r = parseChange(item, member.tenantId);
    if (!r.ok) errors.push({ index, error: r.error });
    routed.set(member, [...(routed.get(member) ?? []), { index, item }]);
  });
  if (errors.length) return { ok: false, errors };
  const ids: string[] = new Array<string>(items.length);
  let accepted = 0;
  let duplicates = 0;
  for (const [member, list] of routed) {
    const r = await queueChanges(
      member,
      list.map((l) => l.item),
      requestedBy,
      waitDurable,
    );
    if (!r.ok) return { ok: false, errors: r.errors.map((e) => ({ ...e, index: list[e.index]!.index })) };
    accepted += r.accepted;
    duplicates += r.duplicates;
    r.ids.forEach((id, i) => (ids[list[i]!.index] = id));
  }
  return { ok: true, accepted, duplicates, ids };
}

export function registerSyncRoutes(app: FastifyInstance, opts: SyncRouteOptions): void {
  const byName = new Map(opts.sources.map((s) => [s.name, s]));
  const log = opts.logger.child({ component: 'sync' });

  /**
   * A source with `tenants` (config/tenants.ts) is one name for all of its tenants' sources: `POST /sync/mssp` routes
   * each change by the tenant its key names, and they share the source's `sync` secrets. Each tenant also answers
   * on its own name (`/sync/mssp%2Ffabrikam`), where a change may name its alert by `resource` and `id`.
   */
  const groups = new Map<string, SyncRouteSource[]>();
  for (const s of opts.sources) {
    const group = groupOf(s.name);
    if (group !== s.name) groups.set(group, [...(groups.get(group) ?? []), s]);
  }
  const known = (name: string) => byName.has(name) || groups.has(name);

  const authenticate = (req: FastifyRequest<{ Params: { source: string } }>, reply: FastifyReply) => {
    const source = byName.get(req.params.source) ?? groups.get(req.params.source)?.[0];
    if (!source) {
      void reply.code(404).send({ error: `no graph_security source named "${req.params.source}" with sync enabled` });
      return undefined;
    }
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const auth = checkPushAuth(source.auth, req.headers, raw);
    if (!auth.ok) {
      log.warn({ source: source.name, reason: auth.reason, ip: req.ip }, 'sync refused: authentication');
      opts.onRejected?.(source.name, 'auth');
      void reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: auth.reason });
      return undefined;
    }
    return source;
  };

  app.post<{ Params: { source: string } }>('/sync/:source', async (req, reply) => {
    if (!known(req.params.source))
      return reply.code(404).send({ error: `no graph_security source named "${req.params.source}" with sync enabled` });
    if (!requireJson(req, reply)) return reply;
    const authenticated = authenticate(req, reply);
    if (!authenticated) return reply;
    const members = groups.get(req.params.source);
    const source = members ? { ...authenticated, name: req.params.source } : authenticated;
    const invalid = (error: string, errors?: Array<{ index: number; error: string }>) => {
      opts.onRejected?.(source.name, 'invalid');
      return reply.code(400).send(errors ? { error, errors } : { error });
    };
    const raw = req.body as Buffer;
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      return invalid(`invalid JSON: ${(err as Error).message}`);
    }
    const items = Array.isArray(body) ? body : [body];
    if (items.length === 0) return reply.code(202).send({ accepted: 0, duplicates: 0, ids: [] });
    if (items.length > MAX_CHANGES) return invalid(`at most ${MAX_CHANGES} changes per request`);
    try {
      const r = await withTimeout(
        members
          ? queueTenantChanges(members, items, authKind(source.auth), opts.waitDurable)
          : queueChanges(source, items, authKind(source.auth), opts.waitDurable),
        PERSIST_TIMEOUT_MS,
        'queueing sync changes in Redis',
      );
      if (!r.ok)
        return invalid(`${r.errors.length} of ${items.length} change(s) invalid; nothing was queued`, r.errors);
      return reply.code(202).send({ accepted: r.accepted, duplicates: r.duplicates, ids: r.ids });
    } catch (err) {
      log.error({ err, source: source.name }, 'sync: could not queue changes');
      return reply.code(503).header('Retry-After', '5').send({ error: 'could not queue the changes; retry later' });
    }
  });

  app.get<{ Params: { source: string; id: string } }>('/sync/:source/changes/:id', async (req, reply) => {
    const source = authenticate(req, reply);
    if (!source) return reply;
    let rec = byName.has(req.params.source) ? await source.queue.get(req.params.id) : undefined;
    for (const member of groups.get(req.params.source) ?? []) rec ??= await member.queue.get(req.params.id);
    if (!rec) return reply.code(404).send({ error: `no change "${req.params.id}" (unknown, or its outcome expired)` });
    return reply.send({
      change_id: rec.id,
      state: rec.state,
      change: rec.change,
      requested_by: rec.requestedBy,
      requested_at: rec.requestedAt,
      attempts: rec.attempts,
      outcome: rec.outcome ?? null,
    });
  });
}

function authKind(auth: PushAuthConfig): string {
  return [auth.token ? 'bearer' : '', auth.hmac_secret ? 'hmac' : ''].filter(Boolean).join('+');
}
