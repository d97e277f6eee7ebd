/**
 * Issue 12: one alert dated 2099 froze polling (the watermark jumped to 2099 and every later poll read nothing).
 * End to end through `alertbridge run` against the simulator: the 2099 alert is delivered, and so is the next real one.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { spawnCli } from '../helpers/cli.js';
import { redisUrl } from '../helpers/redis.js';
import { e2eWorkspace, graphSourceYaml, ndjsonLines } from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'ffffffff-0000-4000-8000-000000002099',
  clientId: 'app-future',
  clientSecret: 'secret-future',
};
const { dir, prefix } = e2eWorkspace('future');
const sim = await startSimulator({ tenants: [T], seed: 99 });
afterAll(() => sim.close());

const delivered = (path: string) => ndjsonLines(path).map((l) => JSON.parse(l) as { id: string });

describe('alertbridge run with a future-dated alert', () => {
  it('keeps polling: the alert after a 2099 one arrives', async () => {
    const out = join(dir, 'out.ndjson');
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { enabled: false }
log: { level: info, format: json }
sources:
${graphSourceYaml(sim, T, { name: 'contoso', resources: ['alerts_v2'], extra: '    poll_interval_ms: 1000\n    overlap_ms: 1000' })}
sinks:
  - { name: out, type: file, path: "${out}", batch: { max_records: 10 } }
`,
    );
    const future = sim.create(T.tenantId, 'alerts_v2', {
      lastUpdateDateTime: '2099-01-01T00:00:00Z',
      createdDateTime: '2099-01-01T00:00:00Z',
    });
    const first = sim.create(T.tenantId, 'alerts_v2');
    const daemon = spawnCli(['run', '--config', config]);
    try {
      await waitFor(
        () => {
          if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.output()}`);
          return delivered(out).length >= 2;
        },
        { timeoutMs: 60_000, what: 'the first two alerts' },
      );
      // polls have finished after the 2099 alert was read; then a real alert comes
      const polls = daemon.output().split('poll finished').length;
      await waitFor(() => daemon.output().split('poll finished').length > polls + 1, {
        timeoutMs: 30_000,
        what: 'two more polls',
      });
      const next = sim.create(T.tenantId, 'alerts_v2');
      await waitFor(() => delivered(out).some((r) => r.id === next.id), {
        timeoutMs: 60_000,
        what: 'the alert after the 2099 one',
      });
      const ids = delivered(out).map((r) => r.id);
      expect(ids.sort()).toEqual([String(future.id), String(first.id), String(next.id)].sort());
      expect(daemon.output()).toContain('dated in the future');
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
  }, 120_000);
});
