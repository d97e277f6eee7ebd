/**
 * Write-back when Graph keeps throttling (issue 15), through `alertbridge run`: every request of the change is
 * answered 429 with `Retry-After: 0.3`; the daemon waits at least that long between two requests, tries the change
 * `max_attempts` times, then gives up: a `failed` outcome that says why, the change dead-lettered, no PATCH made.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { freePort } from '../../src/util/redis-server.js';
import { redisUrl } from '../helpers/redis.js';
import {
  daemonConfigHead,
  e2eWorkspace,
  graphSourceYaml,
  postSync,
  startDaemon,
  waitForOutcome,
} from '../helpers/e2e.js';
import { keysFor } from '../../src/pipeline/keys.js';

const T: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-0000000042e9',
  clientId: 'app-sync-retry',
  clientSecret: 'secret-sync-retry',
};
const TOKEN = 'sync-retry-token';
const { dir, prefix } = e2eWorkspace('sync-retry');
let sim: Simulator;
const redis = new Redis(redisUrl());

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 42 });
});
afterAll(async () => {
  redis.disconnect();
  await sim?.close();
});

describe('sync when Graph keeps throttling', () => {
  it('honours Retry-After, tries max_attempts times, then fails the change and dead-letters it', async () => {
    const alert = sim.create(T.tenantId, 'alerts_v2', { status: 'new' });
    const id = String(alert.id);
    const port = await freePort();
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
${daemonConfigHead(prefix, port)}sources:
${graphSourceYaml(sim, T, {
  name: 'contoso',
  resources: ['alerts_v2'],
  extra: `    poll_interval_ms: 3600000\n    sync: { enabled: true, token: ${TOKEN}, max_attempts: 2 }\n`,
})}
sinks:
  - { name: out, type: file, path: "${join(dir, 'out.ndjson')}" }
`,
    );
    const daemon = startDaemon(config, port);
    try {
      await daemon.ready();
      sim.setFaults({ throttleRate: 1, retryAfterS: 0.3 });
      const res = await postSync(port, 'contoso', TOKEN, { resource: 'alerts_v2', id, status: 'resolved' });
      expect(res.status).toBe(202);
      const changeId = ((await res.json()) as { ids: string[] }).ids[0]!;
      const h = await waitForOutcome(redis, keysFor(prefix), 'contoso', changeId, {
        daemon,
        what: 'the change given up on',
      });
      sim.setFaults({ throttleRate: null, retryAfterS: null });
      const outcome = JSON.parse(h.outcome!) as { outcome: string; reason: string; attempts: number };
      expect(outcome).toMatchObject({ outcome: 'failed', attempts: 2, graph_status: 429 });
      expect(outcome.reason).toMatch(/^gave up after 2 attempts: .*HTTP 429/);
      expect(await redis.lrange(keysFor(prefix).syncDead('contoso'), 0, -1)).toEqual([changeId]);
      const reads = sim.requestLog.filter((e) => e.path.endsWith(`/alerts_v2/${id}`));
      expect(reads.every((e) => e.method === 'GET' && e.status === 429)).toBe(true);
      // The client's retries of one attempt (8 after the first try), twice.
      expect(reads).toHaveLength(18);
      const times = reads.map((e) => Date.parse(e.at));
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(300);
      expect(sim.list(T.tenantId, 'alerts_v2').find((a) => a.id === id)!.status).toBe('new');
    } finally {
      await daemon.stop();
    }
  }, 180_000);
});
