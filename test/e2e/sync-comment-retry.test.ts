/**
 * Write-back of a comment when Graph commits it and then answers 500 (a gateway timing out after the backend wrote):
 * a comment POST is not idempotent, so resending it would post the comment twice. The change is tried again from
 * the top instead (a fresh GET shows the comment is there), through `alertbridge run` against the simulator's
 * `commitThenFail` fault: the alert carries the comment once, and the outcome is `applied`.
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
  tenantId: 'aaaaaaaa-0000-4000-8000-0000000042ea',
  clientId: 'app-sync-comment',
  clientSecret: 'secret-sync-comment',
};
const TOKEN = 'sync-comment-token';
const { dir, prefix } = e2eWorkspace('sync-comment-retry');
let sim: Simulator;
const redis = new Redis(redisUrl());

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 43 });
});
afterAll(async () => {
  redis.disconnect();
  await sim?.close();
});

describe('sync of a comment Graph committed and answered 500', () => {
  it('posts the comment once and reports the change applied', async () => {
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
  extra: `    poll_interval_ms: 3600000\n    sync: { enabled: true, token: ${TOKEN}, max_attempts: 4 }\n`,
})}
sinks:
  - { name: out, type: file, path: "${join(dir, 'out.ndjson')}" }
`,
    );
    const daemon = startDaemon(config, port);
    try {
      await daemon.ready();
      sim.setFaults({ commitThenFail: 1 });
      const text = 'Benign: the admin ran the tool on purpose (ticket 4711).';
      const res = await postSync(port, 'contoso', TOKEN, { resource: 'alerts_v2', id, comment: text });
      expect(res.status).toBe(202);
      const changeId = ((await res.json()) as { ids: string[] }).ids[0]!;
      const h = await waitForOutcome(redis, keysFor(prefix), 'contoso', changeId, {
        daemon,
        what: 'the change finished',
      });
      expect(sim.faults.commitThenFail).toBe(0); // the fault fired
      const posts = sim.requestLog.filter((e) => e.method === 'POST' && e.path.endsWith(`/alerts_v2/${id}/comments`));
      expect(posts.map((e) => e.status)).toEqual([500]);
      const stored = sim.list(T.tenantId, 'alerts_v2').find((a) => a.id === id)!;
      const comments = (stored.comments as Array<{ comment: string }>).filter((c) => c.comment === text);
      expect(comments).toHaveLength(1);
      expect(JSON.parse(h.outcome!)).toMatchObject({ outcome: 'applied' });
    } finally {
      await daemon.stop();
    }
  }, 180_000);
});
