/**
 * Issue 13 item 8: a window that keeps failing (Graph answering 503 on every poll) must not hold a tenant's cursor
 * without anyone noticing. Past `stuck_window_alert_ms` each failed poll is an error naming the window and the way
 * out, `alertbridge_poll_stuck_seconds` shows how long, and `/readyz` lists it under `warnings`; an operator skips it
 * with `alertbridge cursor skip`, which is recorded (listed by `alertbridge cursor list`) and logged by the poller.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { runCli } from '../helpers/cli.js';
import { graphSourceYaml } from '../helpers/e2e.js';
import { captureLogger, pollNow } from '../helpers/graph.js';
import { metricValue } from '../helpers/pipeline.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

const T: TenantCredentials = {
  tenantId: 'acacacac-0000-4000-8000-000000000401',
  clientId: 'app-stuck',
  clientSecret: 'secret-stuck',
};
const sim = await startSimulator({ tenants: [T], seed: 51 });
const dir = mkdtempSync(join(tmpdir(), 'ab-stuck-'));
const prefix = uniquePrefix('stuck');
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
  await deletePrefix(prefix);
});

const yaml = `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
log: { format: json }
sources:
${graphSourceYaml(sim, T, {
  name: 'contoso',
  resources: ['alerts_v2'],
  extra: `    overlap_ms: 0
    stuck_window_alert_ms: 1000
`,
})}sinks:
  - { name: out, type: file, path: /dev/null }
`;

describe('a poll window that keeps failing', () => {
  it('is reported as stuck past stuck_window_alert_ms, and an operator skips it with a recorded cursor skip', async () => {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, yaml);
    const parsed = parseConfig(yaml, { baseDir: dir, env: {} });
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    const { logger, lines } = captureLogger();
    const app = buildApp(parsed.config, { logger, consume: false });
    await app.start({ listen: false });
    try {
      const poller = app.source('graph_security', 'contoso')!.pollers[0]!;
      const warnings = async () =>
        (
          (await app.server.inject({ url: '/readyz' })).json() as {
            warnings?: Record<string, { stuck: boolean; last_error?: string; failing_since: string }>;
          }
        ).warnings;
      for (let i = 0; i < 5; i++) sim.create(T.tenantId, 'alerts_v2');
      sim.setFaults({ unavailableRate: 1, retryAfterS: 0.01 }); // Graph answers 503 to everything, for hours

      expect(await pollNow(poller)).toBeNull();
      const first = await poller.cursor();
      expect(first.failing_since).toBeDefined();
      expect(first.watermark).toBeUndefined();
      expect(await warnings()).toBeUndefined(); // failing, not yet for stuck_window_alert_ms
      expect(lines.filter((l) => l.level === 50 && l.stuck === true)).toHaveLength(0);

      await new Promise((r) => setTimeout(r, 1200));
      expect(await pollNow(poller)).toBeNull();
      const loud = lines.filter((l) => l.level === 50 && l.stuck === true);
      expect(loud).toHaveLength(1);
      expect(loud[0]).toMatchObject({
        source: 'contoso',
        tenant: T.tenantId,
        resource: 'alerts_v2',
        failing_since: new Date(first.failing_since!).toISOString(),
      });
      expect(String(loud[0]!.msg)).toContain(
        'alertbridge cursor skip --config <file> --source contoso --resource alerts_v2',
      );
      expect(String(loud[0]!.err)).toContain('503');
      expect(
        await metricValue(app.metrics, 'alertbridge_poll_stuck_seconds', { source: 'contoso', resource: 'alerts_v2' }),
      ).toBeGreaterThanOrEqual(1);
      const w = (await warnings())!['poll:contoso/alerts_v2']!;
      expect(w).toMatchObject({ stuck: true, failing_since: new Date(first.failing_since!).toISOString() });
      expect(w.last_error).toContain('503');

      // the operator skips the window, with a reason
      const skipTo = new Date().toISOString();
      const skip = await runCli([
        'cursor',
        'skip',
        '--config',
        file,
        '--source',
        'contoso',
        '--resource',
        'alerts_v2',
        '--to',
        skipTo,
        '--reason',
        'Graph 503 since the morning',
      ]);
      expect(skip.code).toBe(0);
      const record = JSON.parse(skip.stdout) as Record<string, string>;
      expect(record).toMatchObject({
        source: 'contoso',
        resource: 'alerts_v2',
        reason: 'Graph 503 since the morning',
        failing_since: new Date(first.failing_since!).toISOString(),
      });
      expect(Date.parse(record.to!)).toBe(Date.parse(skipTo));
      expect(record.last_error).toContain('503');
      expect(skip.stderr).toContain('skipped the poll window of contoso/alerts_v2');
      const list = await runCli(['cursor', 'list', '--config', file]);
      expect(list.code).toBe(0);
      const [entry] = list.stdout
        .trim()
        .split('\n')
        .map(
          (l) =>
            JSON.parse(l) as {
              source: string;
              resource: string;
              watermark: string;
              skips: unknown[];
              failing_since?: string;
            },
        );
      expect(entry).toMatchObject({ source: 'contoso', resource: 'alerts_v2', watermark: record.to, skips: [record] });
      expect(entry!.failing_since).toBeUndefined();
      // skipping backwards is refused: re-reading is backfill's job
      const back = await runCli([
        'cursor',
        'skip',
        '--config',
        file,
        '--source',
        'contoso',
        '--resource',
        'alerts_v2',
        '--to',
        '2020-01-01T00:00:00Z',
      ]);
      expect(back.code).toBe(1);
      expect(back.stderr).toContain('nothing to skip');

      // Graph answers again: polling goes on from the skip, says so, and the warning is gone
      sim.setFaults({ unavailableRate: null, retryAfterS: null });
      const fresh = sim.create(T.tenantId, 'alerts_v2');
      const summary = await pollNow(poller);
      expect(summary).toMatchObject({ fetched: 1, accepted: 1 });
      expect(lines.some((l) => l.level === 40 && String(l.msg).includes('an operator skipped this window'))).toBe(true);
      expect(
        await metricValue(app.metrics, 'alertbridge_poll_stuck_seconds', { source: 'contoso', resource: 'alerts_v2' }),
      ).toBe(0);
      expect(await warnings()).toBeUndefined();
      expect((await poller.cursor()).failing_since).toBeUndefined();
      expect(fresh.id).toBeDefined();
    } finally {
      sim.setFaults({ unavailableRate: null, retryAfterS: null });
      await app.stop();
    }
  }, 120_000);
});
