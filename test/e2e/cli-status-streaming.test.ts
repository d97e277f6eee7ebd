/**
 * `alertbridge status` for a `defender_streaming` source, against a daemon reading the Event Hubs peer: each
 * partition shows the live replica that owns it and its checkpoint once events went through — read from the keys
 * the SDK's checkpoint store wrote, whose namespace the status derives from the connection string as the SDK does.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import type { StatusReport } from '../../src/status/collect.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/server.js';
import { runCli, spawnCli, type Daemon } from '../helpers/cli.js';
import { e2eWorkspace, graphSourceYaml } from '../helpers/e2e.js';
import { redisUrl } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'eeeeeeee-0000-4000-8000-000000000181',
  clientId: 'app-status-stream',
  clientSecret: 'secret-status-stream',
};
const HUB = 'defender-stream';
const { dir, prefix } = e2eWorkspace('status-stream');
let sim: Simulator;
let peer: EventHubsPeer;
let daemon: Daemon | undefined;

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 181 });
  peer = await startEventHubsPeer({ hubs: { [HUB]: 2 } });
});
afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
  await peer.close();
  await sim.close();
});

const alertEvent = (alertId: string) => ({
  body: JSON.stringify({
    records: [
      {
        time: new Date().toISOString(),
        tenantId: T.tenantId,
        operationName: 'Publish',
        category: 'AdvancedHunting-AlertInfo',
        properties: { Timestamp: new Date().toISOString(), AlertId: alertId, Title: 'x' },
      },
    ],
  }),
});

describe('alertbridge status, streaming', () => {
  it('shows each partition with its live owner and checkpoint', async () => {
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { enabled: false }
pipeline: { takeover_ms: 2000 }
log: { format: json }
sources:
${graphSourceYaml(sim, T, { name: 'contoso', resources: ['incidents'], extra: '    poll_interval_ms: 3600000\n' })}  - name: stream
    type: defender_streaming
    connection_string: "${peer.connectionString(HUB)}"
    start_position: earliest
sinks:
  - { name: out, type: file, path: "${join(dir, 'out.ndjson')}" }
`,
    );
    for (const partition of ['0', '1'])
      peer.enqueue(HUB, partition, [alertEvent(String(sim.create(T.tenantId, 'alerts_v2').id))]);
    daemon = spawnCli(['run', '--config', config]);
    const status = async (): Promise<StatusReport> => {
      if (daemon!.child.exitCode !== null) throw new Error(`daemon exited: ${daemon!.output()}`);
      const res = await runCli(['status', '--config', config, '--json']);
      expect(res.code, res.stderr).toBe(0);
      return JSON.parse(res.stdout) as StatusReport;
    };
    const report = await waitFor(
      async () => {
        const r = await status();
        const parts = r.sources.find((s) => s.name === 'stream')?.partitions ?? [];
        return parts.length === 2 && parts.every((p) => p.owner_live && p.checkpoint_sequence_number !== null)
          ? r
          : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500, what: 'both partitions owned and checkpointed in the status' },
    );
    const replica = report.replicas[0]!.id;
    expect(report.sources.find((s) => s.name === 'stream')).toMatchObject({
      type: 'defender_streaming',
      resources: [],
      budget: null,
      partitions: [
        { partition: '0', owner: replica, owner_live: true, checkpoint_sequence_number: expect.any(Number) },
        { partition: '1', owner: replica, owner_live: true, checkpoint_sequence_number: expect.any(Number) },
      ],
    });
    const text = await runCli(['status', '--config', config]);
    expect(text.stdout).toMatch(new RegExp(`stream partitions: 0→${replica} @\\d+, 1→${replica} @\\d+`));
  }, 150_000);
});
