/**
 * Write-back with two replicas of `alertbridge run` on one Redis (issue 15): changes posted to either replica are
 * applied once each, and when the replica applying them is killed (`kill -9`) with changes accepted but not applied,
 * the other takes the source's queue over and applies each of them exactly once.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { freePort } from '../../src/util/redis-server.js';
import { spawnCli, type Daemon } from '../helpers/cli.js';
import { redisUrl } from '../helpers/redis.js';
import { e2eWorkspace, graphSourceYaml } from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';
import { keysFor } from '../../src/pipeline/keys.js';

const T: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-00000000e9e2',
  clientId: 'app-sync-replicas',
  clientSecret: 'secret-sync-replicas',
};
const TOKEN = 'sync-replicas-token';
const { dir, prefix } = e2eWorkspace('sync-replicas');
let sim: Simulator;
const redis = new Redis(redisUrl());

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 22 });
});
afterAll(async () => {
  redis.disconnect();
  await sim?.close();
});

async function replica(name: string): Promise<{ daemon: Daemon; port: number }> {
  const port = await freePort();
  const config = join(dir, `${name}.yaml`);
  writeFileSync(
    config,
    `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { listen: "127.0.0.1:${port}" }
log: { level: info, format: json }
pipeline: { takeover_ms: 2000 }
sources:
${graphSourceYaml(sim, T, {
  name: 'contoso',
  resources: ['alerts_v2'],
  extra: `    poll_interval_ms: 2000\n    sync: { enabled: true, token: ${TOKEN} }\n`,
})}
sinks:
  - { name: out, type: file, path: "${join(dir, `${name}.ndjson`)}" }
`,
  );
  const daemon = spawnCli(['run', '--config', config]);
  await waitFor(
    async () => {
      if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.output()}`);
      return fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    { timeoutMs: 60_000, what: `replica ${name} listening` },
  );
  return { daemon, port };
}

async function post(port: number, body: unknown): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${port}/sync/contoso`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { ids: string[] }).ids;
}

const patchesOf = (id: unknown) =>
  sim.requestLog.filter((e) => e.method === 'PATCH' && e.status === 200 && e.path.endsWith(`/alerts_v2/${id}`));

describe('sync with two replicas', () => {
  it('applies every change once, also after the replica applying them is killed', async () => {
    const a = await replica('a');
    const b = await replica('b');
    const daemons = [a.daemon, b.daemon];
    try {
      const alerts = Array.from({ length: 12 }, () => sim.create(T.tenantId, 'alerts_v2', { status: 'new' }));
      // Six changes through each replica, all applied once.
      const first = [
        ...(await post(
          a.port,
          alerts.slice(0, 3).map((x) => ({ resource: 'alerts_v2', id: x.id, status: 'resolved' })),
        )),
        ...(await post(
          b.port,
          alerts.slice(3, 6).map((x) => ({ resource: 'alerts_v2', id: x.id, status: 'resolved' })),
        )),
      ];
      await waitFor(
        async () => {
          const states = await Promise.all(
            first.map((id) => redis.hget(keysFor(prefix).syncChange('contoso', id), 'state')),
          );
          return states.every((s) => s === 'applied');
        },
        { timeoutMs: 60_000, what: 'the first six changes applied' },
      );
      for (const x of alerts.slice(0, 6)) expect(patchesOf(x.id)).toHaveLength(1);

      // Graph unavailable: the next changes are accepted and held; the lease holder is killed; Graph comes back.
      sim.setFaults({ errorStatus: 503, retryAfterS: 0.2 });
      const held = await post(
        b.port,
        alerts.slice(6).map((x) => ({ resource: 'alerts_v2', id: x.id, status: 'inProgress' })),
      );
      await waitFor(
        async () => (await redis.hget(keysFor(prefix).syncChange('contoso', held[0]!), 'state')) === 'applying',
        { what: 'the held changes being applied' },
      );
      const holder = await redis.get(keysFor(prefix).syncLease('contoso'));
      const victim = daemons.find((d) => holder?.includes(`-${d.child.pid}-`));
      if (!victim) throw new Error(`no replica holds the sync lease (${holder})`);
      victim.child.kill('SIGKILL');
      await victim.exited;
      sim.setFaults({ errorStatus: null });
      const survivor = daemons.find((d) => d !== victim)!;
      await waitFor(
        async () => {
          if (survivor.child.exitCode !== null) throw new Error(`replica exited: ${survivor.output()}`);
          const states = await Promise.all(
            held.map((id) => redis.hget(keysFor(prefix).syncChange('contoso', id), 'state')),
          );
          return states.every((s) => s === 'applied');
        },
        { timeoutMs: 90_000, what: 'the held changes applied by the other replica' },
      );
      for (const x of alerts.slice(6)) {
        expect(patchesOf(x.id)).toHaveLength(1);
        expect(sim.list(T.tenantId, 'alerts_v2').find((y) => y.id === x.id)!.status).toBe('inProgress');
      }
    } finally {
      for (const d of daemons) {
        if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM');
        await d.exited;
      }
    }
  }, 300_000);
});
