/**
 * splunk_hec behind an outbound proxy: batches (and acknowledgement queries) go through CONNECT tunnels of its own
 * `proxy_url` or of HTTPS_PROXY, TLS to HEC still verified against `ca_file`; a proxy refusing the tunnel is a
 * retryable error that names the proxy's answer and never the proxy's password.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { classify } from '../../src/pipeline/retry.js';
import type { SplunkHecSink } from '../../sinks/splunk-hec/index.js';
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.js';
import { records } from '../helpers/records.js';
import { makeTestCertificates } from '../peers/hec/certs.js';
import { startHecPeer, type HecPeer } from '../peers/hec/server.js';
import { capturingLogger, hecSink } from '../peers/hec/sink.js';

const certs = makeTestCertificates();
const dir = mkdtempSync(join(tmpdir(), 'ab-hec-proxy-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, certs.caCert);
const PASSWORD = 'pr0xy:p@ss';
const saved = process.env.HTTPS_PROXY;

let proxy: ConnectProxy | undefined;
const peers: HecPeer[] = [];
const sinks: SplunkHecSink[] = [];
afterEach(async () => {
  for (const s of sinks.splice(0)) await s.close();
  for (const p of peers.splice(0)) await p.close();
  await proxy?.close();
  proxy = undefined;
  if (saved === undefined) delete process.env.HTTPS_PROXY;
  else process.env.HTTPS_PROXY = saved;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function setup(
  opts: Parameters<typeof hecSink>[1],
): Promise<{ peer: HecPeer; sink: SplunkHecSink; target: string }> {
  const peer = await startHecPeer({ tls: certs, ackDelayMs: 5 });
  peers.push(peer);
  const sink = hecSink(peer, { ca_file: caFile, ...opts });
  sinks.push(sink);
  await sink.start();
  return { peer, sink, target: new URL(peer.url).host };
}

describe('splunk_hec behind a proxy', () => {
  it('sends batches and acknowledgement queries through proxy_url, with its credentials', async () => {
    proxy = await startConnectProxy({ auth: `hec-user:${PASSWORD}` });
    const { peer, sink, target } = await setup({
      proxy_url: `http://hec-user:${encodeURIComponent(PASSWORD)}@127.0.0.1:${proxy.port}`,
      ack: { enabled: true, poll_interval_ms: 10, timeout_ms: 10_000 },
    });
    expect(await sink.send(records(5))).toBeUndefined();
    expect(peer.indexed).toHaveLength(5);
    expect(proxy.opened(target)).toBeGreaterThanOrEqual(1);
    expect(proxy.tunnels.every((t) => t.allowed && t.target === target)).toBe(true);
  });

  it('follows HTTPS_PROXY when the sink has no proxy_url', async () => {
    proxy = await startConnectProxy();
    process.env.HTTPS_PROXY = proxy.url;
    const { peer, sink, target } = await setup({});
    expect(await sink.send(records(3))).toBeUndefined();
    expect(peer.indexed).toHaveLength(3);
    expect(proxy.opened(target)).toBeGreaterThanOrEqual(1);
  });

  it('keeps records queued (retryable) when the proxy refuses the tunnel, without logging its password', async () => {
    proxy = await startConnectProxy({ auth: `hec-user:${PASSWORD}` });
    const { logger, lines } = capturingLogger();
    const wrong = 'n0t-the-pa55';
    const { peer, sink } = await setup({ proxy_url: `http://hec-user:${wrong}@127.0.0.1:${proxy.port}`, logger });
    const err = await sink.send(records(2)).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(classify(err)).toBe('retryable');
    expect(err!.message).toMatch(/sending batch to splunk_hec '.*': .*407/);
    expect(err!.message).not.toContain(wrong);
    expect(JSON.stringify(lines)).not.toContain(wrong);
    expect(peer.indexed).toHaveLength(0);
    expect(proxy.tunnels.length).toBeGreaterThanOrEqual(1);
  });
});
