/**
 * `alertbridge doctor` end to end, through the real CLI: against the simulator (whose tokens carry the roles a tenant
 * was granted), the HEC and Event Hubs peers, a real Kafka broker (with its authorizer) and real redis-servers.
 * Everything right: every check passes, exit 0. Then each thing wrong on purpose — a wrong client secret, a tenant
 * whose token lacks SecurityIncident.Read.All, a wrong HEC token, an unreachable HEC, a missing Kafka topic, a Kafka
 * user without Write, a Redis with allkeys-lru — each gives its own ✗ with its fix, and exit 1; no secret printed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { freePort, startRedisServer, type RedisServer } from '../../src/util/redis-server.js';
import { startBlackhole } from '../helpers/blackhole.js';
import { runCli } from '../helpers/cli.js';
import { e2eWorkspace, graphSourceYaml } from '../helpers/e2e.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/server.js';
import { startHecPeer, type HecPeer } from '../peers/hec/server.js';
import { KAFKA_USERS, startKafkaBroker, type KafkaBroker } from '../peers/kafka/broker.js';
import { createTopics } from '../peers/kafka/reader.js';

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;

const FULL: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-00000000d0c1',
  clientId: 'app-doctor',
  clientSecret: 'secret-doctor-full',
};
const NO_INCIDENTS: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-00000000d0c2',
  clientId: 'app-doctor-2',
  clientSecret: 'secret-doctor-partial',
  roles: ['SecurityAlert.Read.All', 'SecurityEvents.Read.All'],
};
const TOPIC = 'doctor-alerts';
const HEC_TOKEN = 'hec-token-doctor-1234';
const { dir, prefix } = e2eWorkspace('cli-doctor');
let sim: Simulator;
let broker: KafkaBroker;
let hec: HecPeer;
let eh: EventHubsPeer;
let redisOk: RedisServer;
let redisLru: RedisServer;

beforeAll(async () => {
  [sim, broker, hec, eh, redisOk, redisLru] = await Promise.all([
    startSimulator({ tenants: [FULL, NO_INCIDENTS], seed: 18 }),
    startKafkaBroker({ autoCreateTopics: false }),
    startHecPeer({ tokens: [HEC_TOKEN] }),
    startEventHubsPeer({ hubs: { alerts: 2, 'defender-stream': 2 } }),
    startRedisServer(),
    startRedisServer({ args: ['--maxmemory-policy', 'allkeys-lru'] }),
  ]);
  await createTopics(broker.brokers, [TOPIC, `alerts.${FULL.tenantId}`], 2);
  // bob may see the topic but not write to it.
  const admin = new Kafka({ clientId: 'test-admin', brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createAcls({
    acl: [
      {
        resourceType: AclResourceTypes.TOPIC,
        resourceName: TOPIC,
        resourcePatternType: ResourcePatternTypes.LITERAL,
        principal: 'User:bob',
        host: '*',
        operation: AclOperationTypes.DESCRIBE,
        permissionType: AclPermissionTypes.ALLOW,
      },
    ],
  });
  await admin.disconnect();
}, 900_000);
afterAll(async () => {
  await Promise.all([sim?.close(), broker?.stop(), hec?.close(), eh?.close(), redisOk?.stop(), redisLru?.stop()]);
});

interface Line {
  component: string;
  check: string;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  detail: string;
  fix?: string;
}

async function doctor(
  config: string,
  ...args: string[]
): Promise<{ code: number | null; lines: Line[]; text: string }> {
  const r = await runCli(['doctor', '--config', config, '--json', '--timeout', '20000', ...args]);
  let lines: Line[];
  try {
    lines = (JSON.parse(r.stdout) as { checks: Line[] }).checks;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, lines, text: r.stdout + r.stderr };
}

function sinkYaml(o: { hecUrl: string; hecToken: string; topic: string; kafkaSasl?: boolean }): string {
  const kafka = o.kafkaSasl
    ? `{ name: kafka, type: kafka, brokers: [${broker.saslBrokers.join(', ')}], topic: ${o.topic}, sasl: { mechanism: plain, username: bob, password: ${KAFKA_USERS.bob.password} } }`
    : `{ name: kafka, type: kafka, brokers: [${broker.brokers.join(', ')}], topic: ${o.topic} }`;
  return `sinks:
  - { name: file, type: file, path: "${join(dir, 'out', 'alerts.ndjson')}" }
  - { name: splunk, type: splunk_hec, url: "${o.hecUrl}", token: ${o.hecToken} }
  - ${kafka}
  - { name: eventhubs, type: azure_event_hubs, connection_string: "${eh.connectionString('alerts')}" }
`;
}

describe('alertbridge doctor', () => {
  it('passes every check of a right configuration and exits 0', async () => {
    const config = join(dir, 'good.yaml');
    writeFileSync(
      config,
      `redis: { url: "${redisOk.url}", key_prefix: "${prefix}" }
server: { enabled: false }
sources:
${graphSourceYaml(sim, FULL, { name: 'contoso', resources: ['alerts_v2', 'incidents', 'secure_scores'] })}
  - { name: partner, type: webhook, token: partner-token-1234 }
  - name: stream
    type: defender_streaming
    connection_string: "${eh.connectionString('defender-stream')}"
    graph_source: contoso
${sinkYaml({ hecUrl: hec.url, hecToken: HEC_TOKEN, topic: TOPIC })}  - { name: per-tenant, type: kafka, brokers: [${broker.brokers.join(', ')}], topic: "alerts.{tenant_id}" }
  - { name: per-provider, type: kafka, brokers: [${broker.brokers.join(', ')}], topic: "alerts.{provider}" }
`,
    );
    const hecBefore = hec.indexed.length;
    const ehBefore = eh.received.length;
    const { code, lines, text } = await doctor(config);
    expect(
      lines.filter((l) => l.status === 'fail'),
      text,
    ).toEqual([]);
    expect(code).toBe(0);
    const checks = lines.map((l) => `${l.component}/${l.check}`);
    for (const c of [
      'redis/version',
      'redis/persistence',
      'redis/maxmemory-policy',
      'source contoso/token',
      'source contoso/permissions',
      'source contoso/budget',
      'source contoso/read alerts_v2',
      'source contoso/read incidents',
      'source contoso/read secure_scores',
      'source contoso/clock',
      'source partner/push secrets',
      'source stream/event hub',
      'source stream/consumer group $Default',
      'sink file/writable',
      'sink splunk/reachable',
      'sink splunk/token',
      'sink kafka/reachable',
      `sink kafka/topic ${TOPIC}`,
      `sink kafka/write ${TOPIC}`,
      'sink eventhubs/hub',
      // A template of the sources' fields names one topic per tenant, each checked; a record field is checked at delivery.
      `sink per-tenant/topic alerts.${FULL.tenantId}`,
      `sink per-tenant/write alerts.${FULL.tenantId}`,
    ])
      expect(checks, text).toContain(c);
    expect(lines.find((l) => l.component === 'sink per-provider' && l.check === 'topic')!.status).toBe('skip');
    // Harmless: nothing indexed, produced or sent anywhere.
    expect(hec.indexed.length).toBe(hecBefore);
    expect(eh.received.length).toBe(ehBefore);
    const consumer = new Kafka({ clientId: 'test', brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
    await consumer.connect();
    const offsets = await consumer.fetchTopicOffsets(TOPIC);
    await consumer.disconnect();
    expect(offsets.map((o) => o.high)).toEqual(['0', '0']);
    // The reads went through the source's request budget: the tenant's window holds them.
    expect(lines.find((l) => l.check === 'budget')!.detail).toMatch(/^0 of 150/);
    const redis = new Redis(redisOk.url);
    expect(await redis.zcard(`${prefix}:budget:${FULL.tenantId}:${FULL.clientId}`)).toBe(3);
    redis.disconnect();
  });

  it('gives a ✗ with its fix for each wrong setting, prints no secret, and exits 1', async () => {
    const deadHec = `http://127.0.0.1:${await freePort()}`;
    const config = join(dir, 'bad.yaml');
    writeFileSync(
      config,
      `redis: { url: "${redisLru.url}", key_prefix: "${prefix}" }
server: { enabled: false }
sources:
${graphSourceYaml(sim, { ...FULL, clientSecret: 'wrong-secret-5678' }, { name: 'wrong-secret', resources: ['alerts_v2'] })}
${graphSourceYaml(sim, NO_INCIDENTS, { name: 'no-incidents', resources: ['alerts_v2', 'incidents'] })}
  - name: stream
    type: defender_streaming
    connection_string: "${eh.connectionString('defender-stream')}"
    consumer_group: no-such-group
${sinkYaml({ hecUrl: hec.url, hecToken: 'wrong-hec-token', topic: 'no-such-topic' })}
  - { name: dead-hec, type: splunk_hec, url: "${deadHec}", token: ${HEC_TOKEN} }
  - { name: kafka-bob, type: kafka, brokers: [${broker.saslBrokers.join(', ')}], topic: ${TOPIC}, sasl: { mechanism: plain, username: bob, password: ${KAFKA_USERS.bob.password} } }
  - { name: eh-wrong-key, type: azure_event_hubs, connection_string: "${eh.connectionString('alerts', { key: 'd3Jvbmcta2V5LWRvY3Rvcg==' })}" }
  - { name: eh-no-hub, type: azure_event_hubs, connection_string: "${eh.connectionString('no-such-hub')}" }
`,
    );
    const { code, lines, text } = await doctor(config);
    expect(code).toBe(1);
    const failed = (component: string, check: string) => {
      const l = lines.find((x) => x.component === component && x.check === check);
      expect(l, `${component}/${check} in ${text}`).toBeDefined();
      expect(l!.status, text).toBe('fail');
      expect(l!.fix, text).toBeTruthy();
      return l!;
    };
    const token = failed('source wrong-secret', 'token');
    expect(token.detail).toContain('AADSTS7000215');
    expect(token.fix).toContain('Certificates & secrets');
    const perms = failed('source no-incidents', 'permissions');
    expect(perms.detail).toContain('SecurityIncident.Read.All');
    const consent = new URL(/https:\S+adminconsent\S+/.exec(perms.fix!)![0]);
    expect(consent.pathname).toBe(`/${NO_INCIDENTS.tenantId}/v2.0/adminconsent`);
    expect(consent.searchParams.get('client_id')).toBe(NO_INCIDENTS.clientId);
    // One cause, one ✗: the read the token cannot make is not tried.
    expect(lines.find((l) => l.component === 'source no-incidents' && l.check === 'read incidents')!.status).toBe(
      'skip',
    );
    expect(lines.find((l) => l.component === 'source no-incidents' && l.check === 'read alerts_v2')!.status).toBe(
      'pass',
    );
    expect(failed('sink splunk', 'token').detail).toContain('HEC does not know this token');
    expect(failed('sink dead-hec', 'reachable').fix).toContain('check url');
    expect(failed('sink kafka', 'topic no-such-topic').fix).toContain('--create --topic no-such-topic');
    expect(failed('sink kafka-bob', `write ${TOPIC}`).detail).toContain('TOPIC_AUTHORIZATION_FAILED');
    expect(lines.find((l) => l.component === 'sink kafka-bob' && l.check === `topic ${TOPIC}`)!.status).toBe('pass');
    expect(failed('redis', 'maxmemory-policy').fix).toContain('noeviction');
    expect(failed('sink eh-wrong-key', 'hub').fix).toContain('Send');
    expect(failed('sink eh-no-hub', 'hub').fix).toContain('create event hub no-such-hub');
    expect(failed('source stream', 'consumer group no-such-group').fix).toContain(
      'create consumer group no-such-group',
    );
    for (const secret of [
      'wrong-secret-5678',
      'wrong-hec-token',
      KAFKA_USERS.bob.password,
      NO_INCIDENTS.clientSecret,
      'd3Jvbmcta2V5LWRvY3Rvcg==',
    ])
      expect(text).not.toContain(secret);

    // The table a person reads: a ✗ line and its fix under it.
    const table = await runCli(['doctor', '--config', config, '--sink', 'splunk', '--timeout', '20000']);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/✗ +sink splunk +token +HEC refuses the token/);
    expect(table.stdout).toMatch(/\n +fix: set token to an enabled HEC token/);
    expect(table.stdout).not.toContain('source wrong-secret');
  });

  it('four things wrong give exactly four ✗ lines, each with its fix; once fixed, all ✓ and exit 0', async () => {
    const GRANT: TenantCredentials = { ...NO_INCIDENTS };
    const topic = 'created-later';
    const write = (o: { secret: string; hecUrl: string }) => {
      const config = join(dir, 'four.yaml');
      writeFileSync(
        config,
        `redis: { url: "${redisOk.url}", key_prefix: "${prefix}" }
server: { enabled: false }
sources:
${graphSourceYaml(sim, { ...FULL, clientSecret: o.secret }, { name: 'contoso', resources: ['alerts_v2'] })}
${graphSourceYaml(sim, GRANT, { name: 'fabrikam', resources: ['alerts_v2', 'incidents'] })}
sinks:
  - { name: splunk, type: splunk_hec, url: "${o.hecUrl}", token: ${HEC_TOKEN} }
  - { name: kafka, type: kafka, brokers: [${broker.brokers.join(', ')}], topic: ${topic} }
`,
      );
      return config;
    };
    const before = await doctor(write({ secret: 'not-the-secret', hecUrl: `http://127.0.0.1:${await freePort()}` }));
    expect(before.code).toBe(1);
    const fails = before.lines.filter((l) => l.status === 'fail');
    expect(
      fails.map((l) => `${l.component}/${l.check}`),
      before.text,
    ).toEqual([
      'source contoso/token',
      'source fabrikam/permissions',
      'sink splunk/reachable',
      `sink kafka/topic ${topic}`,
    ]);
    for (const l of fails) expect(l.fix, before.text).toBeTruthy();

    // The fixes: the right secret, the admin's consent, the right HEC url, the topic created.
    sim.consent(GRANT.tenantId, undefined);
    try {
      await createTopics(broker.brokers, [topic], 1);
      const after = await doctor(write({ secret: FULL.clientSecret, hecUrl: hec.url }));
      expect(
        after.lines.filter((l) => l.status !== 'pass'),
        after.text,
      ).toEqual([]);
      expect(after.code).toBe(0);
    } finally {
      sim.consent(GRANT.tenantId, NO_INCIDENTS.roles);
    }
  });

  it('bounds every check: peers that accept connections and never answer give ✗, not a hang', async () => {
    const hole = await startBlackhole();
    try {
      const port = new URL(hole.url).port;
      const config = join(dir, 'blackhole.yaml');
      writeFileSync(
        config,
        `redis: { url: "redis://127.0.0.1:${port}/0", key_prefix: "${prefix}" }
server: { enabled: false }
sources:
  - name: silent-graph
    type: graph_security
    tenant_id: ${FULL.tenantId}
    client_id: ${FULL.clientId}
    client_secret: ${FULL.clientSecret}
    graph_url: https://127.0.0.1:${port}
    authority_url: https://127.0.0.1:${port}
    resources: [alerts_v2]
sinks:
  - { name: silent-hec, type: splunk_hec, url: "http://127.0.0.1:${port}", token: ${HEC_TOKEN} }
  - { name: silent-kafka, type: kafka, brokers: ["127.0.0.1:${port}"], topic: ${TOPIC} }
`,
      );
      const r = await runCli(['doctor', '--config', config, '--json', '--timeout', '2000']);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      const lines = (JSON.parse(r.stdout) as { checks: Line[] }).checks;
      for (const component of ['redis', 'source silent-graph', 'sink silent-hec', 'sink silent-kafka'])
        expect(
          lines.some((l) => l.component === component && l.status === 'fail'),
          `${component}: ${r.stdout}`,
        ).toBe(true);
      const token = lines.find((l) => l.component === 'source silent-graph' && l.check === 'token')!;
      expect(token.status).toBe('fail');
      expect(token.fix).toContain('was not reached');
      expect(hole.connections()).toBeGreaterThan(0);
    } finally {
      await hole.close();
    }
  });
});
