/**
 * azure_event_hubs behind an outbound proxy: with `proxy_url` (or `transport: websocket` and HTTPS_PROXY) the sink
 * speaks AMQP over WebSockets through a CONNECT tunnel, TLS to the namespace still verified (against the peer's
 * local CA); NO_PROXY exempts the namespace; a proxy refusing the tunnel keeps records queued and never shows the
 * proxy's password. The peer is the project's Event Hubs peer listening for AMQP over WebSockets in TLS.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, redactSecrets } from '../../src/config/load.js';
import { classify } from '../../src/pipeline/retry.js';
import { startSimulator } from '../../src/simulator/server.js';
import { createSimulatorTls, type SimulatorTls } from '../../src/simulator/tls.js';
import type { EventHubsSink } from '../../sinks/azure-event-hubs/index.js';
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.js';
import { records } from '../helpers/records.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/server.js';
import { eventHubsSink, ident, identOf } from '../peers/eventhubs/sink.js';
import { capturingLogger } from '../peers/hec/sink.js';

const PASSWORD = 'pr0xy:p@ss';
const ENV = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'] as const;
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));

let tls: SimulatorTls;
let proxy: ConnectProxy | undefined;
const peers: EventHubsPeer[] = [];
const sinks: EventHubsSink[] = [];
beforeAll(async () => {
  tls = await createSimulatorTls();
});
afterEach(async () => {
  for (const s of sinks.splice(0)) await s.close();
  for (const p of peers.splice(0)) await p.close();
  await proxy?.close();
  proxy = undefined;
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

type SinkConfig = Parameters<typeof eventHubsSink>[1];
async function setup(
  config: SinkConfig | ((peer: EventHubsPeer) => SinkConfig),
  logger?: Parameters<typeof eventHubsSink>[2],
): Promise<{ peer: EventHubsPeer; sink: EventHubsSink; target: string }> {
  const peer = await startEventHubsPeer({ websocket: { cert: tls.certPem, key: tls.keyPem } });
  peers.push(peer);
  const sink = eventHubsSink(
    peer,
    { tls_ca: [tls.caPem], ...(typeof config === 'function' ? config(peer) : config) },
    logger,
  );
  sinks.push(sink);
  return { peer, sink, target: `127.0.0.1:${peer.port}` };
}

describe('azure_event_hubs behind a proxy (AMQP over WebSockets)', () => {
  it('sends through proxy_url, with its credentials, and the hub receives every record', async () => {
    proxy = await startConnectProxy({ auth: `eh-user:${PASSWORD}` });
    const { peer, sink, target } = await setup({
      proxy_url: `http://eh-user:${encodeURIComponent(PASSWORD)}@127.0.0.1:${proxy.port}`,
    });
    const sent = records(6);
    expect(await sink.send(sent)).toBeUndefined();
    expect(peer.received.map(identOf).sort()).toEqual(sent.map(ident).sort());
    expect(peer.stats.tokensAccepted).toBeGreaterThanOrEqual(1);
    expect(proxy.opened(target)).toBe(1);
    expect(proxy.tunnels.every((t) => t.allowed && t.target === target)).toBe(true);
    expect(proxy.tunnels[0]!.authorization).toBe(`Basic ${Buffer.from(`eh-user:${PASSWORD}`).toString('base64')}`);
  });

  it('opens a new tunnel after the connection is cut, and delivers again', async () => {
    proxy = await startConnectProxy();
    const { peer, sink, target } = await setup({ proxy_url: proxy.url });
    expect(await sink.send(records(2))).toBeUndefined();
    peer.dropConnections();
    const later = records(3, {}, 2);
    const result = await sink.send(later).then(
      (r) => r,
      (e: unknown) => e as Error,
    );
    if (result !== undefined) expect(await sink.send(later)).toBeUndefined(); // the pipeline's retry, when the cut was seen mid-send
    expect(new Set(peer.received.map(identOf))).toEqual(new Set([...records(2), ...later].map(ident)));
    expect(proxy.opened(target)).toBe(2);
  });

  it('follows HTTPS_PROXY with transport: websocket and no proxy_url', async () => {
    proxy = await startConnectProxy();
    process.env.HTTPS_PROXY = proxy.url;
    const { peer, sink, target } = await setup({ transport: 'websocket' });
    expect(await sink.send(records(3))).toBeUndefined();
    expect(peer.received).toHaveLength(3);
    expect(proxy.opened(target)).toBe(1);
  });

  it('connects directly when NO_PROXY covers the namespace host', async () => {
    proxy = await startConnectProxy();
    process.env.HTTPS_PROXY = proxy.url;
    process.env.NO_PROXY = '127.0.0.1';
    const { peer, sink } = await setup({ transport: 'websocket' });
    expect(await sink.send(records(3))).toBeUndefined();
    expect(peer.received).toHaveLength(3);
    expect(peer.stats.connections).toBe(1);
    expect(proxy.tunnels).toHaveLength(0);
  });

  it('still verifies the namespace certificate through the tunnel: an untrusted one is refused', async () => {
    proxy = await startConnectProxy();
    const { peer, sink, target } = await setup({ proxy_url: proxy.url, tls_ca: undefined, request_timeout_ms: 3000 });
    const err = await sink.send(records(2)).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(classify(err)).toBe('retryable');
    expect(peer.received).toHaveLength(0);
    expect(peer.stats.connections).toBe(0);
    expect(proxy.opened(target)).toBeGreaterThanOrEqual(1);
  });

  it('sends the Entra ID token requests through proxy_url too (fully_qualified_namespace)', async () => {
    const app = { tenantId: 'dddddddd-0000-4000-8000-000000000007', clientId: 'eh-proxy-app', clientSecret: 'right' };
    const sim = await startSimulator({ tenants: [app], seed: 1 });
    try {
      proxy = await startConnectProxy();
      const { peer, sink, target } = await setup((p) => ({
        connection_string: undefined,
        fully_qualified_namespace: `127.0.0.1:${p.port}`,
        event_hub_name: 'alerts',
        auth: 'client_secret',
        tenant_id: app.tenantId,
        client_id: app.clientId,
        client_secret: app.clientSecret,
        authority_url: sim.authorityHost,
        proxy_url: proxy!.url,
        tls_ca: [tls.caPem, readFileSync(sim.caFile, 'utf8')],
        auth_pause_ms: 60_000,
      }));
      // The peer takes SAS tokens only: the JWT is refused there, after it went through the proxy.
      const err = await sink.send(records(1)).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(classify(err)).toBe('retryable');
      expect(proxy.opened(new URL(sim.authorityHost).host)).toBeGreaterThanOrEqual(1);
      expect(proxy.opened(target)).toBeGreaterThanOrEqual(1);
      expect(peer.stats.tokensRefused).toBeGreaterThanOrEqual(1);
      expect(peer.received).toHaveLength(0);
    } finally {
      await sim.close();
    }
  });

  it('keeps records queued (retryable) when the proxy refuses the tunnel, without showing its password', async () => {
    proxy = await startConnectProxy({ auth: `eh-user:${PASSWORD}` });
    const { logger, lines } = capturingLogger();
    const wrong = 'n0t-the-pa55';
    const { peer, sink } = await setup(
      { proxy_url: `http://eh-user:${wrong}@127.0.0.1:${proxy.port}`, request_timeout_ms: 3000 },
      logger,
    );
    const err = await sink.send(records(2)).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).not.toBeNull();
    expect(classify(err)).toBe('retryable');
    expect(err!.message).toMatch(
      /WebSocket to wss:\/\/127\.0\.0\.1:\d+\/\$servicebus\/websocket \(through proxy_url\) failed/,
    );
    expect(err!.message).not.toContain(wrong);
    expect(JSON.stringify(lines)).not.toContain(wrong);
    expect(peer.received).toHaveLength(0);
    expect(proxy.tunnels.length).toBeGreaterThanOrEqual(1);
    expect(proxy.tunnels.every((t) => !t.allowed)).toBe(true);
  });
});

describe('azure_event_hubs proxy settings', () => {
  const CS = 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=a2V5;EntityPath=alerts';
  const parse = (extra: string) =>
    parseConfig(`sinks:\n  - { name: eh, type: azure_event_hubs, connection_string: "${CS}"${extra} }\n`, {
      env: {},
      baseDir: '.',
    });

  it('takes proxy_url as a secret that implies the WebSocket transport, and defaults to AMQP without it', () => {
    const withProxy = parse(', proxy_url: "http://u:hunter2@proxy.example.com:3128"');
    if (!withProxy.ok) throw new Error(withProxy.errors.join('\n'));
    expect(withProxy.config.sinks[0]).toMatchObject({
      transport: 'websocket',
      proxy_url: 'http://u:hunter2@proxy.example.com:3128',
    });
    expect(JSON.stringify(redactSecrets(withProxy.config))).not.toContain('hunter2');
    const plain = parse('');
    if (!plain.ok) throw new Error(plain.errors.join('\n'));
    expect(plain.config.sinks[0]).toMatchObject({ transport: 'amqp' });
  });

  it('refuses proxy_url with transport: amqp, and a proxy_url that is not an http(s) URL', () => {
    const amqp = parse(', transport: amqp, proxy_url: "http://proxy.example.com:3128"');
    expect(amqp.ok ? [] : amqp.errors).toEqual([
      expect.stringMatching(/sinks\[0\]\.transport: must be websocket with proxy_url/),
    ]);
    const socks = parse(', proxy_url: "socks5://proxy.example.com:1080"');
    expect(socks.ok ? [] : socks.errors).toEqual([
      expect.stringMatching(/sinks\[0\]\.proxy_url: must be an http:\/\/ or https:\/\/ URL/),
    ]);
  });
});
