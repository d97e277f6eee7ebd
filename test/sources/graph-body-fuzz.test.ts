/**
 * Fuzzed Graph page bodies against the real client and the normalizers: whatever comes back on a 200 — cut or
 * corrupted JSON, another content type (a proxy's HTML page), raw control characters, invalid UTF-8, huge strings,
 * JSON of any shape — each page either reads as an object whose items normalize (or are skipped with a reason), or
 * fails with a GraphRequestError naming the source and tenant. Nothing else is thrown, nothing crashes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TokenCredential } from '@azure/identity';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observability/metrics.js';
import { normalize } from '../../src/record/normalize.js';
import { RESOURCES } from '../../src/record/types.js';
import { RequestBudget } from '../../src/sources/graph/budget.js';
import { GraphClient, GraphRequestError } from '../../src/sources/graph/client.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

const TENANT = 'fafafafa-0000-4000-8000-000000000001';
const credential: TokenCredential = {
  getToken: () => Promise.resolve({ token: 't', expiresOnTimestamp: Date.now() + 3_600_000 }),
};
const CAP = 256 * 1024;

let next: { contentType?: string; body: Buffer } = { body: Buffer.alloc(0) };
const server = http.createServer((_req, res) => {
  res.writeHead(200, next.contentType ? { 'content-type': next.contentType } : {}).end(next.body);
});
let redis: Redis;
let client: GraphClient;
const prefix = uniquePrefix('body-fuzz');

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  redis = new Redis(redisUrl());
  client = new GraphClient({
    source: 'contoso',
    tenantId: TENANT,
    graphUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credential: () => credential,
    budget: new RequestBudget(redis, `${prefix}:budget`, 1_000_000),
    metrics: new Metrics(),
    logger: pino({ level: 'silent' }),
    timeoutMs: 10_000,
    maxRetries: 0,
    maxResponseBytes: CAP,
  });
});
afterAll(async () => {
  await client.close();
  server.close();
  await deletePrefix(prefix);
  redis.disconnect();
});

/** One page through the client, then its items through the normalizer of every resource, as the poller would. */
async function readPage(contentType: string | undefined, body: Buffer): Promise<'ok' | GraphRequestError> {
  next = { contentType, body };
  let page: Record<string, unknown>;
  try {
    page = (await client.get<Record<string, unknown>>('/security/alerts_v2?$top=10', 'alerts_v2')).body;
  } catch (err) {
    if (!(err instanceof GraphRequestError)) throw err;
    expect(err.message).toContain(`source 'contoso' (tenant ${TENANT})`);
    expect([...err.message].some((c) => c.charCodeAt(0) < 0x20)).toBe(false); // a body cannot forge log lines
    return err;
  }
  expect(typeof page === 'object' && page !== null && !Array.isArray(page)).toBe(true);
  const items: unknown[] = Array.isArray(page.value) ? page.value : [page.value];
  for (const resource of RESOURCES) {
    for (const item of items) {
      const r = normalize(resource, item, { source: 'contoso', via: 'poll', tenantId: TENANT, now: new Date() });
      if (!r.ok) expect(typeof r.reason).toBe('string');
    }
  }
  return 'ok';
}

