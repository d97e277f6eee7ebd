/**
 * Change notifications behind a load balancer: Graph posts to one public URL, the balancer spreads the posts over
 * three replicas, and every notified alert is fetched and delivered once, whichever replica received it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { freePort } from '../../src/util/redis-server.js';
import { spawnCli, type Daemon } from '../helpers/cli.js';
import { graphSourceYaml } from '../helpers/e2e.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { startRoundRobinProxy, type Proxy } from '../helpers/round-robin-proxy.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'ffffffff-0000-4000-8000-000000000006',
  clientId: 'app-f',
  clientSecret: 'secret-f',
};
const dir = mkdtempSync(join(tmpdir(), 'ab-hooks-'));
const prefix = uniquePrefix('hooks');
let sim: Simulator | undefined;
let proxy: Proxy | undefined;
const daemons: Daemon[] = [];

afterAll(async () => {
  for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
  await proxy?.close();
  await sim?.close();
  await deletePrefix(prefix);
  rmSync(dir, { recursive: true, force: true });
});

const read = (path: string): Array<{ id: string; via: string }> => {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; via: string });
  } catch {
    return [];
  }
};

describe('webhooks across replicas', () => {
  it('processes notifications whichever replica the load balancer picks', async () => {
    sim = await startSimulator({
      tenants: [T],
      seed: 13,
      subscriptions: { batchMs: 20, maxBatch: 3, retryBaseMs: 300 },
    });
    const ports = await Promise.all([0, 1, 2].map(() => freePort()));
    proxy = await startRoundRobinProxy(ports);
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { listen: "127.0.0.1:\${PORT}", public_url: "${proxy.url}" }
log: { format: json }
pipeline: { takeover_ms: 3000 }
sources:
${graphSourceYaml(sim, T, {
  name: 'tenant-f',
  resources: ['alerts'],
  extra: `    poll_interval_ms: 3600000
    webhook: { enabled: true, client_state: "spread-state" }
`,
})}sinks:
  - { name: out, type: file, path: "\${OUT_FILE}" }
`,
    );
    const outs = [0, 1, 2].map((i) => join(dir, `out-${i}.ndjson`));
    for (let i = 0; i < 3; i++)
      daemons.push(spawnCli(['run', '--config', config], { PORT: String(ports[i]), OUT_FILE: outs[i] }));
    // the subscription exists once a replica stored what Graph answered (after the validation handshake)
    const redis = new Redis(redisUrl());
    await waitFor(() => redis.exists(`${prefix}:subscription:tenant-f`), {
      timeoutMs: 120_000, // three daemons start (and compile) at once; on a loaded 2-core machine that alone takes a minute
      what: 'subscription created',
    });
    await redis.quit();
    expect(sim.deliveryLog.some((d) => d.kind === 'validation' && d.status === 200)).toBe(true);
    proxy.counts.fill(0);

    const created: string[] = [];
    for (let i = 0; i < 60; i++) {
      created.push(
        String(
          sim.create(T.tenantId, 'alerts', {
            vendorInformation: { provider: i % 2 ? 'IPC' : 'MCAS', vendor: 'Microsoft' },
          }).id,
        ),
      );
      if (i % 3 === 2) await new Promise((r) => setTimeout(r, 40)); // several notification POSTs
    }
    const webhook = () => outs.flatMap(read).filter((r) => r.via === 'webhook');
    await waitFor(() => new Set(webhook().map((r) => r.id)).size >= 60, {
      timeoutMs: 60_000,
      what: 'all notified alerts delivered',
    });
    expect(new Set(webhook().map((r) => r.id))).toEqual(new Set(created));
    expect(webhook()).toHaveLength(60); // once each
    // every replica received notification posts
    expect(proxy.counts.every((n) => n > 0)).toBe(true);
    for (const d of daemons) d.child.kill('SIGTERM');
    for (const d of daemons) expect((await d.exited).code).toBe(0);
    console.log(
      `webhooks across replicas: notification posts per replica ${proxy.counts.join('/')}, 60 alerts delivered once`,
    );
  }, 240_000);
});
