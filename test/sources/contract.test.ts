/**
 * The source contract (src/sources/types.ts), held by every registered source type and the shared components they
 * create: stop is safe without start and idempotent, start returns and stop ends it even when every peer is
 * unreachable, the routes of all of them mount on one server under CONTRACT's paths, and the connections a source
 * asks for are the app's (closed by it). Built through the registry from a config, as the app builds them.
 */
import Fastify from 'fastify';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Metrics } from '../../src/observability/metrics.js';
import { keysFor } from '../../src/pipeline/keys.js';
import { connect } from '../../src/pipeline/redis.js';
import { GraphSource } from '../../src/sources/graph/source.js';
import { createSources, findSource, type Sources } from '../../src/sources/registry.js';
import { silentLogger } from '../helpers/pipeline.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('contract');
const conns: Redis[] = [];
afterEach(async () => {
  for (const c of conns.splice(0)) c.disconnect();
  await deletePrefix(prefix);
});

function config(): Config {
  // Nothing listens on port 1: every Graph and Entra request fails at once.
  const res = parseConfig(
    `
server: { public_url: "https://alertbridge.example.com" }
sources:
  - name: contoso
    type: graph_security
    tenant_id: 11111111-2222-4333-8444-555555555555
    client_id: app
    client_secret: secret
    graph_url: https://127.0.0.1:1
    authority_url: https://127.0.0.1:1
    resources: [alerts_v2, alerts]
    webhook: { enabled: true, client_state: state-123 }
    sync: { enabled: true, token: sync-token }
  - { name: fabrikam, type: graph_security, tenant_id: 21111111-2222-4333-8444-555555555555, client_id: app, client_secret: s, graph_url: "https://127.0.0.1:1", authority_url: "https://127.0.0.1:1" }
  - { name: partner, type: webhook, token: partner-token }
  - { name: other, type: webhook, token: other-token }
sinks:
  - { name: out, type: file, path: /dev/null }
`,
    { baseDir: '/', env: {} },
  );
  if (!res.ok) throw new Error(res.errors.join('\n'));
  return res.config;
}

function build(): { sources: Sources; asked: string[] } {
  const redis = connect({ url: redisUrl() }, { name: 'contract-test' });
  conns.push(redis);
  const asked: string[] = [];
  const sources = createSources(config().sources, {
    emit: async (records) => ({ accepted: records.length, duplicates: 0, stale: 0, verdicts: [] }),
    redis,
    connect(name) {
      asked.push(name);
      const conn = connect({ url: redisUrl() }, { blocking: true, name: `contract-${name}` });
      conns.push(conn);
      return conn;
    },
    prefix,
    keys: keysFor(prefix),
    metrics: new Metrics(),
    logger: silentLogger,
    takeoverMs: 5000,
    replicaId: 'contract-test',
    publicUrl: 'https://alertbridge.example.com',
  });
  return { sources, asked };
}

describe('the source contract', () => {
  it('builds one source per configured entry, and each shared component once, whatever the number of sources', () => {
    const { sources, asked } = build();
    expect(sources.configured.map((s) => [s.type, s.name])).toEqual([
      ['graph_security', 'contoso'],
      ['graph_security', 'fabrikam'],
      ['webhook', 'partner'],
      ['webhook', 'other'],
    ]);
    expect(sources.shared.map((s) => s.type).sort()).toEqual([
      'graph_clients',
      'graph_notifications',
      'sync',
      'webhook_routes',
    ]);
    // One blocking connection for the notification worker, one per sync-enabled source's applier.
    expect(asked.sort()).toEqual(['notifications', 'sync-contoso']);
    expect(findSource(sources.configured, 'graph_security', 'contoso')).toBeInstanceOf(GraphSource);
    expect(findSource(sources.configured, 'graph_security', 'partner')).toBeUndefined();
  });

  it('stops without a start, and twice', async () => {
    const { sources } = build();
    for (const c of [...sources.configured, ...sources.shared]) {
      await expect(c.stop(), `${c.type} '${c.name}'`).resolves.toBeUndefined();
      await expect(c.stop(), `${c.type} '${c.name}' again`).resolves.toBeUndefined();
    }
  });

  it('starts and stops with every peer unreachable: failures are retried in the background, not thrown', async () => {
    const { sources } = build();
    const all = [...sources.configured, ...sources.shared];
    await Promise.all(all.map((c) => c.start()));
    // Started, the notification worker and each write-back worker report through readiness (the app merges these
    // into /readyz).
    const checks = Object.assign({}, ...all.map((c) => c.readiness?.() ?? {}));
    expect(Object.keys(checks).sort()).toEqual(['notifications', 'sync:contoso']);
    for (const c of sources.configured) await c.stop();
    for (const c of sources.shared) await c.stop();
  });

  it("mounts every source's routes on one server, under CONTRACT's paths", async () => {
    const { sources } = build();
    const server = Fastify();
    for (const c of [...sources.configured, ...sources.shared]) c.routes?.(server);
    await server.ready();
    for (const url of ['/ingest/:source', '/webhooks/graph/:source', '/webhooks/graph/:source/lifecycle']) {
      expect(server.hasRoute({ method: 'POST', url }), url).toBe(true);
    }
    expect(server.hasRoute({ method: 'POST', url: '/sync/:source' })).toBe(true);
    // One route per family serves all its sources.
    const validation = await server.inject({
      method: 'POST',
      url: '/webhooks/graph/contoso?validationToken=abc',
    });
    expect(validation.statusCode).toBe(200);
    expect(validation.body).toBe('abc');
    await server.close();
  });
});
