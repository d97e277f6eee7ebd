/**
 * The Graph client against real local HTTP servers: which links it follows with the source's bearer token, and how
 * it reads response bodies. "Graph" here is a plain HTTP server on loopback that answers what each test asks; a
 * second server on another port stands for a foreign origin and counts every TCP connection it receives.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { TokenCredential } from '@azure/identity';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observability/metrics.js';
import { RequestBudget } from '../../src/sources/graph/budget.js';
import {
  GraphClient,
  GraphRequestError,
  ResponseTooLargeError,
  UntrustedLinkError,
} from '../../src/sources/graph/client.js';
import { metricValue } from '../helpers/pipeline.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

const TENANT = 'cccccccc-0000-4000-8000-000000000003';
/** A fixed token: the credential is not what these tests are about (graph-auth.test.ts covers it). */
const credential: TokenCredential = {
  getToken: () => Promise.resolve({ token: 'secret-access-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Counting {
  url: string;
  /** TCP connections accepted (a request needs one; a refused link must not even connect). */
  connections: number;
  requests: Array<{ url: string; authorization?: string }>;
  handler: Handler;
  close(): Promise<void>;
}

async function countingServer(): Promise<Counting> {
  const state: Counting = {
    url: '',
    connections: 0,
    requests: [],
    handler: (_req, res) => res.writeHead(404).end(),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    state.requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    state.handler(req, res);
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

/** A raw TCP listener: counts connections without speaking HTTP at all. */
async function countingListener(): Promise<{ port: number; connections: number; close(): Promise<void> }> {
  const state = { port: 0, connections: 0, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  return state;
}

const json =
  (body: unknown, status = 200): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

let redis: Redis;
const prefix = uniquePrefix('graph-client');
let graph: Counting;
let foreign: Counting;
const clients: GraphClient[] = [];

beforeAll(async () => {
  redis = new Redis(redisUrl());
  graph = await countingServer();
  foreign = await countingServer();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  graph.requests.length = 0;
  foreign.requests.length = 0;
  foreign.connections = 0;
});
afterAll(async () => {
  await graph.close();
  await foreign.close();
  await deletePrefix(prefix);
  redis.disconnect();
});

function client(
  opts: { graphUrl?: string; metrics?: Metrics; maxResponseBytes?: number; budgetKey?: string } = {},
): GraphClient {
  const c = new GraphClient({
    source: 'contoso',
    tenantId: TENANT,
    graphUrl: opts.graphUrl ?? graph.url,
    credential: () => credential,
    budget: new RequestBudget(redis, opts.budgetKey ?? `${prefix}:budget`, 10_000),
    metrics: opts.metrics ?? new Metrics(),
    logger: pino({ level: 'silent' }),
    timeoutMs: 10_000,
    maxRetries: 0,
    maxResponseBytes: opts.maxResponseBytes ?? 1024 * 1024,
  });
  clients.push(c);
  return c;
}

describe('links the client follows with the bearer token', () => {
  it('follows a nextLink on the configured origin and API version', async () => {
    graph.handler = json({ value: [{ id: 'a' }] });
    const res = await client().get(`${graph.url}/v1.0/security/alerts_v2?$skiptoken=abc`, 'alerts_v2');
    expect(res.body).toEqual({ value: [{ id: 'a' }] });
    expect(graph.requests).toEqual([
      { url: '/v1.0/security/alerts_v2?$skiptoken=abc', authorization: 'Bearer secret-access-token' },
    ]);
  });

  it('refuses a nextLink to another origin without connecting to it, and counts it', async () => {
    const metrics = new Metrics();
    const c = client({ metrics });
    const port = new URL(foreign.url).port;
    const links = [
      `${foreign.url}/v1.0/security/alerts_v2?$skiptoken=abc`, // another port: another origin
      `http://localhost:${new URL(graph.url).port}/v1.0/security/alerts_v2`, // another host name for the same server
      `https://127.0.0.1:${new URL(graph.url).port}/v1.0/security/alerts_v2`, // another scheme
      `http://127.0.0.1:${port}@127.0.0.1:${port}/v1.0/security/alerts_v2`, // userinfo dressed as the host
      `${graph.url}@127.0.0.1:${port}/v1.0/security/alerts_v2`,
      `http:\\\\127.0.0.1:${port}/v1.0/security/alerts_v2`,
    ];
    foreign.handler = json({ value: [{ id: 'planted' }] });
    const errors: unknown[] = [];
    for (const link of links)
      errors.push(
        await c.get(link, 'alerts_v2').then(
          () => null,
          (e: unknown) => e,
        ),
      );
    expect(foreign.requests).toEqual([]);
    expect(foreign.connections).toBe(0);
    expect(graph.requests).toEqual([]); // nor was the link sent to Graph's own origin under another name
    errors.forEach((err, i) => {
      expect(err, links[i]).toBeInstanceOf(UntrustedLinkError);
      expect(err).toBeInstanceOf(GraphRequestError);
      const message = (err as Error).message;
      expect(message).toContain("source 'contoso'");
      expect(message).toContain(`tenant ${TENANT}`);
      expect(message).toContain(`not the configured graph_url ${graph.url}`);
      expect(message).not.toContain('secret-access-token');
      expect((err as GraphRequestError).code).toBe('untrusted_link');
    });
    expect(
      await metricValue(metrics, 'alertbridge_graph_untrusted_link_total', {
        source: 'contoso',
        resource: 'alerts_v2',
      }),
    ).toBe(links.length);
  });

  it('never sends the token to a foreign https origin either (not even a TLS handshake)', async () => {
    const listener = await countingListener();
    try {
      const err = await client()
        .get(`https://127.0.0.1:${listener.port}/v1.0/security/incidents`, 'incidents')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UntrustedLinkError);
      expect(listener.connections).toBe(0);
    } finally {
      await listener.close();
    }
  });

  it("refuses a link into another API version or outside graph_url's path on the same origin", async () => {
    graph.handler = json({ value: [] });
    const c = client();
    const withUser = `http://user:pw@${graph.url.slice('http://'.length)}/v1.0/security/alerts_v2`;
    expect(((await c.get(withUser, 'alerts_v2').catch((e: unknown) => e)) as Error).message).toContain(
      'carries user credentials',
    );
    for (const link of [
      `${graph.url}/beta/security/alerts_v2`,
      `${graph.url}/v1.0/../beta/security/alerts_v2`,
      `${graph.url}/v1.0%2F..%2Fbeta/x`,
      `${graph.url}/other`,
    ]) {
      const err = await c.get(link, 'alerts_v2').catch((e: unknown) => e);
      expect(err, link).toBeInstanceOf(UntrustedLinkError);
      expect((err as Error).message).toContain('/v1.0/');
    }
    expect(graph.requests).toEqual([]);
    // graph_url with a path (a gateway in front of Graph): links must stay under it
    const gateway = client({ graphUrl: `${graph.url}/graph-gw/` });
    await gateway.get(`${graph.url}/graph-gw/v1.0/security/alerts_v2?$skiptoken=x`, 'alerts_v2');
    expect(graph.requests.map((r) => r.url)).toEqual(['/graph-gw/v1.0/security/alerts_v2?$skiptoken=x']);
    expect(
      await gateway.get(`${graph.url}/v1.0/security/alerts_v2`, 'alerts_v2').catch((e: unknown) => e),
    ).toBeInstanceOf(UntrustedLinkError);
    expect(graph.requests).toHaveLength(1);
  });
});

describe('response bodies over max_response_bytes', () => {
  const MiB = 1024 * 1024;

  it('stops before reading a body whose Content-Length is over the cap', async () => {
    let finished = false;
    graph.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(120 * MiB) });
      res.write('{"value":[');
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      let left = 120 * 4;
      const pump = (): void => {
        while (left > 0 && !res.destroyed) {
          left--;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (left === 0) finished = true;
      };
      pump();
    };
    const err = await client()
      .get('/security/alerts_v2?$top=500', 'alerts_v2')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseTooLargeError);
    expect(err).toMatchObject({ code: 'response_too_large', limit: MiB, top: 500 });
    expect((err as Error).message).toBe(
      `GET alerts_v2 for source 'contoso' (tenant ${TENANT}): the response is larger than max_response_bytes (${MiB}; Content-Length ${120 * MiB}) at $top=500; reading stopped there`,
    );
    expect(finished).toBe(false);
    expect(graph.requests).toHaveLength(1); // not retried: the same request brings the same page
  });

  it('abandons a chunked body as soon as it passes the cap, instead of buffering it whole', async () => {
    let written = 0;
    let finished = false;
    const closed = new Promise<void>((resolve) => {
      graph.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }); // no Content-Length: chunked
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = (): void => {
          while (written < 120 * MiB && !res.destroyed) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          if (written >= 120 * MiB) finished = true;
        };
        res.on('close', () => resolve());
        pump();
      };
    });
    const metrics = new Metrics();
    const err = await client({ metrics })
      .get('/security/incidents?$top=50', 'incidents')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseTooLargeError);
    expect((err as Error).message).toContain(
      `larger than max_response_bytes (${MiB}; more than ${MiB} bytes read) at $top=50`,
    );
    await closed;
    expect(finished).toBe(false);
    expect(written).toBeLessThan(120 * MiB);
    expect(
      await metricValue(metrics, 'alertbridge_graph_requests_total', {
        source: 'contoso',
        resource: 'incidents',
        code: 'too_large',
      }),
    ).toBe(1);
  });

  /** A page of `$top` objects of 200 KiB each, with a nextLink that keeps the `$top` (as Graph's do). */
  const bigObjects =
    (objectBytes: number): Handler =>
    (req, res) => {
      const url = new URL(req.url ?? '/', graph.url);
      const top = Number(url.searchParams.get('$top'));
      const value = Array.from({ length: top }, (_, i) => ({ id: `a${i}`, blob: 'x'.repeat(objectBytes) }));
      json({ value, '@odata.nextLink': `${graph.url}/v1.0/security/alerts_v2?$top=${top}&$skiptoken=next` })(req, res);
    };

  it('getPage asks again with half the $top until the page fits, keeping the rest of the link', async () => {
    graph.handler = bigObjects(200 * 1024);
    const res = await client().getPage<{ value: unknown[]; '@odata.nextLink': string }>(
      `${graph.url}/v1.0/security/alerts_v2?$filter=x%20ge%201&$top=16&$skiptoken=abc`,
      'alerts_v2',
    );
    expect(graph.requests.map((r) => r.url)).toEqual(
      [16, 8, 4].map((top) => `/v1.0/security/alerts_v2?$filter=x%20ge%201&$top=${top}&$skiptoken=abc`),
    );
    expect(res.body.value).toHaveLength(4);
    expect(res.body['@odata.nextLink']).toContain('$top=4&');
  });

  it('getPage fails with ResponseTooLargeError when one object alone is over the cap', async () => {
    graph.handler = bigObjects(2 * MiB);
    const err = await client()
      .getPage('/security/alerts_v2?$top=4', 'alerts_v2')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseTooLargeError);
    expect(err).toMatchObject({ top: 1 });
    expect(graph.requests.map((r) => new URL(r.url, graph.url).searchParams.get('$top'))).toEqual(['4', '2', '1']);
  });
});

describe('the budget slot of a request', () => {
  it('is held until the answer is back, and kept whole for a request that got no answer (it may still arrive)', async () => {
    const key = `${prefix}:budget:hold`;
    const c = client({ budgetKey: key });
    const scores = async () =>
      (await redis.zrange(key, '0', '-1', 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number);
    graph.handler = json({ value: [] });
    await c.get('/security/alerts_v2', 'alerts_v2');
    // Answered: the slot counts from its release, not from its hold's end (twice the 10 s timeout + 5 s ahead).
    const [answered] = await scores();
    expect(answered).toBeLessThanOrEqual(Date.now());
    // The connection is lost once the request is in: Graph may have counted it, or may yet.
    graph.handler = (req) => req.socket.destroy();
    await expect(c.get('/security/alerts_v2', 'alerts_v2')).rejects.toThrow(GraphRequestError);
    const all = await scores();
    expect(all).toHaveLength(2);
    expect(Math.max(...all)).toBeGreaterThan(Date.now() + 10_000);
  });
});
