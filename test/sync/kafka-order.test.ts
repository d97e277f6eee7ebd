/**
 * The Kafka input of write-back keeps each partition's order into the queue (issue 15), with a real broker and a
 * Redis of its own: messages of one partition land in the source's stream in offset order, each once, also when
 * Redis refuses writes for a while in the middle (the message that could not be queued comes again, before the
 * ones after it, and nothing after it is queued first).
 */
import { Redis } from 'ioredis';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observability/metrics.js';
import { SyncKafkaInput } from '../../src/sync/kafka-input.js';
import { SyncQueue, syncKeys } from '../../src/sync/queue.js';
import { startRedisServer, type RedisServer } from '../../src/util/redis-server.js';
import { captureLogger, graphSourceConfig } from '../helpers/graph.js';
import { uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { startKafkaBroker, type KafkaBroker } from '../peers/kafka/broker.js';
import { createTopics } from '../peers/kafka/reader.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator } from '../../src/simulator/types.js';

const { Kafka, logLevel } = kafkajs;
const TOPIC = 'siem-triage-order';
const T = {
  tenantId: 'aaaaaaaa-0000-4000-8000-0000000ca0de',
  clientId: 'app-sync-kafka-order',
  clientSecret: 'secret-sync-kafka-order',
};
let broker: KafkaBroker;
let server: RedisServer;
let sim: Simulator;

beforeAll(async () => {
  [broker, server, sim] = await Promise.all([startKafkaBroker(), startRedisServer(), startSimulator({ tenants: [T] })]);
  await createTopics(broker.brokers, [TOPIC], 2);
}, 900_000);
afterAll(async () => {
  await sim?.close();
  await server?.stop();
  await broker?.stop();
});

describe('sync.kafka order', () => {
  it('queues the changes of one partition in offset order, also across a time Redis refuses writes', async () => {
    const redis = new Redis(server.url);
    const admin = new Redis(server.url);
    const config = graphSourceConfig(sim, {
      name: 'contoso',
      ...T,
      extra: `    sync:
      enabled: true
      token: t
      kafka: { brokers: [${broker.brokers.join(', ')}], topic: ${TOPIC}, group_id: order-test }`,
    });
    const queue = new SyncQueue(redis, syncKeys(uniquePrefix('sync-kafka-order'), 'contoso'));
    const { logger, lines } = captureLogger();
    const input = new SyncKafkaInput({
      config: config.sync.kafka!,
      source: { name: 'contoso', tenantId: T.tenantId, auth: { token: 't', hmac_replay_window_ms: 300_000 }, queue },
      metrics: new Metrics({ defaultMetrics: false }),
      logger,
    });
    const producer = new Kafka({ clientId: 'siem', brokers: broker.brokers, logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    // Successive decisions on one alert (one key: one partition); each names its step as the assignee.
    const send = (from: number, to: number) =>
      producer.send({
        topic: TOPIC,
        messages: Array.from({ length: to - from }, (_, i) => ({
          key: 'alert-1',
          value: JSON.stringify({ resource: 'alerts_v2', id: 'alert-1', assigned_to: `step-${from + i}@contoso.com` }),
        })),
      });
    const queued = async () => {
      const entries = await redis.xrange(queue.keys.queue, '-', '+');
      const ids = entries.map(([, fields]) => fields[fields.indexOf('c') + 1]!);
      const steps = await Promise.all(ids.map(async (id) => (await queue.get(id))!.change.assigned_to));
      return steps.map((s) => Number(/step-(\d+)@/.exec(String(s))![1]));
    };
    try {
      await input.start();
      await send(0, 5);
      await waitFor(async () => (await queued()).length === 5, { timeoutMs: 120_000, what: 'the first five queued' });

      // Redis refuses writes (no replica to write to): the next messages cannot be queued, and come again.
      await admin.config('SET', 'min-replicas-to-write', '1');
      const failedBefore = lines.length;
      await send(5, 12);
      await waitFor(() => lines.slice(failedBefore).some((l) => /eachMessage|NOREPLICAS/.test(JSON.stringify(l))), {
        timeoutMs: 60_000,
        what: 'a message failing to be queued',
      });
      await admin.config('SET', 'min-replicas-to-write', '0');
      await waitFor(async () => (await queued()).length >= 12, { timeoutMs: 120_000, what: 'all twelve queued' });

      expect(await queued()).toEqual(Array.from({ length: 12 }, (_, i) => i));
    } finally {
      await admin.config('SET', 'min-replicas-to-write', '0').catch(() => undefined);
      await producer.disconnect();
      await input.stop();
      redis.disconnect();
      admin.disconnect();
    }
  }, 600_000);
});
