/**
 * A Splunk HTTP Event Collector peer for tests and benches: real HTTP(S) on loopback, Splunk's endpoints, status
 * codes and JSON bodies, indexer acknowledgement per channel, and injectable faults (busy, lost acks, size limit,
 * invalid events, bad or disabled tokens). It records what it indexed so tests assert on the far end, not on the
 * sink. See README.md beside this file.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { seededRandom } from '../../helpers/random.js';

const gunzipAsync = promisify(gunzip);

/** One HEC event as the sink sent it (`/event`), or a line of `/raw`. */
export interface HecEvent {
  time?: number;
  host?: string;
  source?: string;
  sourcetype?: string;
  index?: string;
  event?: unknown;
  fields?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface IndexedEvent {
  endpoint: 'event' | 'raw';
  /** The parsed event (`/event`), or `{ event: line }` for `/raw`. */
  event: HecEvent;
  channel: string | undefined;
  /** The ackId of the request that carried it (acks on), undefined otherwise or when the request failed part-way. */
  ackId: number | undefined;
  /** True when this request's ack was chosen to be lost (it never turns true). */
  ackLost: boolean;
}

export interface HecRequestLog {
  path: string;
  status: number;
  code: number | undefined;
  /** Body bytes as received (compressed when gzip). */
  bytes: number;
  gzip: boolean;
  /** Events parsed from the body (0 when refused before parsing). */
  events: number;
  channel: string | undefined;
}

export interface HecFaults {
  /** Valid tokens (`Authorization: Splunk <token>`). @defaultValue ['test-token'] */
  tokens: string[];
  /** Tokens that exist but are disabled: 403, code 1. */
  disabledTokens: string[];
  /** Indexer acknowledgement on the tokens (`useACK`): channel required, ackIds returned. @defaultValue true */
  ack: boolean;
  /** How long after its request an ack turns true (read when asked, so lowering it releases pending acks). @defaultValue 0 */
  ackDelayMs: number;
  /** Fraction of requests whose ack never turns true (their events are still indexed). @defaultValue 0 */
  ackLossRate: number;
  /** Fraction of `/event` and `/raw` requests answered 503, code 9 "Server is busy". @defaultValue 0 */
  busyRate: number;
  /** `Retry-After` sent with the 503s (seconds), when set. */
  busyRetryAfter: string | undefined;
  /** Largest request body in bytes as received (Splunk's `max_content_length`): larger → 413. @defaultValue Infinity */
  maxContentLength: number;
  /** Events for which this is true are refused: 400, code 6 with `invalid-event-number`. */
  invalidEvent: (event: HecEvent) => boolean;
  /** Indexes that exist; an event naming another → 400, code 7. Undefined: every index exists. */
  indexes: string[] | undefined;
  /**
   * Not Splunk: a proxy or WAF in front of HEC that refuses any `/event` request holding an event for which this
   * is true, with a bare 400 HTML page (no HEC code, no `invalid-event-number`); nothing of that request is indexed.
   */
  proxyRefusal: (event: HecEvent) => boolean;
  /**
   * Not Splunk: a proxy in front of HEC (a captive portal, a maintenance or login page) that answers every `/event`
   * request with 200 and an HTML page, so no ackId; nothing is indexed. @defaultValue false
   */
  proxyHtmlOk: boolean;
}

export interface HecPeerOptions extends Partial<HecFaults> {
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  /** Seed of the fault dice, so a run can be repeated. @defaultValue 1 */
  seed?: number;
}

export interface HecPeer {
  /** Base URL, e.g. `http://127.0.0.1:PORT` (what a sink's `url` takes). */
  url: string;
  /** Everything indexed, in arrival order (duplicates included). */
  indexed: IndexedEvent[];
  /** Every request to the collector endpoints, in arrival order. */
  requests: HecRequestLog[];
  /** The current faults (read-only view; change them with setFaults). */
  faults(): Readonly<HecFaults>;
  setFaults(faults: Partial<HecFaults>): void;
  /** True when this event's request has been acknowledged (ack turned true). */
  acknowledged(entry: IndexedEvent): boolean;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
  /** A body that is not HEC's JSON (a proxy's page), sent as text/html instead of `body`. */
  html?: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const hec = (status: number, code: number, text: string, extra: Record<string, unknown> = {}): Reply => ({
  status,
  body: { text, code, ...extra },
});

/** Splunk's answers, by HEC code. */
const R = {
  tokenDisabled: () => hec(403, 1, 'Token disabled'),
  tokenRequired: () => hec(401, 2, 'Token is required'),
  invalidAuthorization: () => hec(401, 3, 'Invalid authorization'),
  invalidToken: () => hec(403, 4, 'Invalid token'),
  noData: () => hec(400, 5, 'No data'),
  invalidFormat: (n: number) => hec(400, 6, 'Invalid data format', { 'invalid-event-number': n }),
  incorrectIndex: (n: number) => hec(400, 7, 'Incorrect index', { 'invalid-event-number': n }),
  busy: () => hec(503, 9, 'Server is busy'),
  channelMissing: () => hec(400, 10, 'Data channel is missing'),
  invalidChannel: () => hec(400, 11, 'Invalid data channel'),
  eventRequired: (n: number) => hec(400, 12, 'Event field is required', { 'invalid-event-number': n }),
  eventBlank: (n: number) => hec(400, 13, 'Event field cannot be blank', { 'invalid-event-number': n }),
  ackDisabled: () => hec(400, 14, 'ACK is disabled'),
  queryAuth: () => hec(400, 16, 'Query string authorization is not enabled'),
};

/**
 * Splits a body of concatenated JSON objects (HEC's format: `{…}{…}` or one per line). Returns the parsed objects
 * and, when one is malformed, its position (HEC answers code 6 with that `invalid-event-number`).
 */
export function splitConcatenatedJson(text: string): { events: unknown[]; badAt?: number } {
  const events: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    if (text[i] !== '{') return { events, badAt: events.length };
    let depth = 0;
    let inString = false;
    let j = i;
    for (; j < text.length; j++) {
      const ch = text[j];
      if (inString) {
        if (ch === '\\') j++;
        else if (ch === '"') inString = false;
      } else if (ch === '"') inString = true;
      else if (ch === '{' || ch === '[') depth++;
      else if ((ch === '}' || ch === ']') && --depth === 0) break;
    }
    try {
      events.push(JSON.parse(text.slice(i, j + 1)));
    } catch {
      return { events, badAt: events.length };
    }
    i = j + 1;
  }
  return { events };
}

export async function startHecPeer(opts: HecPeerOptions = {}): Promise<HecPeer> {
  const { tls, seed, ...faultOpts } = opts;
  const faults: HecFaults = {
    tokens: ['test-token'],
    disabledTokens: [],
    ack: true,
    ackDelayMs: 0,
    ackLossRate: 0,
    busyRate: 0,
    busyRetryAfter: undefined,
    maxContentLength: Number.POSITIVE_INFINITY,
    invalidEvent: () => false,
    indexes: undefined,
    proxyRefusal: () => false,
    proxyHtmlOk: false,
    ...faultOpts,
  };
  const random = seededRandom(seed ?? 1);
  const indexed: IndexedEvent[] = [];
  const requests: HecRequestLog[] = [];
  /** Per channel: next ackId, and for each pending ackId when its request was indexed (Infinity = ack lost). */
  const channels = new Map<string, { next: number; pending: Map<number, number> }>();
  const channelState = (id: string) => {
    let c = channels.get(id);
    if (!c) channels.set(id, (c = { next: 0, pending: new Map() }));
    return c;
  };
  const isReady = (indexedAt: number | undefined): boolean =>
    indexedAt !== undefined && indexedAt + faults.ackDelayMs <= Date.now();

  const authorize = (req: IncomingMessage, url: URL): Reply | undefined => {
    if (url.searchParams.has('token')) return R.queryAuth();
    const header = req.headers.authorization;
    if (header === undefined) return R.tokenRequired();
    const match = /^Splunk\s+(\S+)$/.exec(header);
    if (!match) return R.invalidAuthorization();
    if (faults.disabledTokens.includes(match[1]!)) return R.tokenDisabled();
    if (!faults.tokens.includes(match[1]!)) return R.invalidToken();
    return undefined;
  };

  const channelOf = (req: IncomingMessage, url: URL): string | undefined =>
    (req.headers['x-splunk-request-channel'] as string | undefined) ?? url.searchParams.get('channel') ?? undefined;

  /** Validates events in order; indexes those before the first bad one (as Splunk does) and reports it. */
  const ingest = (endpoint: 'event' | 'raw', events: HecEvent[], channel: string | undefined): Reply => {
    const ackId = faults.ack && channel ? channelState(channel).next : undefined;
    const accepted: HecEvent[] = [];
    let refusal: Reply | undefined;
    for (const [n, e] of events.entries()) {
      if (endpoint === 'event') {
        if (!('event' in e) || e.event === undefined || e.event === null) refusal = R.eventRequired(n);
        else if (e.event === '') refusal = R.eventBlank(n);
        else if (e.index !== undefined && faults.indexes && !faults.indexes.includes(e.index))
          refusal = R.incorrectIndex(n);
        else if (faults.invalidEvent(e)) refusal = R.invalidFormat(n);
      }
      if (refusal) break;
      accepted.push(e);
    }
    if (refusal) {
      for (const event of accepted) indexed.push({ endpoint, event, channel, ackId: undefined, ackLost: false });
      return refusal;
    }
    if (ackId === undefined || channel === undefined) {
      for (const event of accepted) indexed.push({ endpoint, event, channel, ackId: undefined, ackLost: false });
      return hec(200, 0, 'Success');
    }
    const state = channelState(channel);
    state.next++;
    const lost = random() < faults.ackLossRate;
    state.pending.set(ackId, lost ? Number.POSITIVE_INFINITY : Date.now());
    for (const event of accepted) indexed.push({ endpoint, event, channel, ackId, ackLost: lost });
    return hec(200, 0, 'Success', { ackId });
  };

  const handle = async (req: IncomingMessage, body: Buffer): Promise<Reply & { log?: Partial<HecRequestLog> }> => {
    const url = new URL(req.url ?? '/', 'http://peer');
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/services/collector/health') return hec(200, 17, 'HEC is healthy');
    const endpoint =
      path === '/services/collector/event' || path === '/services/collector'
        ? 'event'
        : path === '/services/collector/raw'
          ? 'raw'
          : path === '/services/collector/ack'
            ? 'ack'
            : undefined;
    if (!endpoint) return { status: 404, body: { text: 'The requested URL was not found on this server.', code: 404 } };
    const refused = authorize(req, url);
    if (refused) return refused;
    const channel = channelOf(req, url);
    if (channel !== undefined && !GUID.test(channel)) return R.invalidChannel();

    let text: string;
    try {
      text = (req.headers['content-encoding'] === 'gzip' ? await gunzipAsync(body) : body).toString('utf8');
    } catch {
      return hec(400, 6, 'Invalid data format');
    }

    if (endpoint === 'ack') {
      if (!faults.ack) return R.ackDisabled();
      if (channel === undefined) return R.channelMissing();
      const state = channelState(channel);
      let ids: unknown;
      try {
        ids = (JSON.parse(text) as { acks?: unknown }).acks;
      } catch {
        return R.invalidFormat(0);
      }
      if (!Array.isArray(ids)) return R.invalidFormat(0);
      const acks: Record<string, boolean> = {};
      for (const id of ids as number[]) {
        const ready = isReady(state.pending.get(id));
        acks[String(id)] = ready;
        if (ready) state.pending.delete(id); // Splunk forgets an ack once it has reported it
      }
      return { status: 200, body: { acks } };
    }

    if (body.length > faults.maxContentLength) {
      return {
        status: 413,
        body: { text: `Content-Length of ${body.length} too large (maximum is ${faults.maxContentLength})` },
      };
    }
    if (faults.busyRate > 0 && random() < faults.busyRate) {
      const reply = R.busy();
      return faults.busyRetryAfter ? { ...reply, headers: { 'retry-after': faults.busyRetryAfter } } : reply;
    }
    if (faults.ack && channel === undefined) return R.channelMissing();
    if (text.trim() === '') return R.noData();
    if (endpoint === 'raw') {
      const lines = text.split('\n').filter((l) => l.trim() !== '');
      const meta = Object.fromEntries(
        ['host', 'source', 'sourcetype', 'index'].flatMap((k) =>
          url.searchParams.has(k) ? [[k, url.searchParams.get(k)]] : [],
        ),
      );
      return {
        ...ingest(
          'raw',
          lines.map((line) => ({ ...meta, event: line })),
          channel,
        ),
        log: { events: lines.length },
      };
    }
    const { events, badAt } = splitConcatenatedJson(text);
    if (badAt !== undefined) {
      for (const event of events)
        indexed.push({ endpoint, event: event as HecEvent, channel, ackId: undefined, ackLost: false });
      return { ...R.invalidFormat(badAt), log: { events: events.length + 1 } };
    }
    const notObject = events.findIndex((e) => typeof e !== 'object' || e === null || Array.isArray(e));
    if (notObject >= 0) return { ...R.invalidFormat(notObject), log: { events: events.length } };
    if (faults.proxyHtmlOk) {
      return {
        status: 200,
        body: {},
        html: '<html><body><h1>Welcome</h1>Please sign in to continue.</body></html>',
        log: { events: events.length },
      };
    }
    if ((events as HecEvent[]).some((e) => faults.proxyRefusal(e))) {
      return {
        status: 400,
        body: {},
        html: '<html><body><h1>400 Bad Request</h1>Request blocked by policy.</body></html>',
        log: { events: events.length },
      };
    }
    return { ...ingest('event', events as HecEvent[], channel), log: { events: events.length } };
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      handle(req, body).then(
        (reply) => {
          const path = new URL(req.url ?? '/', 'http://peer').pathname;
          if (path !== '/services/collector/health') {
            requests.push({
              path,
              status: reply.status,
              code: reply.body.code as number | undefined,
              bytes: body.length,
              gzip: req.headers['content-encoding'] === 'gzip',
              events: 0,
              channel: req.headers['x-splunk-request-channel'] as string | undefined,
              ...reply.log,
            });
          }
          res.writeHead(reply.status, {
            'content-type': reply.html === undefined ? 'application/json' : 'text/html',
            ...reply.headers,
          });
          res.end(reply.html ?? JSON.stringify(reply.body));
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ text: `Internal server error: ${String(err)}`, code: 8 }));
        },
      );
    });
  };

  const server: Server = tls
    ? createHttpsServer({ key: tls.key, cert: tls.cert }, onRequest)
    : createHttpServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    indexed,
    requests,
    faults: () => faults,
    setFaults: (f) => Object.assign(faults, f),
    acknowledged(entry) {
      if (entry.ackId === undefined || entry.channel === undefined || entry.ackLost) return false;
      const pending = channels.get(entry.channel)?.pending;
      // Reported (and forgotten) acks are gone from `pending`; the others are acknowledged once their delay passed.
      return !pending?.has(entry.ackId) || isReady(pending.get(entry.ackId));
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
