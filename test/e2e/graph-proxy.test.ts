/**
 * `alertbridge run` with HTTPS_PROXY set: the Graph source's token request (to the authority, addressed as
 * `localhost`) and its Graph requests (to `127.0.0.1`) both go through the proxy's CONNECT tunnels, and the alerts
 * arrive at the sink.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { spawnCli } from '../helpers/cli.js';
import { startConnectProxy } from '../helpers/connect-proxy.js';
import { redisUrl } from '../helpers/redis.js';
import { e2eWorkspace, graphSourceYaml, ndjsonLines } from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'dddddddd-0000-4000-8000-0000000000f1',
  clientId: 'app-envproxy',
  clientSecret: 'secret-envproxy',
};
const { dir, prefix } = e2eWorkspace('envproxy');
const lines = ndjsonLines;

describe('alertbridge run behind HTTPS_PROXY', () => {
  it('gets its token and reads Graph through the proxy', async () => {
    const proxy = await startConnectProxy();
    const sim = await startSimulator({ tenants: [T], seed: 31, hostnames: ['localhost'] });
    for (let i = 0; i < 20; i++) sim.create(T.tenantId, 'alerts_v2');
    const port = new URL(sim.url).port;
    const out = join(dir, 'out.ndjson');
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { enabled: false }
log: { level: info, format: json }
sources:
${graphSourceYaml(sim, T, { name: 'behind-proxy', resources: ['alerts_v2'], graphUrl: `https://127.0.0.1:${port}`, authorityUrl: `https://localhost:${port}`, extra: '    page_size: 10' })}
sinks:
  - { name: out, type: file, path: "${out}" }
`,
    );
    const daemon = spawnCli(['run', '--config', config], { HTTPS_PROXY: proxy.url, NO_PROXY: '' });
    try {
      await waitFor(
        () => {
          if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.output()}`);
          return lines(out).length >= 20;
        },
        { timeoutMs: 60_000, what: 'the alerts delivered' },
      );
      expect(proxy.opened(`localhost:${port}`)).toBeGreaterThanOrEqual(1); // the token endpoint
      expect(proxy.opened(`127.0.0.1:${port}`)).toBeGreaterThanOrEqual(1); // Graph
      expect(proxy.tunnels.every((t) => t.target === `localhost:${port}` || t.target === `127.0.0.1:${port}`)).toBe(
        true,
      );
    } finally {
      if (daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
      await sim.close();
      await proxy.close();
    }
  }, 120_000);
});
