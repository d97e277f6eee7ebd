/**
 * The Graph HTTP client of one source (one tenant): tokens from @azure/identity, the shared per-tenant request
 * budget, request timeouts, and Graph's throttling rules — 429/503/504 wait for `Retry-After` (fractional seconds
 * or an HTTP date), else back off exponentially with jitter. 206 Partial Content is success with a gap: the
 * `Warning` headers name the providers that failed, and the caller decides what that means for its cursor.
 */
import type { TokenCredential } from '@azure/identity';
import { backoffDelay } from '../../util/backoff.js';
import type { Logger } from 'pino';
import { request, type Dispatcher } from 'undici';
import { parseRetryAfter } from '../../util/errors.js';
import type { Metrics } from '../../observability/metrics.js';
import { sleep, type RequestBudget } from './budget.js';
import { httpDispatcher, redactUrlsIn } from '../../util/http-proxy.js';
import { lastTransportError } from '../../entra/credential.js';
import { TimeoutError, withTimeout } from '../../util/timeout.js';

export interface PartialWarning {
  vendor: string;
  provider: string;
  status: string;
  latencyMs: number;
}

export interface GraphResponse<T = unknown> {
  status: number;
  body: T;
  /** Providers that failed (206 Partial Content). */
  partial: PartialWarning[];
  /** {@link GraphClient.getPage}: the `$top` the page was read with, when it had to be made smaller. */
  top?: number;
  /** Graph's `Date` header: `alertbridge doctor` measures the clock skew from it. */
  date?: string;
}

/** A Graph request that failed for good (or ran out of retries); names the source and tenant. */
export class GraphRequestError extends Error {
  override name = 'GraphRequestError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A link (an `@odata.nextLink`, or any absolute URL) outside `{graph_url}/v1.0/`: not followed, so the source's
 * bearer token never leaves the configured Graph origin — no request, not even a connection, goes to it.
 */
export class UntrustedLinkError extends GraphRequestError {
  override name = 'UntrustedLinkError';
  constructor(message: string) {
    super(message, 0, 'untrusted_link');
  }
}

/**
 * A response body larger than `max_response_bytes`: reading stopped there (nothing more was buffered) and the page
 * failed. It carries the page's `$top` so a caller can ask again for fewer objects ({@link GraphClient.getPage}).
 */
export class ResponseTooLargeError extends GraphRequestError {
  override name = 'ResponseTooLargeError';
  constructor(
    message: string,
    readonly url: string,
    readonly limit: number,
    readonly top: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, 0, 'response_too_large', options);
  }
}

export interface GraphClientOptions {
  source: string;
  tenantId: string;
  graphUrl: string;
  /**
   * Makes the source's credential. Called once, and again when Graph refuses a token that @azure/identity still
   * holds as valid (401): a new credential has an empty token cache, which is the supported way to get a
   * genuinely new token (`getToken` has no "bypass the cache" option besides a CAE claims challenge). It is handed
   * the client's dispatcher, so that token requests take the same proxy and trusted CAs as Graph requests.
   */
  credential: (dispatcher: Dispatcher) => TokenCredential;
  /** Least time between two credentials made because Graph refused a token (no hot loop). @defaultValue 60000 */
  minTokenRenewalMs?: number;
  budget: RequestBudget;
  metrics: Metrics;
  logger: Logger;
  ca?: string[];
  /** The source's `proxy_url`; without it, the HTTPS_PROXY / HTTP_PROXY / NO_PROXY environment applies. */
  proxyUrl?: string;
  timeoutMs: number;
  /** Retries of one request on throttling or 5xx. @defaultValue 8 */
  maxRetries?: number;
  /** First backoff when no Retry-After is given. @defaultValue 1000 */
  backoffMs?: number;
  /** Largest response body read (the source's `max_response_bytes`); a larger one fails with ResponseTooLargeError. */
  maxResponseBytes: number;
}

/** A body past the cap, found while reading; becomes a ResponseTooLargeError once the request is known. */
class OverCap extends Error {
  constructor(
    readonly bytes: number,
    readonly declared: boolean,
  ) {
    super('response body over the cap');
  }
}

/**
 * The body as text, read chunk by chunk and abandoned (the connection closed) as soon as it passes `limit` bytes —
 * or before reading anything when Content-Length already says so: a 120 MB page must never be buffered whole.
 */
