/**
 * The Kafka input of write-back (issue 15), through `alertbridge run` with a real broker: changes written to the
 * topic are applied once each (one PATCH per alert), an invalid message is skipped, and the group's committed offset
 * reaches the end of the topic once the changes are queued. A restart on the same group reads nothing again.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { spawnCli, type Daemon } from '../helpers/cli.js';
import { redisUrl } from '../helpers/redis.js';
import { e2eWorkspace, graphSourceYaml } from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';
import { startKafkaBroker, type KafkaBroker } from '../peers/kafka/broker.js';
import { createTopics } from '../peers/kafka/reader.js';

const { Kafka, logLevel } = kafkajs;
const T: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-00000000ca7a',
  clientId: 'app-sync-kafka',
  clientSecret: 'secret-sync-kafka',
};
const TOPIC = 'siem-triage';
const GROUP = 'alertbridge-sync-test';
const { dir, prefix } = e2eWorkspace('sync-kafka');
let sim: Simulator;
let broker: KafkaBroker;

beforeAll(async () => {
  [sim, broker] = await Promise.all([startSimulator({ tenants: [T], seed: 21 }), startKafkaBroker()]);
  await createTopics(broker.brokers, [TOPIC], 2);
}, 900_000);
afterAll(async () => {
  await sim?.close();
  await broker?.stop();
});

async function committed(): Promise<number> {
  const admin = new Kafka({ clientId: 'test-admin', brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
    return offsets!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

function startDaemon(config: string): Daemon {
  return spawnCli(['run', '--config', config]);
}

describe('sync.kafka', () => {
  it('applies each change written to the topic once, skips an invalid message, commits after queueing', async () => {
    const alerts = [0, 1, 2, 3].map(() => sim.create(T.tenantId, 'alerts_v2', { status: 'new' }));
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { enabled: false }
log: { level: info, format: json }
pipeline: { takeover_ms: 2000 }
sources:
${graphSourceYaml(sim, T, {
  name: 'contoso',
  resources: ['alerts_v2'],
  extra: `    poll_interval_ms: 5000
    sync:
      enabled: true
      token: unused-here
      kafka: { brokers: [${broker.brokers.join(', ')}], topic: ${TOPIC}, group_id: ${GROUP} }
`,
})}
sinks:
  - { name: out, type: file, path: "${join(dir, 'out.ndjson')}" }
`,
    );
    const producer = new Kafka({ clientId: 'siem', brokers: broker.brokers, logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({
      topic: TOPIC,
      messages: [
        { key: 'a', value: JSON.stringify({ resource: 'alerts_v2', id: alerts[0]!.id, status: 'resolved' }) },
        {
          key: 'b',
          value: JSON.stringify([
            { resource: 'alerts_v2', id: alerts[1]!.id, status: 'inProgress', assigned_to: 'soc@contoso.com' },
            { resource: 'alerts_v2', id: alerts[2]!.id, classification: 'falsePositive' },
          ]),
        },
        { key: 'c', value: 'not json' },
        { key: 'd', value: JSON.stringify({ resource: 'alerts_v2', id: alerts[3]!.id, status: 'closed' }) },
      ],
    });
    let daemon = startDaemon(config);
    try {
      const now = () => sim.list(T.tenantId, 'alerts_v2');
      const byId = (id: unknown) => now().find((a) => a.id === id)!;
      await waitFor(
        () => {
          if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.output()}`);
          return (
            byId(alerts[0]!.id).status === 'resolved' &&
            byId(alerts[1]!.id).assignedTo === 'soc@contoso.com' &&
            byId(alerts[2]!.id).classification === 'falsePositive'
          );
        },
        { timeoutMs: 120_000, what: 'the three valid changes applied' },
      );
      await waitFor(async () => (await committed()) === 4, { timeoutMs: 60_000, what: 'offsets committed' });
      expect(byId(alerts[3]!.id).status).toBe('new');
      expect(daemon.output()).toContain('status \\"closed\\" is not valid for alerts_v2');
      expect(daemon.output()).toContain('not JSON');
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
    // A restart on the same group: nothing is read or applied again.
    const patches = () => sim.requestLog.filter((e) => e.method === 'PATCH').length;
    expect(patches()).toBe(3);
    await producer.send({
      topic: TOPIC,
      messages: [{ key: 'e', value: JSON.stringify({ resource: 'alerts_v2', id: alerts[3]!.id, status: 'resolved' }) }],
    });
    await producer.disconnect();
    daemon = startDaemon(config);
    try {
      await waitFor(
        () => {
          if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.output()}`);
          return sim.list(T.tenantId, 'alerts_v2').find((a) => a.id === alerts[3]!.id)!.status === 'resolved';
        },
        { timeoutMs: 120_000, what: 'the change written while the daemon was down' },
      );
      await waitFor(async () => (await committed()) === 5, { timeoutMs: 60_000, what: 'offsets committed' });
      expect(patches()).toBe(4);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
  }, 600_000);

  it('joins its group once the brokers come up, when they were down at start', async () => {
    const alert = sim.create(T.tenantId, 'alerts_v2', { status: 'new' });
    await broker.kill();
    const daemon = startDaemon(join(dir, 'config.yaml'));
    try {
      await waitFor(
        () => {
          if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.output()}`);
          return daemon.output().includes('could not join its consumer group; retrying');
        },
        { timeoutMs: 120_000, what: 'the input failing to join' },
      );
      await broker.restart();
      const producer = new Kafka({ clientId: 'siem', brokers: broker.brokers, logLevel: logLevel.NOTHING }).producer();
      await producer.connect();
      await producer.send({
        topic: TOPIC,
        messages: [{ key: 'f', value: JSON.stringify({ resource: 'alerts_v2', id: alert.id, status: 'resolved' }) }],
      });
      await producer.disconnect();
      await waitFor(
        () => {
          if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.output()}`);
          return sim.list(T.tenantId, 'alerts_v2').find((a) => a.id === alert.id)!.status === 'resolved';
        },
        { timeoutMs: 180_000, what: 'the change applied once the broker is back' },
      );
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
  }, 600_000);
});
