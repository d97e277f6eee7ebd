/**
 * The status page (`GET /status`, `GET /status.json`): who may see it (a token, or a loopback listen address without
 * one), and that what Redis holds — error messages from Graph, provider names, replica ids, sink reasons, all
 * untrusted — is shown as text, never as markup, including in a real browser (Debian's chromium, headless; skipped,
 * saying so, where it is absent).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { HealthReporter } from '../../src/health/reporter.js';
import { keysFor } from '../../src/pipeline/keys.js';
import { mountStatusPage } from '../../src/server/status-page.js';
import type { Heartbeat } from '../../src/pipeline/heartbeat.js';
import { STATUS_SCHEMA, type StatusReport } from '../../src/status/collect.js';
import { escapeHtml, renderHtml } from '../../src/status/html.js';
import { renderText } from '../../src/status/text.js';
import { freePort } from '../../src/util/redis-server.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { chromiumPath, dumpDom } from '../helpers/chromium.js';
import { silentLogger } from '../helpers/pipeline.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

const TENANT = '11111111-2222-4333-8444-555555555555';
const dir = mkdtempSync(join(tmpdir(), 'ab-status-page-'));
const prefixes: string[] = [];
let app: App | undefined;
const redis = new Redis(redisUrl());
afterEach(async () => {
  await app?.stop();
  app = undefined;
});
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(p);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

async function startApp(server: string, opts: { listen?: boolean } = {}): Promise<{ app: App; prefix: string }> {
  const prefix = uniquePrefix('status-page');
  prefixes.push(prefix);
  const res = parseConfig(
    `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: ${server}
sources:
  - name: contoso
    type: graph_security
    tenant_id: ${TENANT}
    client_id: app
    client_secret: not-used
    resources: [alerts]
sinks:
  - { name: out, type: file, path: /dev/null }
`,
    { baseDir: dir, env: {} },
  );
  if (!res.ok) throw new Error(res.errors.join('\n'));
  // Nothing consumes or polls: the page shows what the test writes to Redis.
  app = buildApp(res.config, {
    logger: silentLogger,
    consume: false,
    sinkOverrides: { out: new RecordingSink('out') },
  });
  await app.start({ listen: opts.listen ?? false });
  return { app, prefix };
}

const basic = (password: string) => `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`;

describe('status page access', () => {
  it('with server.status.token: 401 without it or with a wrong one; Bearer or Basic (a browser) pass', async () => {
    const { app } = await startApp('{ listen: "0.0.0.0:0", status: { token: s3cret-status } }');
    for (const url of ['/status', '/status.json']) {
      const none = await app.server.inject(url);
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Basic realm="alertbridge status"/);
      expect(none.json()).toEqual({ error: expect.stringContaining('missing credentials') });
      const wrong = await app.server.inject({ url, headers: { authorization: 'Bearer nope' } });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json()).toEqual({ error: 'invalid status token' });
      expect((await app.server.inject({ url, headers: { authorization: basic('nope') } })).statusCode).toBe(401);
    }
    const json = await app.server.inject({ url: '/status.json', headers: { authorization: 'Bearer s3cret-status' } });
    expect(json.statusCode).toBe(200);
    expect(json.json()).toMatchObject({
      schema: STATUS_SCHEMA,
      sources: [{ name: 'contoso' }],
      sinks: [{ name: 'out' }],
    });
    const html = await app.server.inject({ url: '/status', headers: { authorization: basic('s3cret-status') } });
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toMatch(/^text\/html/);
    expect(html.headers['cache-control']).toBe('no-store');
  });

  it('token_file: a rotated token applies without a restart', async () => {
    const file = join(dir, 'status-token');
    writeFileSync(file, 'first-token\n');
    const { app } = await startApp(`{ listen: "0.0.0.0:0", status: { token_file: ${file} } }`);
    const get = (t: string) =>
      app.server.inject({ url: '/status.json', headers: { authorization: `Bearer ${t}` } }).then((r) => r.statusCode);
    expect(await get('first-token')).toBe(200);
    writeFileSync(file, 'second-token\n');
    expect(await get('second-token')).toBe(200);
    expect(await get('first-token')).toBe(401);
  });

  it('without a token: 403 saying why when listening beyond loopback; served on a loopback address', async () => {
    let { app } = await startApp('{ listen: "0.0.0.0:0" }');
    const refused = await app.server.inject('/status');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toContain('needs server.status.token');
    await app.stop();
    ({ app } = await startApp('{ listen: "127.0.0.1:0" }'));
    expect((await app.server.inject('/status')).statusCode).toBe(200);
    expect((await app.server.inject('/status.json')).statusCode).toBe(200);
  });

  it('Redis failing: 503 saying why (the command connection bounds each read by redis.command_timeout_ms)', async () => {
    const server = Fastify();
    mountStatusPage(server, {
      enabled: true,
      listenHost: '127.0.0.1',
      collect: () => Promise.reject(new Error('Command timed out')),
    });
    for (const url of ['/status', '/status.json']) {
      const res = await server.inject(url);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: 'reading the status from Redis failed: Command timed out' });
    }
    await server.close();
  });

  it('enabled: false removes both routes', async () => {
    const { app } = await startApp('{ listen: "127.0.0.1:0", status: { enabled: false } }');
    expect((await app.server.inject('/status')).statusCode).toBe(404);
    expect((await app.server.inject('/status.json')).statusCode).toBe(404);
  });

  it('?refresh=N adds a reload within bounds; anything else is a 400 that says why', async () => {
    const { app } = await startApp('{ listen: "127.0.0.1:0" }');
    expect((await app.server.inject('/status?refresh=15')).body).toContain('<meta http-equiv="refresh" content="15">');
    expect((await app.server.inject('/status')).body).not.toContain('http-equiv="refresh"');
    const bad = await app.server.inject('/status?refresh=%3Cscript%3E');
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toMatch(/^application\/json/);
    expect(bad.json().error).toContain('refresh: expected whole seconds from 2 to 3600');
  });
});

const HOSTILE_ERROR = '<script>alert("error")</script> & more';
const HOSTILE_PROVIDER = '<img src=x onerror=alert(1)>';
const HOSTILE_REPLICA = '"><iframe src="https://evil.example/"></iframe>';
const HOSTILE_REASON = "</td><script>alert('reason')</script>";

/** What a compromised Graph, a peer or a hand-edited Redis could leave where the page reads. */
async function writeHostileState(prefix: string): Promise<void> {
  const keys = keysFor(prefix);
  await redis.hset(keys.cursor('contoso', 'alerts'), {
    watermark: '2026-01-01T00:00:00.0000000Z',
    last_started_at: String(Date.now()),
    failing_since: String(Date.now() - 1000),
    last_error: HOSTILE_ERROR,
    lagging: JSON.stringify({ [HOSTILE_PROVIDER]: '2025-12-31T00:00:00.0000000Z' }),
  });
  const hb: Heartbeat = {
    replica: HOSTILE_REPLICA,
    host: '<b>host</b>',
    pid: 1,
    started_at: new Date().toISOString(),
    at: new Date().toISOString(),
    sinks: { out: { ready: false, reason: HOSTILE_REASON } },
  };
  await redis.set(keys.replicaHeartbeat(HOSTILE_REPLICA), JSON.stringify(hb), 'PX', 60_000);
  await redis.zadd(keys.replicas, Date.now(), HOSTILE_REPLICA);
  // A provider gap as the real reporter records it, of a provider whose name and error are hostile.
  const reporter = new HealthReporter({ redis, keys, emit: async () => undefined, logger: silentLogger });
  await reporter.observe({ source: 'contoso', tenant_id: TENANT, resource: 'alerts' }, [
    {
      kind: 'provider_gap',
      subject: { source: 'contoso', tenant_id: TENANT, resource: 'alerts' },
      provider: HOSTILE_PROVIDER,
      message: `provider ${HOSTILE_PROVIDER} missing`,
      detail: { error: HOSTILE_ERROR },
    },
  ]);
}