async function readCapped(
  body: Dispatcher.ResponseData['body'],
  contentLength: string | string[] | undefined,
  limit: number,
): Promise<string> {
  const declared = Number(firstHeader(contentLength));
  if (Number.isFinite(declared) && declared > limit) {
    body.destroy();
    throw new OverCap(declared, true);
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > limit) {
      body.destroy();
      throw new OverCap(bytes, false);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, bytes).toString('utf8');
}

/** The `$top` of a URL or path, when it has one. */
export function topOf(url: string): number | undefined {
  const m = /[?&](?:\$|%24)top=(\d+)/i.exec(url);
  return m ? Number(m[1]) : undefined;
}

/** The URL with its `$top` replaced; the rest (a nextLink's skip token, the filter) is left byte for byte. */
export function withTop(url: string, top: number): string {
  return url.replace(/([?&])(\$|%24)top=\d+/i, `$1$2top=${top}`);
}

/** `Warning: 199 - "Microsoft/IPC/504/10000"`, possibly several, comma-separated or repeated. */
export function parseWarnings(header: string | string[] | undefined): PartialWarning[] {
  const text = Array.isArray(header) ? header.join(', ') : (header ?? '');
  const out: PartialWarning[] = [];
  for (const m of text.matchAll(/199\s+\S+\s+"([^"]*)"/g)) {
    const parts = m[1]!.split('/');
    if (parts.length < 2) continue;
    const latency = Number(parts.at(-1));
    const status = parts.length >= 4 ? parts.at(-2)! : '';
    const provider = parts.length >= 4 ? parts.slice(1, -2).join('/') : parts[1]!;
    out.push({ vendor: parts[0]!, provider, status, latencyMs: Number.isFinite(latency) ? latency : 0 });
  }
  return out;
}

