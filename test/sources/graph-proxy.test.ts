/**
 * A graph_security source behind an outbound proxy: the token request and the Graph requests both go through CONNECT
 * tunnels (its own `proxy_url`, or HTTPS_PROXY / NO_PROXY), TLS stays verified end to end with the source's CA,
 * and the proxy's password never reaches a log line. The authority is addressed as `localhost` and Graph as
 * `127.0.0.1` (one simulator, two names) so that the proxy can tell the two kinds of tunnel apart.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.js';
import { captureLogger, graphSourceConfig, pollNow, simulatorHooks } from '../helpers/graph.js';
import { parseConfig, redactSecrets } from '../../src/config/load.js';
import type { GraphSourceConfig } from '../../src/config/schema.js';

const A: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-0000000000a1',
  clientId: 'app-proxy',
  clientSecret: 'secret-proxy',
};
const sim: Simulator = await startSimulator({ tenants: [A], seed: 21, hostnames: ['localhost'] });
const harness = simulatorHooks(sim);
const port = new URL(sim.url).port;
const GRAPH = `127.0.0.1:${port}`;
const AUTHORITY = `localhost:${port}`;
const PASSWORD = 's3cr:et@pw';
let proxy: ConnectProxy | undefined;
const env = { HTTPS_PROXY: process.env.HTTPS_PROXY, NO_PROXY: process.env.NO_PROXY };

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

function config(extra = ''): GraphSourceConfig {
  const cfg = graphSourceConfig(sim, { name: 'proxied', ...A, extra });
  return { ...cfg, authority_url: `https://${AUTHORITY}` };
}

describe('graph_security behind a proxy', () => {
  it('sends the token request and every Graph request through proxy_url, with its credentials', async () => {
    const h = await harness();
    for (let i = 0; i < 30; i++) sim.create(A.tenantId, 'alerts_v2');
    proxy = await startConnectProxy({ auth: `alice:${PASSWORD}` });
    const proxyUrl = `http://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${proxy.port}`;
    const src = h.source(config(`    page_size: 10\n    proxy_url: "${proxyUrl}"`));
    const summary = await pollNow(src.pollers[0]!);
    expect(summary).toMatchObject({ fetched: 30, accepted: 30 });
    expect(proxy.opened(AUTHORITY)).toBeGreaterThanOrEqual(1);
    expect(proxy.opened(GRAPH)).toBeGreaterThanOrEqual(1);
    expect(proxy.tunnels.every((t) => t.allowed && (t.target === AUTHORITY || t.target === GRAPH))).toBe(true);
    // the simulator saw the token request and the pages, all through the tunnels (the proxy saw no plain text)
    expect(sim.requestLog.filter((e) => e.resource === 'token').length).toBeGreaterThanOrEqual(1);
    expect(sim.requestLog.filter((e) => e.resource === 'alerts_v2').length).toBeGreaterThanOrEqual(3);
  });

  it('fails the poll with a clear error when the proxy refuses the credentials, and logs no password', async () => {
    const h = await harness();
    proxy = await startConnectProxy({ auth: `alice:${PASSWORD}` });
    const { logger, lines } = captureLogger();
    const wrong = 'wr0ng-pa55';
    const src = h.source(config(`    proxy_url: "http://alice:${wrong}@127.0.0.1:${proxy.port}"`), logger);
    expect(await pollNow(src.pollers[0]!)).toBeNull();
    expect(proxy.tunnels.length).toBeGreaterThanOrEqual(1);
    expect(proxy.tunnels.every((t) => !t.allowed)).toBe(true);
    const failed = lines.find((l) => l.level === 50)!;
    expect(String(failed.err)).toMatch(/getting a token for source 'proxied' \(tenant [^)]+\) failed: .*407/);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(PASSWORD);
  });

  it('follows HTTPS_PROXY and NO_PROXY from the environment when the source has no proxy_url', async () => {
    const h = await harness();
    for (let i = 0; i < 5; i++) sim.create(A.tenantId, 'incidents');
    proxy = await startConnectProxy();
    process.env.HTTPS_PROXY = proxy.url;
    process.env.NO_PROXY = 'localhost';
    const src = h.source({ ...config(), resources: ['incidents'] });
    const summary = await pollNow(src.pollers[0]!);
    expect(summary!.fetched).toBeGreaterThanOrEqual(5);
    expect(proxy.opened(GRAPH)).toBeGreaterThanOrEqual(1);
    expect(proxy.opened(AUTHORITY)).toBe(0); // NO_PROXY: the token endpoint is reached directly
  });

  it('refuses a proxy_url that is not an http(s) URL at validation, and redacts it when a config is printed', () => {
    const yaml = (url: string) => `
sources:
  - { name: s, type: graph_security, tenant_id: ${A.tenantId}, client_id: c, client_secret: x, proxy_url: "${url}" }
sinks:
  - { name: out, type: file, path: /dev/null }
`;
    const bad = parseConfig(yaml('proxy.example.com:3128'), { baseDir: '/', env: {} });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.errors).toEqual([
      'sources[0].proxy_url: must be an http:// or https:// URL, e.g. http://proxy.example.com:3128',
    ]);
    const good = parseConfig(yaml('http://u:pw-in-url@proxy.example.com:3128'), { baseDir: '/', env: {} });
    expect(good.ok).toBe(true);
    if (!good.ok) return;
    expect(good.config.sources[0]).toMatchObject({ proxy_url: 'http://u:pw-in-url@proxy.example.com:3128' });
    expect(JSON.stringify(redactSecrets(good.config))).not.toContain('pw-in-url');
    let logged = '';
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logged += chunk.toString();
        cb();
      },
    });
    createLogger({ format: 'json', destination }).info({ config: good.config }, 'config');
    expect(logged).toContain('"proxy_url":"[redacted]"');
    expect(logged).not.toContain('pw-in-url');
  });
});
