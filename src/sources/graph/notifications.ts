/**
 * Graph change notifications: `POST /webhooks/graph/{source}` and `/webhooks/graph/{source}/lifecycle`.
 *
 * - `?validationToken=…` (on create, and on renewal of the lifecycle URL): 200, text/plain, the decoded token,
 *   echoed as opaque text, never interpreted.
 * - Notifications carry only ids. Each item's `clientState` is checked in constant time; forged items are dropped,
 *   logged and counted. The valid ones are persisted in Redis (a stream), and only then answered 202 — within
 *   Graph's 3 s. When they could not be persisted, or Redis did not confirm within PERSIST_TIMEOUT_MS, the answer
 *   is 503 with Retry-After, and Graph retries for hours. A body with no usable `resourceData.id` is a 400.
 * - A worker (notification-worker.ts) fetches each alert and emits it with `via: webhook`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from '../../observability/metrics.js';
import { PERSIST_TIMEOUT_MS, requireJson } from '../../server/server.js';
import { withTimeout } from '../../util/timeout.js';
import { safeEqual } from '../push/auth.js';

export interface NotificationSource {
  name: string;
  tenantId: string;
  clientState: string;
  /** Lifecycle events (`reauthorizationRequired`, `subscriptionRemoved`, `missed`) go here. */
  onLifecycle: (event: string, subscriptionId: string) => void;
}

export interface NotificationRouteOptions {
  sources: readonly NotificationSource[];
  redis: Redis;
  /** The stream notifications are persisted to (one for all sources). */
  streamKey: string;
  metrics: Metrics;
  logger: Logger;
}

interface ChangeNotification {
  subscriptionId?: unknown;
  clientState?: unknown;
  changeType?: unknown;
  resource?: unknown;
  tenantId?: unknown;
  lifecycleEvent?: unknown;
  resourceData?: { id?: unknown };
}

/** The validation handshake; true when it answered. */
function validation(req: FastifyRequest<{ Querystring: { validationToken?: string } }>, reply: FastifyReply): boolean {
  const token = req.query.validationToken;
  if (typeof token !== 'string') return false;
  void reply
    .code(200)
    .header('content-type', 'text/plain; charset=utf-8')
    .header('x-content-type-options', 'nosniff')
    .send(token);
  return true;
}

export function registerNotificationRoutes(app: FastifyInstance, opts: NotificationRouteOptions): void {
  const byName = new Map(opts.sources.map((s) => [s.name, s]));
  const log = opts.logger.child({ component: 'webhook' });
  const rejected = (source: string, reason: string, n = 1): void => {
    opts.metrics.webhookRejected.inc({ source, reason }, n);
  };

  /** Parses `{value: [...]}` and splits the items by clientState; undefined after it answered an error. */
  const parse = (
    req: FastifyRequest,
    reply: FastifyReply,
    source: NotificationSource,
  ): ChangeNotification[] | undefined => {
    if (!requireJson(req, reply)) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
    } catch (err) {
      rejected(source.name, 'invalid');
      void reply.code(400).send({ error: `invalid JSON: ${(err as Error).message}` });
      return undefined;
    }
    const items = (body as { value?: unknown } | null)?.value;
    if (!Array.isArray(items) || items.some((i) => !i || typeof i !== 'object')) {
      rejected(source.name, 'invalid');
      void reply.code(400).send({ error: 'body must be {"value": [change notifications]}' });
      return undefined;
    }
    const valid = (items as ChangeNotification[]).filter(
      (i) => typeof i.clientState === 'string' && safeEqual(i.clientState, source.clientState),
    );
    if (valid.length < items.length) {
      rejected(source.name, 'client_state', items.length - valid.length);
      log.warn(
        { source: source.name, forged: items.length - valid.length, ip: req.ip },
        'discarded notifications with a wrong clientState',
      );
    }
    if (valid.length === 0 && items.length > 0) {
      void reply.code(403).send({ error: 'clientState does not match' });
      return undefined;
    }
    return valid;
  };

  type Req = FastifyRequest<{ Params: { source: string }; Querystring: { validationToken?: string } }>;
  const sourceOf = (req: Req, reply: FastifyReply): NotificationSource | undefined => {
    const source = byName.get(req.params.source);
    if (!source) void reply.code(404).send({ error: `no Graph source with webhooks named "${req.params.source}"` });
    return source;
  };

  app.post('/webhooks/graph/:source', async (req: Req, reply) => {
    if (validation(req, reply)) return reply;
    const source = sourceOf(req, reply);
    if (!source) return reply;
    const items = parse(req, reply, source);
    if (!items) return reply;
    const ids = items.flatMap((i) => {
      const id = i.resourceData?.id;
      if (typeof id === 'string' && id.length > 0 && id.length <= 512) return [id];
      rejected(source.name, 'invalid');
      return [];
    });
    if (items.length > 0 && ids.length === 0) {
      return reply
        .code(400)
        .send({ error: 'no notification has resourceData.id (a string of 1 to 512 characters): nothing to fetch' });
    }
    if (ids.length) {
      try {
        const multi = opts.redis.multi();
        for (const id of ids) multi.xadd(opts.streamKey, '*', 's', source.name, 'id', id);
        const res = await withTimeout(multi.exec(), PERSIST_TIMEOUT_MS, 'writing notifications to Redis');
        if (!res || res.some(([err]) => err)) throw new Error('stream write failed');
      } catch (err) {
        log.error(
          { source: source.name, err: (err as Error).message },
          'could not persist notifications: answering 503 so that Graph retries',
        );
        return reply
          .code(503)
          .header('Retry-After', '10')
          .send({ error: 'could not persist the notifications; retry later' });
      }
      opts.metrics.webhookNotifications.inc({ source: source.name }, ids.length);
    }
    return reply.code(202).send({ accepted: ids.length });
  });

  app.post('/webhooks/graph/:source/lifecycle', async (req: Req, reply) => {
    if (validation(req, reply)) return reply;
    const source = sourceOf(req, reply);
    if (!source) return reply;
    const items = parse(req, reply, source);
    if (!items) return reply;
    for (const item of items) {
      const event = typeof item.lifecycleEvent === 'string' ? item.lifecycleEvent : '';
      const sub = typeof item.subscriptionId === 'string' ? item.subscriptionId : '';
      log.info({ source: source.name, event, subscription: sub }, 'lifecycle notification');
      if (event && sub) source.onLifecycle(event, sub);
    }
    return reply.code(202).send({ accepted: items.length });
  });
}