export class GraphClient {
  /** Throttling waits so far (429/503/504 and budget), for progress reports. */
  readonly stats = { throttled: 0, waitedMs: 0 };
  private readonly agent: Dispatcher;
  private readonly scope: string;
  private readonly base: string;
  /** `{graph_url}/v1.0/`: every URL the client sends its token to starts with this. */
  private readonly trusted: URL;
  private readonly log: Logger;
  private credential: TokenCredential;
  /** Bumped each time the credential is made anew; a token is tagged with the generation that issued it. */
  private generation = 0;
  private renewedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: GraphClientOptions) {
    this.base = opts.graphUrl.replace(/\/+$/, '');
    this.trusted = new URL(`${this.base}/v1.0/`);
    this.scope = `${this.trusted.origin}/.default`;
    this.agent = httpDispatcher({ proxyUrl: opts.proxyUrl, ca: opts.ca, keepAliveTimeout: 30_000, connections: 4 });
    this.log = opts.logger;
    this.credential = opts.credential(this.agent);
  }

  /** An absolute URL (a nextLink, followed as an opaque string) or a path under `{graph_url}/v1.0`. */
  url(pathOrUrl: string): string {
    return URL.canParse(pathOrUrl) ? pathOrUrl : `${this.base}/v1.0${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
  }

  /**
   * The URL to send the token to, or UntrustedLinkError. Only `{graph_url}/v1.0/…` qualifies: the same scheme, host
   * and port (a nextLink elsewhere would hand the token to whoever answers there) and the same API version (a
   * `/beta` link would read objects of another shape, silently). The check runs on the parsed URL — what undici
   * would connect to — so `..` segments, user info and backslashes cannot dress another host up as Graph.
   */
  private trustedUrl(method: string, pathOrUrl: string, resource: string): string {
    const { source, tenantId } = this.opts;
    let url: URL | undefined;
    try {
      url = new URL(this.url(pathOrUrl));
    } catch {
      url = undefined;
    }
    const where = `${method} ${resource} for source '${source}' (tenant ${tenantId})`;
    let why: string | undefined;
    if (!url) why = 'it is not a valid URL';
    else if (url.origin !== this.trusted.origin)
      why = `${url.origin} is not the configured graph_url ${this.trusted.origin}; the access token is sent only there`;
    else if (url.username || url.password) why = 'it carries user credentials';
    else if (!url.pathname.startsWith(this.trusted.pathname))
      why = `${url.pathname} is outside ${this.trusted.pathname}, the API version this source reads`;
    if (why === undefined) return url!.href;
    this.opts.metrics.graphUntrustedLinks.inc({ source, resource });
    throw new UntrustedLinkError(`${where}: refused to follow a link: ${why}`);
  }

  get<T = unknown>(
    pathOrUrl: string,
    resource: string,
    signal?: AbortSignal,
    headers: Record<string, string> = {},
  ): Promise<GraphResponse<T>> {
    return this.request<T>('GET', pathOrUrl, resource, { signal, headers });
  }

  /**
   * GET of one page of a collection. A page over `max_response_bytes` is asked for again with half its `$top`, down
   * to 1, so a window of very large objects is read in smaller pages instead of failing at every poll. The answer
   * says which `$top` worked, for the caller to ask the rest of the window at that size (Graph's nextLinks keep the
   * `$top` they were asked with too). A single
   * object over the cap (or a page without `$top`) still fails, with the error that says so.
   */
  async getPage<T = unknown>(
    pathOrUrl: string,
    resource: string,
    signal?: AbortSignal,
    headers: Record<string, string> = {},
  ): Promise<GraphResponse<T>> {
    let url = pathOrUrl;
    for (;;) {
      try {
        const res = await this.get<T>(url, resource, signal, headers);
        return url === pathOrUrl ? res : { ...res, top: topOf(url) };
      } catch (err) {
        if (!(err instanceof ResponseTooLargeError) || err.top === undefined || err.top <= 1) throw err;
        const top = Math.floor(err.top / 2);
        this.log.warn(
          {
            source: this.opts.source,
            tenant: this.opts.tenantId,
            resource,
            top: err.top,
            next_top: top,
            max_response_bytes: err.limit,
          },
          `a page of ${resource} was larger than max_response_bytes (${err.limit}) at $top=${err.top}: asking again with $top=${top}`,
        );
        url = withTop(url, top);
      }
    }
  }

  /**
   * Any Graph call, with the same budget, token and throttling rules. 2xx resolves (204 with an empty body);
   * other statuses throw GraphRequestError (its `status` tells 404 from the rest).
   */
  async request<T = unknown>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    pathOrUrl: string,
    resource: string,
    opts: {
      signal?: AbortSignal;
      headers?: Record<string, string>;
      body?: unknown;
      /**
       * False for a request that must not be sent twice (a comment POST): it is resent only when Graph said it did
       * not take it (429, 503) or it never left (connection refused); a 5xx or a connection lost after sending throws
       * instead, for the caller to look before it tries again. @defaultValue true
       */
      idempotent?: boolean;
      /**
       * Called right before each attempt goes out (after the token and the budget slot); when it throws, nothing is
       * sent and the error is the request's. Write-back uses it to send only while its claim on the change holds.
       */
      beforeSend?: () => Promise<void>;
    } = {},
  ): Promise<GraphResponse<T>> {
    const idempotent = opts.idempotent ?? true;
    const { signal } = opts;
    const headers = { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers };
    const url = this.trustedUrl(method, pathOrUrl, resource);
    const { source, tenantId, metrics } = this.opts;
    const maxRetries = this.opts.maxRetries ?? 8;
    let renewed = false;
    for (let attempt = 0; ; attempt++) {
      // The token first, then the budget slot: the slot is taken right before the request goes out. A token fetch
      // (seconds on a cold start or a refresh) between the two let Graph see more requests in its own 60 s window
      // than the budget allows.
      const { token, generation } = await this.token(signal);
      // The slot is held until the answer's headers are here (Graph counts the request on arrival, somewhere in
      // between; budget.ts). A request still unanswered `answerMs` after its take is abandoned, so that it cannot
      // reach Graph after its slot's hold has ended (`answerMs` + 5 s: the 5 s for bytes already on their way).
      const answerMs = 2 * this.opts.timeoutMs;
      const slot = await this.opts.budget.take(signal, answerMs + 5_000);
      if (slot.waited) {
        this.stats.throttled++;
        this.stats.waitedMs += slot.waited;
      }
      if (opts.beforeSend) {
        try {
          await opts.beforeSend();
        } catch (err) {
          await slot.release(); // nothing was sent
          throw err;
        }
      }
      let status: number;
      let text: string;
      let resHeaders: Record<string, string | string[] | undefined>;
      try {
        const deadline = new AbortController();
        const timer = setTimeout(
          () => deadline.abort(new Error(`no answer within ${answerMs} ms (twice request_timeout_ms)`)),
          answerMs,
        );
        let res: Dispatcher.ResponseData;
        try {
          res = await request(url, {
            method,
            body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
            dispatcher: this.agent,
            headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...headers },
            headersTimeout: this.opts.timeoutMs,
            bodyTimeout: this.opts.timeoutMs,
            signal: signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal,
          });
        } catch (err) {
          // No answer: what was sent may still reach Graph (bytes in transit when the connection failed or was
          // abandoned), so the slot keeps its whole hold, unless the request never left.
          if (neverSent(err)) await slot.release();
          throw err;
        } finally {
          clearTimeout(timer);
        }
        await slot.release(); // answered: Graph has counted it by now
        status = res.statusCode;
        resHeaders = res.headers;
        text = await readCapped(res.body, res.headers['content-length'], this.opts.maxResponseBytes);
      } catch (err) {
        signal?.throwIfAborted();
        if (err instanceof OverCap) {
          // Not retried: the same request would bring the same page. The caller may ask for fewer objects.
          metrics.graphRequests.inc({ source, resource, code: 'too_large' });
          const top = topOf(url);
          const size = err.declared
            ? `Content-Length ${err.bytes}`
            : `more than ${this.opts.maxResponseBytes} bytes read`;
          throw new ResponseTooLargeError(
            `${method} ${resource} for source '${source}' (tenant ${tenantId}): the response is larger than max_response_bytes (${this.opts.maxResponseBytes}; ${size})${top !== undefined ? ` at $top=${top}` : ''}; reading stopped there`,
            url,
            this.opts.maxResponseBytes,
            top,
          );
        }
        metrics.graphRequests.inc({ source, resource, code: 'network' });
        if (attempt >= maxRetries || (!idempotent && !neverSent(err)))
          throw new GraphRequestError(
            `${method} ${resource} for source '${source}' (tenant ${tenantId}): ${(err as Error).message}`,
            0,
            'network',
            { cause: err },
          );
        await sleep(this.backoff(attempt), signal);
        continue;
      }
      metrics.graphRequests.inc({ source, resource, code: String(status) });
      if (status >= 200 && status < 300) {
        const partial = status === 206 ? parseWarnings(resHeaders['warning']) : [];
        for (const p of partial) metrics.graphPartial.inc({ source, resource, provider: p.provider });
        const body = parseBody(text, firstHeader(resHeaders['content-type']));
        if (typeof body === 'string') {
          metrics.graphRequests.inc({ source, resource, code: 'invalid_body' });
          throw new GraphRequestError(
            `${method} ${resource} for source '${source}' (tenant ${tenantId}): Graph answered ${status} ${body}`,
            status,
            'invalid_body',
          );
        }
        return { status, body: body as T, partial, date: firstHeader(resHeaders['date']) };
      }
      const code = graphErrorCode(text);
      if (status === 401 && !renewed && this.renewToken(generation)) {
        renewed = true; // a revoked token, or one Graph no longer accepts: retry once with a new one
        continue;
      }
      if (status === 401) {
        throw new GraphRequestError(
          `${method} ${resource} for source '${source}' (tenant ${tenantId}) failed: HTTP 401 ${code}; a new token was refused too (check the app's consent and credentials)`,
          status,
          code,
        );
      }
      const retryable =
        status === 429 || status === 503 || (idempotent && (status === 504 || status === 502 || status === 500));
      if (status === 429 || status === 503 || status === 504) metrics.graphThrottled.inc({ source });
      if (!retryable || attempt >= maxRetries) {
        throw new GraphRequestError(
          `${method} ${resource} for source '${source}' (tenant ${tenantId}) failed: HTTP ${status} ${code}${retryable ? ` after ${attempt + 1} attempts` : ''}`,
          status,
          code,
        );
      }
      const retryAfter = parseRetryAfter(firstHeader(resHeaders['retry-after']));
      const wait = retryAfter ?? this.backoff(attempt);
      this.stats.throttled++;
      this.stats.waitedMs += wait;
      this.log.warn(
        { source, tenant: tenantId, resource, status, retry_in_ms: wait, retry_after: retryAfter !== undefined },
        'Graph throttled or unavailable; waiting',
      );
      await sleep(wait, signal);
    }
  }

  private closed = false;

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.agent.close();
  }

  /** Without a Retry-After: the shared backoff, from `backoffMs`, at most a minute (`attempt` 0 = the first retry). */
  private backoff(attempt: number): number {
    return backoffDelay({ initialMs: this.opts.backoffMs ?? 1000, maxMs: 60_000 }, attempt + 1);
  }

  /**
   * After a 401 for a token of `generation`: true when a newer token is to be had — another request already made a
   * new credential, or one may be made now (at most once per `minTokenRenewalMs`, so a token Graph keeps refusing
   * costs one token request a minute, not one per Graph request).
   */
  private renewToken(generation: number): boolean {
    if (generation < this.generation) return true;
    const now = Date.now();
    if (now - this.renewedAt < (this.opts.minTokenRenewalMs ?? 60_000)) return false;
    this.log.warn(
      { source: this.opts.source, tenant: this.opts.tenantId },
      `Graph refused the access token of source '${this.opts.source}' (tenant ${this.opts.tenantId}) with 401: getting a new one`,
    );
    this.credential = this.opts.credential(this.agent);
    this.generation++;
    this.renewedAt = now;
    return true;
  }

  /**
   * A token from the credential within `timeoutMs` (request_timeout_ms applies to token requests too). Each HTTP
   * request of the credential has that timeout as well (credential.ts); this deadline also covers credentials that
   * take no pipeline policy and makes `close()` prompt, as MSAL flows ignore the abort signal.
   */
  private async token(signal: AbortSignal | undefined): Promise<{ token: string; generation: number }> {
    const generation = this.generation;
    const { source, tenantId, timeoutMs } = this.opts;
    try {
      const t = await withTimeout(
        this.credential.getToken(this.scope, { abortSignal: signal }),
        timeoutMs,
        'request_timeout_ms',
        signal,
      );
      if (!t) throw new Error('no token returned');
      return { token: t.token, generation };
    } catch (err) {
      signal?.throwIfAborted();
      const timedOut = err instanceof TimeoutError;
      this.opts.metrics.graphRequests.inc({ source, resource: 'token', code: timedOut ? 'timeout' : 'auth_error' });
      const transport = lastTransportError(this.agent);
      const detail = transport
        ? ` (the token endpoint was not reached: ${redactUrlsIn(firstLine(transport.message))})`
        : '';
      throw new GraphRequestError(
        `getting a token for source '${source}' (tenant ${tenantId}) failed: ${firstLine((err as Error).message)}${detail}`,
        timedOut ? 0 : 401,
        timedOut ? 'timeout' : 'auth_error',
        { cause: err },
      );
    }
  }
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 500);
}