const CONTENT_TYPES = [
  undefined,
  'application/json',
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8',
  'text/html; charset=utf-8',
  'text/plain',
  'application/problem+json',
  'application/octet-stream',
];
const alertLike = fc.record(
  {
    id: fc.oneof(fc.uuid(), fc.string(), fc.integer()),
    serviceSource: fc.oneof(
      fc.constantFrom('microsoftDefenderForEndpoint', 'microsoftDefenderForOffice365'),
      fc.string(),
    ),
    lastUpdateDateTime: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string(),
    ),
    createdDateTime: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.constant(null),
    ),
    severity: fc.oneof(fc.constantFrom('high', 'low', 'unknownFutureValue'), fc.string(), fc.integer()),
    title: fc.string({ unit: 'binary' }),
    vendorInformation: fc.oneof(fc.record({ provider: fc.string() }), fc.constant(null)),
  },
  { requiredKeys: [] },
);
const pageJson = fc.record(
  {
    value: fc.array(fc.oneof(alertLike, fc.jsonValue()), { maxLength: 8 }),
    '@odata.nextLink': fc.option(fc.webUrl(), { nil: undefined }),
  },
  { requiredKeys: ['value'] },
);
const bodies: fc.Arbitrary<Buffer> = fc.oneof(
  pageJson.map((p) => Buffer.from(JSON.stringify(p))),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')),
  // a valid page cut short or with one byte replaced (a connection dropped by a proxy, a corrupted body)
  fc.tuple(pageJson, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([p, at, byte]) => {
    const b = Buffer.from(JSON.stringify(p));
    const i = at % Math.max(1, b.length);
    return at % 2 ? b.subarray(0, i) : Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i + 1)]);
  }),
  // raw control characters inside a string value (invalid JSON) and escaped ones (valid)
  fc
    .string({ unit: fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c)), minLength: 1 })
    .chain((ctl) =>
      fc
        .constantFrom(`{"value":[{"id":"${ctl}","title":"x"}]}`, JSON.stringify({ value: [{ id: 'a', title: ctl }] }))
        .map((s) => Buffer.from(s)),
    ),
  fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)), // arbitrary bytes, invalid UTF-8 included
  fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
  fc.constant(Buffer.from('<html><body><h1>Proxy authentication required</h1></body></html>')),
  // huge strings around the cap: just under reads, over fails
  fc
    .integer({ min: CAP - 64 * 1024, max: CAP + 64 * 1024 })
    .map((n) => Buffer.from(`{"value":[{"id":"big","title":"${'y'.repeat(n)}"}]}`)),
);

describe('fuzzed Graph page bodies', () => {
  it('read as an object or fail with a GraphRequestError naming the source and tenant, never anything else', async () => {
    const outcomes = { ok: 0, failed: new Map<string, number>() };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...CONTENT_TYPES), bodies, async (contentType, body) => {
        const r = await readPage(contentType, body);
        if (r === 'ok') outcomes.ok++;
        else outcomes.failed.set(r.code, (outcomes.failed.get(r.code) ?? 0) + 1);
      }),
      { numRuns: 400, seed: 4242 },
    );
    // both kinds of outcome were exercised
    expect(outcomes.ok).toBeGreaterThan(20);
    expect(outcomes.failed.get('invalid_body')).toBeGreaterThan(20);
    expect(outcomes.failed.get('response_too_large')).toBeGreaterThan(0);
  }, 120_000);

  it('says what was wrong with a page, in one line', async () => {
    const where = `GET alerts_v2 for source 'contoso' (tenant ${TENANT}): Graph answered 200`;
    const html = await readPage(
      'text/html; charset=utf-8',
      Buffer.from('<html>\n<body>Access denied by policy</body></html>'),
    );
    expect(html).toBeInstanceOf(GraphRequestError);
    expect((html as Error).message).toBe(
      `${where} with content-type text/html, not JSON: <html>\\n<body>Access denied by policy</body></html>`,
    );
    const cut = await readPage('application/json', Buffer.from('{"value":[{"id":"a"'));
    expect((cut as Error).message).toMatch(
      new RegExp(`^${where.replace(/[()]/g, '\\$&')} with a body that is not valid JSON \\(.+\\)$`),
    );
    expect((cut as GraphRequestError).code).toBe('invalid_body');
    for (const [body, what] of [
      ['null', 'null'],
      ['[1,2]', 'array'],
      ['"text"', 'string'],
      ['42', 'number'],
    ]) {
      expect(((await readPage('application/json', Buffer.from(body!))) as Error).message).toBe(
        `${where} with a JSON ${what}, not an object`,
      );
    }
    expect(await readPage('application/json', Buffer.from(''))).toBe('ok'); // an empty 2xx body is `{}`
  });
});
