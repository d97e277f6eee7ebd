/**
 * Exactly one PATCH per accepted write-back change across `kill -9` of `alertbridge run` (issue 15): killed after
 * the 202 and before the change reached Graph, the restarted daemon applies it once; killed while its PATCH is on
 * the way (Graph applies it, the daemon never hears the answer), the restarted daemon finds the change in Graph and
 * records it as applied without a second PATCH.
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
  tenantId: 'aaaaaaaa-0000-4000-8000-00000000c9a5',
  clientId: 'app-sync-crash',
  clientSecret: 'secret-sync-crash',
};
const TOKEN = 'sync-crash-token';
const { dir, prefix } = e2eWorkspace('sync-crash');
let sim: Simulator;
/** Called by the simulator as each request arrives. */
let onRequest: (req: { method: string; path: string }) => void = () => undefined;
let port: number;
let config: string;
const redis = new Redis(redisUrl());

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 9, onRequest: (req) => onRequest(req) });
  port = await freePort();
  config = join(dir, 'config.yaml');
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
  extra: `    poll_interval_ms: 1000\n    request_timeout_ms: 5000\n    sync: { enabled: true, token: ${TOKEN} }\n`,
})}
sinks:
  - { name: out, type: file, path: "${join(dir, 'out.ndjson')}" }
`,
  );
});
afterAll(async () => {
  redis.disconnect();
  await sim?.close();
});

async function startDaemon(): Promise<Daemon> {
  const d = spawnCli(['run', '--config', config]);
  await waitFor(
    async () => {
      if (d.child.exitCode !== null) throw new Error(`daemon exited: ${d.output()}`);
      return fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    { timeoutMs: 60_000, what: 'the daemon listening' },
  );
  return d;
}

async function kill9(d: Daemon): Promise<void> {
  d.child.kill('SIGKILL');
  await d.exited;
}

async function post(body: unknown): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/sync/contoso`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { ids: string[] }).ids[0]!;
}

const changeKey = (id: string) => keysFor(prefix).syncChange('contoso', id);
const patches = (id: string) =>
  sim.requestLog.filter((e) => e.method === 'PATCH' && e.path.endsWith(`/security/alerts_v2/${id}`));

async function finalState(d: Daemon, changeId: string): Promise<Record<string, string>> {
  return waitFor(
    async () => {
      if (d.child.exitCode !== null) throw new Error(`daemon exited: ${d.output()}`);
      const h = await redis.hgetall(changeKey(changeId));
      return h.outcome ? h : undefined;
    },
    { timeoutMs: 60_000, what: 'the change finished' },
  );
}

describe('sync across kill -9', () => {
  it('killed between accepting and applying: applied exactly once after the restart', async () => {
    const alert = sim.create(T.tenantId, 'alerts_v2', { status: 'new' });
    const id = String(alert.id);
    let daemon = await startDaemon();
    // Graph unavailable: the change is accepted (202) and stays in the queue, tried and not applied.
    sim.setFaults({ errorStatus: 503, retryAfterS: 0.2 });
    const changeId = await post({ resource: 'alerts_v2', id, status: 'resolved', classification: 'truePositive' });
    await waitFor(async () => (await redis.hget(changeKey(changeId), 'state')) === 'applying', {
      what: 'the change being applied',
    });
    await kill9(daemon);
    expect(patches(id).filter((e) => e.status === 200)).toHaveLength(0);
    sim.setFaults({ errorStatus: null });

    daemon = await startDaemon();
    try {
      const h = await finalState(daemon, changeId);
      expect(h.state).toBe('applied');
      expect(sim.list(T.tenantId, 'alerts_v2').find((a) => a.id === id)).toMatchObject({
        status: 'resolved',
        classification: 'truePositive',
      });
      expect(patches(id).filter((e) => e.status === 200)).toHaveLength(1);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
  }, 180_000);

  it('killed while its PATCH is on the way: Graph has it, the restart records it applied without a second PATCH', async () => {
    const alert = sim.create(T.tenantId, 'alerts_v2', { status: 'new', assignedTo: null });
    const id = String(alert.id);
    let daemon = await startDaemon();
    // The daemon dies the moment its PATCH reaches the simulator, which applies it (after a second) all the same.
    sim.setFaults({ slowMs: 1000 });
    let patched = false;
    onRequest = (req) => {
      if (req.method === 'PATCH' && req.path.endsWith(`/security/alerts_v2/${id}`)) {
        patched = true;
        daemon.child.kill('SIGKILL');
      }
    };
    const changeId = await post({ resource: 'alerts_v2', id, status: 'inProgress', assigned_to: 'soc@contoso.com' });
    await waitFor(() => patched, { timeoutMs: 60_000, what: 'the PATCH reaching the simulator' });
    onRequest = () => undefined;
    expect(await redis.hget(changeKey(changeId), 'patch_sent')).toBe('1');
    expect(await redis.hget(changeKey(changeId), 'outcome')).toBeNull();
    await kill9(daemon);
    sim.setFaults({ slowMs: null });
    // The simulator applies it (and, the client being gone, leaves it out of its request log).
    await waitFor(() => sim.list(T.tenantId, 'alerts_v2').find((a) => a.id === id)!.status === 'inProgress', {
      timeoutMs: 30_000,
      what: 'the simulator applying the PATCH',
    });
    expect(patches(id)).toHaveLength(0);

    daemon = await startDaemon();
    try {
      const h = await finalState(daemon, changeId);
      expect(h.state).toBe('applied');
      expect(JSON.parse(h.outcome!).reason).toContain('earlier attempt');
      expect(sim.list(T.tenantId, 'alerts_v2').find((a) => a.id === id)).toMatchObject({
        status: 'inProgress',
        assignedTo: 'soc@contoso.com',
      });
      // The restarted daemon read the alert and sent no PATCH of its own.
      expect(patches(id)).toHaveLength(0);
      expect(sim.requestLog.some((e) => e.method === 'GET' && e.path.endsWith(`/security/alerts_v2/${id}`))).toBe(true);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
  }, 180_000);
});
