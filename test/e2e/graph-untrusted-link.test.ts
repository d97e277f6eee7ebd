/**
 * `alertbridge run` against a Graph whose nextLink leads to another origin: the daemon delivers the page it read,
 * stops the window with an error naming the source and tenant, counts it, keeps its cursor, and never connects to
 * the other origin (where the bearer token would go).
 */
import { writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { freePort } from '../../src/util/redis-server.js';
import { spawnCli } from '../helpers/cli.js';
import { redisUrl } from '../helpers/redis.js';
import { e2eWorkspace, graphSourceYaml, ndjsonLines } from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'dddddddd-0000-4000-8000-00000000000e',
  clientId: 'app-link',
  clientSecret: 'secret-link',
};
const { dir, prefix } = e2eWorkspace('untrusted');
const lines = ndjsonLines;

describe('a nextLink to another origin', () => {
  it('is never requested: the window stops with an error, a metric, and the cursor unchanged', async () => {
    // The other origin: counts TCP connections (a TLS handshake or a request would need one).
    let connections = 0;
    const foreign = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    const foreignOrigin = `https://127.0.0.1:${(foreign.address() as AddressInfo).port}`;
    const sim = await startSimulator({ tenants: [T], seed: 14 });
    sim.setFaults({ nextLinkOrigin: foreignOrigin });
    // Control profiles are read by following nextLinks (alerts_v2 and incidents page with first pages only).
    for (let i = 0; i < 25; i++) sim.create(T.tenantId, 'secure_score_control_profiles');
    const port = await freePort();
    const out = join(dir, 'out.ndjson');
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { listen: "127.0.0.1:${port}" }
log: { level: info, format: json }
sources:
${graphSourceYaml(sim, T, { name: 'contoso', resources: ['secure_score_control_profiles'], extra: '    page_size: 10' })}
sinks:
  - { name: out, type: file, path: "${out}" }
`,
    );
    const daemon = spawnCli(['run', '--config', config]);
    const redis = new Redis(redisUrl());
    try {
      const refused = await waitFor(
        () => {
          if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.output()}`);
          return daemon
            .output()
            .split('\n')
            .find((l) => l.includes('refused to follow a link'));
        },
        { timeoutMs: 60_000, what: 'the refused link in the log' },
      );
      const entry = JSON.parse(refused) as { level: number; source: string; tenant: string; err: string };
      expect(entry.level).toBe(50);
      expect(entry).toMatchObject({ source: 'contoso', tenant: T.tenantId });
      expect(entry.err).toContain(`source 'contoso' (tenant ${T.tenantId})`);
      expect(entry.err).toContain(`${foreignOrigin} is not the configured graph_url ${sim.url}`);
      const metrics = await waitFor(
        async () => {
          const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
            (r) => r.text(),
            () => '',
          );
          return /alertbridge_graph_untrusted_link_total\{source="contoso",resource="secure_score_control_profiles"\} [1-9]/.test(
            text,
          );
        },
        { what: 'the untrusted-link metric' },
      );
      expect(metrics).toBe(true);
      // The first page (before the link) is delivered; the window's watermark does not move past the refused link.
      await waitFor(() => lines(out).length >= 10, { what: 'the first page delivered' });
      expect(lines(out)).toHaveLength(10);
      expect(await redis.hget(`${prefix}:cursor:contoso:secure_score_control_profiles`, 'watermark')).toBeNull();
      // Graph itself saw first pages only, with the token; the other origin saw nothing at all.
      const graph = sim.requestLog.filter((e) => e.resource === 'secure_score_control_profiles');
      expect(graph.length).toBeGreaterThan(0);
      expect(graph.every((e) => e.query.$skiptoken === undefined)).toBe(true);
      expect(connections).toBe(0);
    } finally {
      if (daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
      redis.disconnect();
      await sim.close();
      await new Promise<void>((resolve) => foreign.close(() => resolve()));
    }
  }, 120_000);
});