describe('status page escaping', () => {
  it('shows hostile values from Redis as text: in the HTML, and the JSON keeps them verbatim', async () => {
    const { app, prefix } = await startApp('{ listen: "127.0.0.1:0" }');
    await writeHostileState(prefix);
    const html = (await app.server.inject('/status')).body;
    for (const hostile of [HOSTILE_ERROR, HOSTILE_PROVIDER, HOSTILE_REPLICA, HOSTILE_REASON, '<b>host</b>']) {
      expect(html).not.toContain(hostile);
      expect(html).toContain(escapeHtml(hostile));
    }
    expect(html).not.toMatch(/<(script|img|iframe)\b/i);
    const json = (await app.server.inject('/status.json')).json() as StatusReport;
    expect(json.sources[0]!.resources[0]).toMatchObject({
      state: 'failing',
      last_error: HOSTILE_ERROR,
      lagging_providers: { [HOSTILE_PROVIDER]: '2025-12-31T00:00:00.0000000Z' },
    });
    expect(json.sinks[0]).toMatchObject({ state: 'paused', reason: HOSTILE_REASON });
    expect(json.replicas.map((r) => r.id)).toEqual([HOSTILE_REPLICA]);
    // The health condition: listed with its subject and detail verbatim, and marked on its source's row, escaped.
    expect(json.active_conditions).toEqual([
      expect.objectContaining({
        kind: 'provider_gap',
        source: 'contoso',
        resource: 'alerts',
        provider: HOSTILE_PROVIDER,
        detail: { error: HOSTILE_ERROR },
      }),
    ]);
    expect(json.sources[0]!.conditions).toEqual(['provider_gap']);
    expect(json.sources[0]!.resources[0]!.conditions).toEqual(['provider_gap']);
    expect(json.sinks[0]!.conditions).toEqual([]);
    const row = /<tr data-condition="[^"]*">.*?<\/tr>/s.exec(html)?.[0] ?? '';
    expect(row).toContain(`<td data-field="kind">provider_gap</td>`);
    expect(row).toContain(escapeHtml(`contoso/alerts (${HOSTILE_PROVIDER})`));
    expect(row).toContain(escapeHtml(JSON.stringify({ error: HOSTILE_ERROR })));
    expect(html).toMatch(
      /<tr data-source="contoso" data-resource="alerts">.*?<td data-field="conditions" class="warn">⚠ provider_gap<\/td>/s,
    );
  });

  it('escapes a hostile source or sink name too (the renderer does not rely on config validation)', () => {
    const report: StatusReport = {
      schema: STATUS_SCHEMA,
      generated_at: '2026-12-03T05:00:00.000Z',
      key_prefix: '<i>p</i>',
      replicas: [],
      sources: [
        {
          name: '<script>alert("source")</script>',
          type: 'graph_security',
          resources: [
            {
              resource: '<u>alerts_v2</u>',
              state: 'ok',
              last_poll_at: null,
              last_poll_age_seconds: 3,
              watermark: '"onmouseover="x',
              lag_seconds: 12,
              failing_since: null,
              last_error: null,
              lagging_providers: {},
              polling: null,
              skips: 0,
              conditions: ['credentials_refused'],
            },
          ],
          budget: { used_last_minute: 7, limit_per_minute: 150 },
          write_back: { queued: 2, failed: 1 },
          partitions: [
            {
              partition: '<q>0',
              owner: '<x>',
              owner_live: false,
              owned_at: null,
              checkpoint_sequence_number: 5,
            },
          ],
          conditions: ['credentials_refused'],
        },
      ],
      sinks: [
        {
          name: "'><svg onload=alert(1)>",
          type: 'file',
          state: 'ready',
          reason: null,
          replicas: [],
          queue: { waiting: 0, active: 0, delayed: 0, prioritized: 0, failed: 0, total: 0 },
          oldest_queued_age_seconds: null,
          dead_letters: 0,
          conditions: [],
        },
      ],
      active_conditions: [
        {
          key: 'health:<script>/*/credentials_refused',
          kind: 'credentials_refused',
          severity: 'high',
          source: '<script>alert("source")</script>',
          tenant_id: TENANT,
          resource: '*',
          sink: null,
          provider: null,
          message: '<i>refused</i>',
          first_seen: '2026-12-03T04:00:00.000Z',
          last_seen: '2026-12-03T05:00:00.000Z',
          observations: 3,
          count: null,
          detail: null,
          last_detail: { error: '<svg onload=alert(2)>\u001b[2J' },
        },
      ],
    };
    const html = renderHtml(report);
    expect(html).not.toMatch(/<(script|svg|u|i|x|q)\b|onmouseover="/i);
    expect(html).toContain('&lt;script&gt;alert(&quot;source&quot;)&lt;/script&gt;');
    expect(html).toContain('&#39;&gt;&lt;svg onload=alert(1)&gt;');
    expect(html).toContain('<span data-field="write_back_queued">2</span>');
    expect(html).toContain('7 / 150');
    expect(html).toContain('<tr data-condition="health:&lt;script&gt;/*/credentials_refused">');
    // The terminal: control characters of a hostile error cannot drive the terminal.
    report.sources[0]!.resources[0]!.last_error = 'bad\u001b[2J\u001b]0;title\u0007 end';
    const text = renderText(report);
    expect([...text].filter((c) => c !== '\n' && c.charCodeAt(0) < 0x20)).toEqual([]);
    expect(text).toContain('bad [2J ]0;title  end');
    expect(text).toMatch(
      /^credentials_refused\s+high\s+<script>alert\("source"\)<\/script>\/\*\s+2026-12-03T04:00:00.000Z/m,
    );
  });

  it.skipIf(!chromiumPath())(
    'in headless chromium, with a token: refused without it, shown with Basic credentials',
    async () => {
      const port = await freePort();
      await startApp(`{ listen: "127.0.0.1:${port}", status: { token: br0wser-token } }`, { listen: true });
      // (A 401 with a Basic challenge: headless chromium has nobody to ask, and shows nothing of the page.)
      const refused = await dumpDom(`http://127.0.0.1:${port}/status`);
      expect(refused).not.toContain('<title>alertbridge status</title>');
      const shown = await dumpDom(`http://anyone:br0wser-token@127.0.0.1:${port}/status`);
      expect(shown).toContain('<title>alertbridge status</title>');
      expect(shown).toMatch(/<tr data-sink="out">/);
    },
    90_000,
  );

  it.skipIf(!chromiumPath())(
    'in headless chromium, hostile values stay text: no element comes from them',
    async () => {
      const port = await freePort();
      const { prefix } = await startApp(`{ listen: "127.0.0.1:${port}" }`, { listen: true });
      await writeHostileState(prefix);
      const dom = await dumpDom(`http://127.0.0.1:${port}/status`);
      expect(dom).toContain('<title>alertbridge status</title>');
      expect(dom).not.toMatch(/<(script|img|iframe)\b/i);
      expect(dom).toContain('&lt;script&gt;alert("error")&lt;/script&gt; &amp; more');
      expect(dom).toContain('&lt;img src=x onerror=alert(1)&gt;');
      const sinkRow = /<tr data-sink="out">.*?<\/tr>/s.exec(dom)?.[0] ?? '';
      expect(sinkRow).toContain('>paused</td>');
      expect(sinkRow).toContain('&lt;/td&gt;&lt;script&gt;');
    },
    90_000,
  );
});

if (!chromiumPath())
  console.warn(
    'status-page: the headless-browser check is SKIPPED: chromium is not installed (apt-get install -y chromium)',
  );
