/**
 * The HTTP server: health, readiness, metrics, and the routes sources mount through the source contract
 * (`Source.routes`: partner push, Graph change notifications). Errors answer `{"error": "..."}` with no stack trace;
 * bodies are JSON only and size-limited.
 */
import type { IncomingMessage } from 'node:http';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';

export interface ServerOptions {
  maxBodyBytes: number;
  requestTimeoutMs: number;
  metrics: Metrics;
  logger: Logger;
  /** Readiness: every check must be true; a string is a failing check and says why. */
  readiness: () => Promise<Record<string, boolean | string>>;
  /**
   * Conditions an operator must see that do not make the replica unready (a poll window stuck for an hour: the other
   * windows, pushes and deliveries still work). Shown as `warnings` in `/readyz` when there are any.
   */
  warnings?: () => Promise<Record<string, unknown>>;
}

/**
 * An oversized body is read to its end and discarded (up to this many bytes) before the 413 goes out — a lingering
 * close, as nginx does. Answering while the client is still sending, then closing, resets the connection, and the
 * client sees EPIPE or ECONNRESET instead of the reason. Beyond this, the 413 is sent at once with `Connection: close`.
 */
export const DRAIN_MAX_BYTES = 16 * 1024 * 1024;

/** Reads and discards the rest of a request body; false when it is longer than `maxBytes` or takes too long. */
function drain(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<boolean> {
  if (req.readableEnded || req.complete) return Promise.resolve(true);
  return new Promise((resolve) => {
    let seen = 0;
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onFail).off('close', onFail);
      resolve(ok);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) finish(false);
    };
    const onEnd = () => finish(true);
    const onFail = () => finish(false);
    const timer = setTimeout(onFail, timeoutMs);
    req.on('data', onData).once('end', onEnd).once('error', onFail).once('close', onFail);
    req.resume();
  });
}

export function buildServer(opts: ServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger.child({ component: 'server' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.maxBodyBytes,
    requestTimeout: opts.requestTimeoutMs,
    connectionTimeout: opts.requestTimeoutMs,
    return503OnClosing: true,
  });

  // Bodies are kept raw: the push route verifies HMAC signatures over the exact bytes, and Graph's validation
  // handshake arrives as text/plain. Each route checks the content type it accepts (requireJson) and parses.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    let message = status >= 500 ? 'internal error' : err.message;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      message = `request body is larger than ${opts.maxBodyBytes} bytes`;
      const declared = Number(req.headers['content-length']);
      const drained = !(declared > DRAIN_MAX_BYTES) && (await drain(req.raw, DRAIN_MAX_BYTES, opts.requestTimeoutMs));
      if (!drained) void reply.header('connection', 'close');
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      message = `unsupported content type "${req.headers['content-type'] ?? ''}": send application/json`;
    if (status >= 500) req.log.error({ err, url: req.url }, 'request failed');
    return reply.code(status).type('application/json').send({ error: message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const results = await opts
      .readiness()
      .catch((err: Error) => ({ readiness: `checking readiness failed: ${err.message}` }));
    const checks: Record<string, boolean> = {};
    const reasons: Record<string, string> = {};
    for (const [name, result] of Object.entries(results)) {
      checks[name] = result === true;
      if (typeof result === 'string') reasons[name] = result;
    }
    const ready = Object.values(checks).every(Boolean);
    const warnings =
      (await opts.warnings?.().catch((err: Error) => ({ warnings: `checking failed: ${err.message}` }))) ?? {};
    return reply.code(ready ? 200 : 503).send({
      ready,
      checks,
      ...(Object.keys(reasons).length ? { reasons } : {}),
      ...(Object.keys(warnings).length ? { warnings } : {}),
    });
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await opts.metrics.registry.metrics();
    return reply.type(opts.metrics.registry.contentType).send(body);
  });
  return app;
}

/**
 * How long a webhook route waits for Redis to persist what it received before answering 503 with Retry-After.
 * Graph wants an answer within 3 s and delays, then drops, the notifications of an endpoint that is often slow; a
 * Redis that accepts connections but never answers (a blackholed host) would otherwise hold every request until
 * the sender gives up. A write that lands after the 503 is harmless: the sender retries and dedup drops the copy.
 */
export const PERSIST_TIMEOUT_MS = 2000;

/** Answers 415 unless the request is JSON; true when it is. */
export function requireJson(req: FastifyRequest, reply: FastifyReply): boolean {
  if (/^application\/(?:[a-z0-9.+-]*\+)?json\b/i.test(req.headers['content-type'] ?? '')) return true;
  void reply
    .code(415)
    .send({ error: `unsupported content type "${req.headers['content-type'] ?? ''}": send application/json` });
  return false;
}

/** `host:port` → listen options; `[::]:8080` and `:8080` accepted. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`invalid listen address "${listen}" (expected host:port)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}