/**
 * A 2xx body as Graph sends it — a JSON object, `{}` when empty — or why it is not one (a proxy's HTML page, a cut
 * or corrupted body). The reason quotes a short, printable excerpt, never the whole body.
 */
function parseBody(text: string, contentType: string | undefined): Record<string, unknown> | string {
  if (!text) return {};
  const media = contentType?.split(';', 1)[0]!.trim().toLowerCase();
  if (media && media !== 'application/json' && !media.endsWith('+json'))
    return `with content-type ${printable(media, 100)}, not JSON: ${printable(text, 120)}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return `with a body that is not valid JSON (${printable((err as Error).message, 160)})`;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return `with a JSON ${body === null ? 'null' : Array.isArray(body) ? 'array' : typeof body}, not an object`;
  return body as Record<string, unknown>;
}

/** At most `max` characters, control characters shown as `\uXXXX`, so a hostile body cannot forge log lines. */
function printable(s: string, max: number): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(cut).slice(1, -1);
}

function graphErrorCode(text: string): string {
  try {
    const err = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    return [err?.code, err?.message].filter(Boolean).join(': ');
  } catch {
    return '';
  }
}

/** True for a connection error that happened before any of the request was sent (safe to send again). */
function neverSent(err: unknown): boolean {
  const code =
    (err as { code?: unknown; cause?: { code?: unknown } }).code ?? (err as { cause?: { code?: unknown } }).cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'UND_ERR_CONNECT_TIMEOUT';
}
