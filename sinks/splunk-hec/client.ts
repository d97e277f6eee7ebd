/**
 * The HEC protocol client of the `splunk_hec` sink: HTTP(S) with one keep-alive agent, the token and channel
 * headers, gzip, and indexer-acknowledgement polling. It reports what HEC answered; deciding what an answer means
 * for each record is the sink's job.
 *
 * undici with one dispatcher: keep-alive, the extra CA or `tls_verify: false`, and an outbound proxy (`proxy_url`,
 * else HTTPS_PROXY / HTTP_PROXY / NO_PROXY) through CONNECT tunnels, so TLS to HEC stays end to end. Why cookies are
 * echoed: acknowledgement only works when every request of a channel reaches the same indexer, and load balancers
 * in front of HEC (Splunk Cloud's included) make that sticky with a cookie (peers-lessons #4).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { request, type Dispatcher } from 'undici';
import { httpDispatcher, withSystemRoots } from '../kit.js';

/** HEC's JSON answer: `{text, code}`, plus `ackId` on success with acks, `invalid-event-number` on code 6, `acks`. */
export interface HecReply {
  text?: string;
  code?: number;
  ackId?: number;
  'invalid-event-number'?: number;
  acks?: Record<string, boolean>;
}

export interface HecResponse {
  status: number;
  reply: HecReply;
  retryAfter: string | undefined;
}

export interface HecClientOptions {
  /** Base URL (`https://splunk:8088`, possibly with a path prefix behind a proxy). */
  url: string;
  /** Extra trusted CA certificates (PEM), added to Node's bundled roots rather than replacing them. */
  ca?: string;
  tlsVerify: boolean;
  /** The sink's `proxy_url`; without it, the HTTPS_PROXY / HTTP_PROXY / NO_PROXY environment applies. */
  proxyUrl?: string;
  timeoutMs: number;
  /** `X-Splunk-Request-Channel`: required by HEC when the token has acks on; ackIds are counted per channel. */
  channel: string;
  gzip: boolean;
}

/** Bodies of HEC answers are tiny; anything longer is a proxy's error page, kept only as a hint. */
const MAX_REPLY_BYTES = 64 * 1024;
const gzipAsync = promisify(gzip);

export class HecClient {
  /** Read on every request, so a rotated token applies to the next one. */
  token = '';
  private readonly base: URL;
  private readonly dispatcher: Dispatcher;
  private readonly cookies = new Map<string, string>();

  constructor(private readonly opts: HecClientOptions) {
    this.base = new URL(opts.url);
    this.dispatcher = httpDispatcher({
      proxyUrl: opts.proxyUrl,
      rejectUnauthorized: opts.tlsVerify,
      ...(opts.ca ? { ca: withSystemRoots(opts.ca) } : {}),
    });
  }

  /** POSTs concatenated JSON events to `/services/collector/event` (gzipped when configured). */
  async postEvents(events: string): Promise<HecResponse> {
    return this.post(
      '/services/collector/event',
      this.opts.gzip ? await gzipAsync(events) : Buffer.from(events),
      this.opts.gzip,
    );
  }

  /**
   * Asks `/services/collector/ack` about `ackIds` every `pollMs` until all are true, `timeoutMs` passes or `signal`
   * aborts. Returns the ackIds never confirmed. A failed query is only reported: the next one may succeed.
   */
  async awaitAcks(
    ackIds: number[],
    o: { timeoutMs: number; pollMs: number; signal: AbortSignal; onError(err: unknown): void },
  ): Promise<number[]> {
    const deadline = Date.now() + o.timeoutMs;
    let waiting = ackIds;
    while (waiting.length && !o.signal.aborted && Date.now() < deadline) {
      await sleep(Math.min(o.pollMs, Math.max(0, deadline - Date.now())), undefined, { signal: o.signal }).catch(
        () => undefined,
      );
      if (o.signal.aborted) break;
      const res = await this.post(
        '/services/collector/ack',
        Buffer.from(JSON.stringify({ acks: waiting })),
        false,
      ).catch((err: unknown) => void o.onError(err));
      if (res && res.status !== 200) o.onError(new Error(`ack query answered ${res.status} ${res.reply.text ?? ''}`));
      const acks = res?.reply.acks ?? {};
      waiting = waiting.filter((id) => acks[String(id)] !== true);
    }
    return waiting;
  }

  /**
   * `GET /services/collector/health` (with the token, which Splunk then checks too: 400 for an invalid one): whether
   * HEC takes data now. For `alertbridge doctor`.
   */
  async health(): Promise<HecResponse> {
    const url = new URL(this.base.pathname.replace(/\/+$/, '') + '/services/collector/health', this.base);
    const ms = this.opts.timeoutMs;
    return this.read(
      await request(url, {
        method: 'GET',
        headers: { authorization: `Splunk ${this.token}` },
        dispatcher: this.dispatcher,
        headersTimeout: ms,
        bodyTimeout: ms,
      }),
    );
  }

  close(): void {
    void this.dispatcher.destroy().catch(() => undefined);
  }

  /** Rejects on network errors and timeouts only; every HTTP answer resolves. */
  private async post(path: string, body: Buffer, gzipped: boolean): Promise<HecResponse> {
    const url = new URL(this.base.pathname.replace(/\/+$/, '') + path, this.base);
    const cookie = [...this.cookies.values()].join('; ');
    const headers = {
      authorization: `Splunk ${this.token}`,
      'x-splunk-request-channel': this.opts.channel,
      'content-type': 'application/json',
      'content-length': String(body.length),
      ...(gzipped ? { 'content-encoding': 'gzip' } : {}),
      ...(cookie ? { cookie } : {}),
    };
    const ms = this.opts.timeoutMs;
    try {
      return await this.read(
        await request(url, {
          method: 'POST',
          headers,
          body,
          dispatcher: this.dispatcher,
          headersTimeout: ms,
          bodyTimeout: ms,
        }),
      );
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
        throw new Error(`no answer within ${ms} ms`, { cause: err });
      throw err;
    }
  }

  private async read(res: Dispatcher.ResponseData): Promise<HecResponse> {
    const setCookie = res.headers['set-cookie'];
    for (const c of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const pair = c.split(';', 1)[0]!.trim();
      const eq = pair.indexOf('=');
      if (eq > 0) this.cookies.set(pair.slice(0, eq), pair);
    }
    let text = '';
    for await (const chunk of res.body) if (text.length < MAX_REPLY_BYTES) text += String(chunk);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const reply: HecReply =
      typeof parsed === 'object' && parsed !== null
        ? parsed
        : { text: text.trim().slice(0, 200) || `HTTP ${res.statusCode}` };
    const retryAfter = res.headers['retry-after'];
    return { status: res.statusCode, reply, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter };
  }
}
