/**
 * `POST /ingest/{source}`: authenticated push of Graph-shaped alerts by partner tools. The body is one alert, an
 * array, or `{value: [...]}`; v1 (legacy) and v2 shapes are told apart per item. All items are validated first:
 * if any is invalid, the answer is 422 with every problem by index and nothing is enqueued, so nothing invalid
 * reaches a sink. An item whose update time is more than `future_skew_ms` ahead of this server's clock is invalid:
 * as a revision it would outrank every real update of the same record for as long as the clock lags behind it.
 * Pushed records are keyed under their source (`push:{source}/…`, see normalize.ts), so a push can only ever touch
 * its own source's dedup state, never a Graph alert's or another push source's.
 * Otherwise 202 `{accepted, duplicates}` once the records are durably in Redis; 503 (with
 * Retry-After) when they could not be persisted or Redis did not confirm within PERSIST_TIMEOUT_MS, so the
 * sender retries.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { detectResource, normalize } from '../../record/normalize.js';
import { revisionOrder } from '../../record/revision.js';
import type { AlertRecord } from '../../record/types.js';
import type { EmitResult } from '../../pipeline/pipeline.js';
import { PERSIST_TIMEOUT_MS, requireJson } from '../../server/server.js';
import { withTimeout } from '../../util/timeout.js';
import { checkPushAuth, type PushAuthConfig } from './auth.js';

export interface PushSource extends PushAuthConfig {
  name: string;
  tenant_id?: string;
  /** How far ahead of this server's clock a pushed update time may be. @defaultValue {@link DEFAULT_FUTURE_SKEW_MS} */
  future_skew_ms?: number;
}

/** Clock skew tolerated on a partner's update times when the source does not set `future_skew_ms`. */
export const DEFAULT_FUTURE_SKEW_MS = 300_000;

export interface PushRouteOptions {
  sources: readonly PushSource[];
  emit: (records: AlertRecord[]) => Promise<EmitResult>;
  logger: Logger;
  /**
   * Counts a refused push of a configured source: `auth` (401), `invalid` (400, 422); and, once per item, the
   * items refused for an update time in the future (`future_revision`, in a 422).
   */
  onRejected?: (source: string, reason: 'auth' | 'invalid' | 'future_revision') => void;
}

function itemsOf(body: unknown): unknown[] | null {
  if (Array.isArray(body)) return body;
  if (body && typeof body === 'object') {
    const value = (body as { value?: unknown }).value;
    if (Array.isArray(value)) return value;
    return [body];
  }
  return null;
}

export function registerPushRoute(app: FastifyInstance, opts: PushRouteOptions): void {
  const byName = new Map(opts.sources.map((s) => [s.name, s]));
  const log = opts.logger.child({ component: 'push' });

  app.post<{ Params: { source: string } }>('/ingest/:source', async (req, reply) => {
    const source = byName.get(req.params.source);
    if (!source) return reply.code(404).send({ error: `no push source named "${req.params.source}"` });
    if (!requireJson(req, reply)) return reply;
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const auth = checkPushAuth(source, req.headers, raw);
    if (!auth.ok) {
      log.warn({ source: source.name, reason: auth.reason, ip: req.ip }, 'push refused: authentication');
      opts.onRejected?.(source.name, 'auth');
      return reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: auth.reason });
    }
    const invalid = (error: string) => {
      opts.onRejected?.(source.name, 'invalid');
      return reply.code(400).send({ error });
    };
    if (raw.length === 0) return invalid('empty body: send one Graph alert, an array, or {"value": [...]}');
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      return invalid(`invalid JSON: ${(err as Error).message}`);
    }
    const items = itemsOf(body);
    if (!items) return invalid('body must be a Graph alert object, an array, or {"value": [...]}');
    if (items.length === 0) return reply.code(202).send({ accepted: 0, duplicates: 0 });

    const now = new Date();
    const latest = revisionOrder(
      new Date(now.getTime() + (source.future_skew_ms ?? DEFAULT_FUTURE_SKEW_MS)).toISOString(),
    )!;
    const records: AlertRecord[] = [];
    const errors: Array<{ index: number; error: string }> = [];
    items.forEach((item, index) => {
      const resource = detectResource(item);
      if (!resource) {
        errors.push({ index, error: 'not a Graph security alert (neither the alerts_v2 nor the legacy alert shape)' });
        return;
      }
      const res = normalize(resource, item, { source: source.name, via: 'push', tenantId: source.tenant_id, now });
      if (!res.ok) errors.push({ index, error: res.reason });
      else if (res.record.updated_at !== null && revisionOrder(res.record.updated_at)! > latest) {
        opts.onRejected?.(source.name, 'future_revision');
        errors.push({
          index,
          error: futureError(resource, res.record.updated_at, source.future_skew_ms ?? DEFAULT_FUTURE_SKEW_MS),
        });
      } else records.push(res.record);
    });
    if (errors.length) {
      opts.onRejected?.(source.name, 'invalid');
      return reply
        .code(422)
        .send({ error: `${errors.length} of ${items.length} item(s) invalid; nothing was accepted`, errors });
    }
    try {
      const result = await withTimeout(opts.emit(records), PERSIST_TIMEOUT_MS, 'persisting pushed records in Redis');
      return reply.code(202).send({ accepted: result.accepted, duplicates: result.duplicates + result.stale });
    } catch (err) {
      log.error({ err, source: source.name }, 'push: could not persist records');
      return reply.code(503).header('Retry-After', '5').send({ error: 'could not persist the records; retry later' });
    }
  });
}

function futureError(resource: 'alerts_v2' | 'alerts', updated: string, maxMs: number): string {
  const field = resource === 'alerts' ? 'lastModifiedDateTime' : 'lastUpdateDateTime';
  return (
    `${field} ${JSON.stringify(updated)} is more than ${maxMs} ms ahead of this server's clock (future_skew_ms): ` +
    'an update time from the future would hide every later update of this alert'
  );
}
