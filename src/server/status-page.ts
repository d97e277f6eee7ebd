/**
 * `GET /status` (HTML) and `GET /status.json` (the `alertbridge status --json` report) on the server's port:
 * read-only, from Redis, so any replica answers for all of them.
 *
 * Access (`server.status`): with a `token`, every request needs it — `Authorization: Bearer <token>`, or HTTP Basic
 * with the token as the password (what a browser asks for on the 401). Without a token, the page is served only when
 * `server.listen` is a loopback address (a laptop, `kubectl port-forward` to a pod listening on 127.0.0.1); on any
 * other address it answers 403 saying to set a token. `enabled: false` removes both routes.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { safeEqual } from '../sources/push/auth.js';
import type { StatusReport } from '../status/collect.js';
import { renderHtml } from '../status/html.js';

export interface StatusPageOptions {
  enabled: boolean;
  token?: string;
  /** `token_file`: re-read when a presented token does not match, so a rotated Secret applies without a restart. */
  tokenFile?: string;
  /** The host of `server.listen`. */
  listenHost: string;
  collect: () => Promise<StatusReport>;
}

/** `?refresh=N`: the page reloads itself every N seconds, within these bounds. */
const REFRESH_MIN_S = 2;
const REFRESH_MAX_S = 3600;

/** Security headers of both routes: nothing may load, run, frame or be cached. */
const HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export function mountStatusPage(app: FastifyInstance, opts: StatusPageOptions): void {
  if (!opts.enabled) return;
  let token = opts.token;
  let inflight: Promise<StatusReport> | undefined;
  const collect = (): Promise<StatusReport> => {
    // Concurrent requests share one read of Redis.
    inflight ??= opts.collect().finally(() => (inflight = undefined));
    return inflight;
  };

  const presented = (req: FastifyRequest): string | undefined => {
    const authz = req.headers.authorization;
    if (typeof authz !== 'string') return undefined;
    if (/^Bearer /i.test(authz)) return authz.slice(7).trim();
    if (/^Basic /i.test(authz)) {
      const decoded = Buffer.from(authz.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 ? decoded.slice(colon + 1) : undefined;
    }
    return undefined;
  };

  /** True when the request may see the page; otherwise the answer is sent. */
  const allowed = (req: FastifyRequest, reply: FastifyReply): boolean => {
    void reply.headers(HEADERS);
    if (!token) {
      if (isLoopbackHost(opts.listenHost)) return true;
      void reply.code(403).send({
        error: 'the status page needs server.status.token (or token_file) when server.listen is not a loopback address',
      });
      return false;
    }
    const given = presented(req);
    if (given !== undefined && !safeEqual(given, token) && opts.tokenFile) {
      try {
        token = readFileSync(opts.tokenFile, 'utf8').replace(/\r?\n+$/, '') || token;
      } catch {
        // the old token stays
      }
    }
    if (given !== undefined && safeEqual(given, token)) return true;
    void reply
      .code(401)
      .header(
        'www-authenticate',
        'Basic realm="alertbridge status", charset="UTF-8", Bearer realm="alertbridge status"',
      )
      .send({
        error:
          given === undefined
            ? 'missing credentials (send Authorization: Bearer <server.status.token>, or Basic with it as the password)'
            : 'invalid status token',
      });
    return false;
  };

  const read = async (reply: FastifyReply): Promise<StatusReport | undefined> => {
    try {
      return await collect();
    } catch (err) {
      void reply.code(503).send({ error: `reading the status from Redis failed: ${(err as Error).message}` });
      return undefined;
    }
  };

  app.get('/status.json', async (req, reply) => {
    if (!allowed(req, reply)) return reply;
    const report = await read(reply);
    return report ? reply.type('application/json').send(report) : reply;
  });

  app.get('/status', async (req, reply) => {
    if (!allowed(req, reply)) return reply;
    const q = req.query as Record<string, unknown>;
    let refreshSeconds: number | undefined;
    if (q.refresh !== undefined) {
      const n = Number(q.refresh);
      if (!Number.isInteger(n) || n < REFRESH_MIN_S || n > REFRESH_MAX_S) {
        return reply.code(400).send({
          error: `refresh: expected whole seconds from ${REFRESH_MIN_S} to ${REFRESH_MAX_S}, got "${String(q.refresh).slice(0, 40)}"`,
        });
      }
      refreshSeconds = n;
    }
    const report = await read(reply);
    return report ? reply.type('text/html; charset=utf-8').send(renderHtml(report, { refreshSeconds })) : reply;
  });
}
