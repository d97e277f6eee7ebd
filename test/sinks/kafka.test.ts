/**
 * The `kafka` sink against a real Apache Kafka broker (KRaft, started from Maven Central jars by
 * test/peers/kafka/broker.ts): the conformance suite, authentication and authorization, and the real pipeline
 * end to end — 100,000 records read back exactly, a broker killed with -9 mid-stream, an oversize record, a topic
 * per resource. One broker for the whole file; each test uses its own topics.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaSink, type KafkaSink, type KafkaSinkOptions } from '../../sinks/kafka/index.js';
import { createSink } from '../../sinks/registry.js';
import { KafkaSinkSchema } from '../../src/config/sinks.js';
import type { AlertRecord, Sink } from '../../sinks/types.js';
import { classify } from '../../src/pipeline/retry.js';
import { sinkFormat } from '../../src/record/format.js';
import { normalize } from '../../src/record/normalize.js';
import { rowRecord } from '../../src/sources/streaming/message.js';
import { captureLogger } from '../helpers/graph.js';
import { cleanup, metricValue, silentLogger, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { record, records } from '../helpers/records.js';
import { emitPerKeyOrder, perKeyOrderProblems, revision } from '../helpers/per-key-order.js';
import { loadSample } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait.js';
import { KAFKA_USERS, startKafkaBroker, unsecuredJwt, type KafkaBroker } from '../peers/kafka/broker.js';
import { createTopics, readAll, TopicReader, type ReadMessage } from '../peers/kafka/reader.js';
import { sinkConformance } from './conformance.js';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes } = kafkajs;

let broker: KafkaBroker;
const tmp = mkdtempSync(join(tmpdir(), 'ab-kafka-test-'));

beforeAll(async () => {
  // Cold, this downloads Kafka's jars with Maven once (~50 MB); warm, it is a JVM start of ~10 s.
  broker = await startKafkaBroker();
  // bob may write to `bob-only` and nothing else: the broker's authorizer refuses him everywhere else.
  const admin = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createAcls({
    acl: [
      {
        resourceType: AclResourceTypes.TOPIC,
        resourceName: 'bob-only',
        resourcePatternType: ResourcePatternTypes.LITERAL,
        principal: 'User:bob',
        host: '*',
        operation: AclOperationTypes.WRITE,
        permissionType: AclPermissionTypes.ALLOW,
      },
    ],
  });
  await admin.disconnect();
}, 15 * 60_000);

afterAll(async () => {
  await broker?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const uniqueTopic = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
const ident = (r: { key: string; revision: string }) => `${r.key}@${r.revision}`;
const identOf = (m: ReadMessage) => `${m.key}@${m.headers['alertbridge-revision']}`;

function kafkaSink(
  config: Partial<KafkaSinkOptions> & { name?: string } = {},
  logger: Logger = silentLogger,
): KafkaSink {
  return createKafkaSink({
    config: KafkaSinkSchema.parse({
      type: 'kafka',
      name: 'kafka',
      brokers: broker.brokers,
      request_timeout_ms: 10_000,
      ...config,
    }),
    logger,
    ...sinkFormat('envelope'),
  });
}

sinkConformance('kafka', {
  async healthy(name) {
    const topic = uniqueTopic('conf');
    await createTopics(broker.brokers, [topic], 1); // one partition: arrival order is send order
    return {
      sink: kafkaSink({ name, topic }),
      delivered: async () => (await readAll(broker.brokers, [topic])).map(identOf),
    };
  },
  async permanentlyFailing(name) {
    // A topic Kafka never lets a client write to, its internal one: INVALID_TOPIC_EXCEPTION. (Names it could never
    // have, like "..", are refused by the config; refused credentials pause the sink instead.)
    return { sink: kafkaSink({ name, topic: '__consumer_offsets' }), delivered: async () => [] };
  },
  async retryablyFailing(name) {
    // Nothing listens there (a broker that is down): connection refused, retried by the pipeline.
    return { sink: kafkaSink({ name, brokers: ['127.0.0.1:1'], request_timeout_ms: 1000 }), delivered: async () => [] };
  },
  async refusingCredentials(name) {
    // A wrong SASL password in password_file; the operator rotates the Secret to the right one.
    const topic = uniqueTopic('conf-pause');
    await createTopics(broker.brokers, [topic], 1);
    const file = join(tmp, `conformance-password-${topic}`);
    writeFileSync(file, 'wrong-password-123\n');
    const sasl = { mechanism: 'scram-sha-256' as const, username: 'alice', password: 'wrong-password-123' };
    return {
      sink: kafkaSink({
        name,
        brokers: broker.saslBrokers,
        topic,
        auth_pause_ms: 100,
        sasl: { ...sasl, password_file: file },
      }),
      delivered: async () => (await readAll(broker.brokers, [topic])).map(identOf),
      fixCredentials: () => writeFileSync(file, `${KAFKA_USERS.alice.password}\n`),
    };
  },
});

describe('kafka sink', () => {
  const sinks: Sink[] = [];
  let tp: TestPipeline | undefined;
  const open = (config: Parameters<typeof kafkaSink>[0] = {}, logger?: Logger) => {
    const s = kafkaSink(config, logger);
    sinks.push(s);
    return s;
  };
  afterEach(async () => {
    await cleanup(tp);
    tp = undefined;
    for (const s of sinks.splice(0)) await s.close();
  });

  it('produces key, value and the five alertbridge headers; all revisions of an alert on one partition', async () => {
    const topic = uniqueTopic('shape');
    await createTopics(broker.brokers, [topic], 3);
    const sink = open({ topic });
    await sink.start();
    const batch = [...records(10), ...Array.from({ length: 10 }, (_, i) => revision(i, 2))];
    await sink.send(batch);
    const got = await readAll(broker.brokers, [topic]);
    expect(got).toHaveLength(20);
    const r = batch[3]!;
    const m = got.find((x) => identOf(x) === ident(r))!;
    expect(m.key).toBe(r.key);
    expect(JSON.parse(m.value)).toEqual(r);
    expect(m.headers).toEqual({
      'alertbridge-key': r.key,
      'alertbridge-revision': r.revision,
      'alertbridge-resource': 'alerts_v2',
      'alertbridge-provider': 'microsoftDefenderForEndpoint',
      'alertbridge-tenant': r.tenant_id,
    });
    const partitionOf = new Map<string, Set<number>>();
    for (const x of got) partitionOf.set(x.key, (partitionOf.get(x.key) ?? new Set()).add(x.partition));
    expect([...partitionOf.values()].every((p) => p.size === 1)).toBe(true);
    expect(new Set(got.map((x) => x.partition)).size).toBeGreaterThan(1);
  });

  it('is reached through the registry with a config the schema validated', async () => {
    const topic = uniqueTopic('registry');
    await createTopics(broker.brokers, [topic], 1);
    const config = KafkaSinkSchema.parse({
      type: 'kafka',
      name: 'from-config',
      brokers: broker.brokers,
      topic,
      compression: 'gzip',
    });
    const sink = createSink(config, silentLogger, sinkFormat(config.format));
    sinks.push(sink);
    expect(sink.type).toBe('kafka');
    await sink.start();
    await sink.send(records(4));
    expect((await readAll(broker.brokers, [topic])).map(identOf)).toEqual(records(4).map(ident));
  });

  it('classifies a topic the broker refuses (its internal one) as permanent', async () => {
    const sink = open({ topic: '__consumer_offsets' });
    await sink.start();
    const err = await sink.send(records(1)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(classify(err)).toBe('permanent');
    expect((err as Error).message).toMatch(
      /^sending 1 record\(s\) to kafka 'kafka' \(topic __consumer_offsets\): .*\[INVALID_TOPIC_EXCEPTION\]$/,
    );
  });

  it.each(['snappy', 'lz4', 'zstd', 'none'] as const)(
    'produces with compression %s: read back exactly, also from a topic the broker recompresses',
    async (compression) => {
      // compression.type=producer keeps our batches as sent; gzip makes the broker decode them (and re-encode).
      const [asSent, recompressed] = [uniqueTopic(`${compression}-kept`), uniqueTopic(`${compression}-gzip`)];
      const admin = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: asSent, configEntries: [{ name: 'compression.type', value: 'producer' }] },
          { topic: recompressed, configEntries: [{ name: 'compression.type', value: 'gzip' }] },
        ].map((t) => ({ ...t, numPartitions: 1 })),
      });
      await admin.disconnect();
      // 200 KB of varied JSON in one record: several LZ4 blocks (64 KB each), a real zstd window.
      const batch = [
        ...records(40),
        { ...record(99), data: { ...record(99).data, blob: randomBytes(100_000).toString('hex') } },
      ];
      for (const topic of [asSent, recompressed]) {
        const sink = open({ topic, compression });
        await sink.start();
        expect(await sink.send(batch)).toBeUndefined();
        const got = await readAll(broker.brokers, [topic]);
        expect(got.map(identOf)).toEqual(batch.map(ident));
        expect(got.map((m) => JSON.parse(m.value) as AlertRecord)).toEqual(batch);
      }
    },
  );

  describe('SASL', () => {
    const tokenFile = join(tmp, 'token');
    it.each([
      ['plain', { mechanism: 'plain', ...KAFKA_USERS.alice }],
      ['scram-sha-256', { mechanism: 'scram-sha-256', ...KAFKA_USERS.alice }],
      ['scram-sha-512', { mechanism: 'scram-sha-512', ...KAFKA_USERS.alice }],
      ['oauthbearer (token)', { mechanism: 'oauthbearer', oauth_token: unsecuredJwt('alice') }],
      ['oauthbearer (token file)', { mechanism: 'oauthbearer', oauth_token_file: tokenFile }],
    ] as const)('authenticates with %s', async (_label, sasl) => {
      writeFileSync(tokenFile, `${unsecuredJwt('alice')}\n`);
      const topic = uniqueTopic('sasl');
      const sink = open({ brokers: broker.saslBrokers, topic, sasl });
      await sink.start();
      await sink.send(records(3));
      expect((await readAll(broker.brokers, [topic])).map(identOf)).toHaveLength(3);
    });

    it('pauses on a wrong password (retryable, ready() false, one error log without the secret); the rotated password_file resumes it', async () => {
      const file = join(tmp, 'password');
      writeFileSync(file, 'wrong-password-123\n');
      const topic = uniqueTopic('rotate');
      const { logger, lines } = captureLogger();
      const sink = open(
        {
          brokers: broker.saslBrokers,
          topic,
          auth_pause_ms: 250,
          sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 'wrong-password-123', password_file: file },
        },
        logger,
      );
      await sink.send(records(1)).catch(() => undefined); // whatever start() did, a delivery has now been refused
      expect(sink.ready()).toBe(false);
      const err = await sink.send(records(2)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(classify(err)).toBe('retryable');
      expect(err).toMatchObject({ retryAfterMs: 250 });
      expect((err as Error).message).toMatch(
        /SASL SCRAM SHA256 authentication failed.*; sink paused until the credentials are fixed$/,
      );
      const paused = lines.filter((l) => l.level === 50 && String(l.msg).startsWith("kafka 'kafka' paused"));
      expect(paused).toHaveLength(1);
      expect(JSON.stringify(lines)).not.toContain('wrong-password-123');

      writeFileSync(file, `${KAFKA_USERS.alice.password}\n`);
      await sink.send(records(2));
      expect(sink.ready()).toBe(true);
      expect(lines.some((l) => l.level === 30 && String(l.msg).startsWith("kafka 'kafka' resumed"))).toBe(true);
      expect(await readAll(broker.brokers, [topic])).toHaveLength(2);
    });

    it('pauses on a topic the authorizer refuses (TOPIC_AUTHORIZATION_FAILED), and writes where an ACL allows', async () => {
      await createTopics(broker.brokers, ['bob-only'], 1).catch(() => undefined);
      const allowed = open({
        brokers: broker.saslBrokers,
        topic: 'bob-only',
        sasl: { mechanism: 'plain', ...KAFKA_USERS.bob },
      });
      await allowed.start();
      await allowed.send(records(2));
      expect(allowed.ready()).toBe(true);
      const denied = open({
        brokers: broker.saslBrokers,
        topic: uniqueTopic('not-bobs'),
        sasl: { mechanism: 'plain', ...KAFKA_USERS.bob },
      });
      const err = await denied.send(records(2)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(classify(err)).toBe('retryable');
      expect((err as Error).message).toMatch(
        /\[TOPIC_AUTHORIZATION_FAILED\]; sink paused until the credentials are fixed$/,
      );
      expect(denied.ready()).toBe(false);
    });
  });

  describe('topic templates and ACLs', () => {
    it('dead-letters the records of a topic the authorizer refuses when others are allowed; pauses when all are refused', async () => {
      await createTopics(broker.brokers, ['bob-only'], 1).catch(() => undefined);
      const before = (await readAll(broker.brokers, ['bob-only'])).length;
      const sink = open({
        brokers: broker.saslBrokers,
        topic: 'bob-{tenant}',
        sasl: { mechanism: 'plain', ...KAFKA_USERS.bob },
      });
      await sink.start();
      const batch = [
        record(1, { source: 'mssp/only' }),
        record(2, { source: 'mssp/other' }),
        record(3, { source: 'mssp/only' }),
      ];
      const res = await sink.send(batch);
      expect(res?.failed.map((f) => [f.index, classify(f.error)])).toEqual([[1, 'permanent']]);
      expect(res!.failed[0]!.error.message).toBe(
        "kafka 'kafka': topic bob-other: the authorizer refuses writes to it (add an ACL); fix it and replay the dead letters [TOPIC_AUTHORIZATION_FAILED]",
      );
      expect(sink.ready()).toBe(true);
      expect((await readAll(broker.brokers, ['bob-only'])).slice(before).map((m) => m.key)).toEqual([
        batch[0]!.key,
        batch[2]!.key,
      ]);
      // Every topic refused: the credentials, not a destination, are wrong — the sink pauses as without a template.
      const err = await sink.send([record(4, { source: 'mssp/x' }), record(5, { source: 'mssp/y' })]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(classify(err)).toBe('retryable');
      expect((err as Error).message).toMatch(
        /\[TOPIC_AUTHORIZATION_FAILED\]; sink paused until the credentials are fixed$/,
      );
      expect(sink.ready()).toBe(false);
    });
  });

  describe('TLS', () => {
    it('produces over mutual TLS with ca_file, cert_file and key_file', async () => {
      const topic = uniqueTopic('tls');
      const { caFile, certFile, keyFile } = broker.tls;
      const sink = open({
        brokers: broker.tlsBrokers,
        topic,
        tls: { enabled: true, ca_file: caFile, cert_file: certFile, key_file: keyFile },
      });
      await sink.start();
      await sink.send(records(3));
      expect(await readAll(broker.brokers, [topic])).toHaveLength(3);
    });

    it('refuses a broker certificate it cannot verify (retryable: the records stay queued)', async () => {
      const { certFile, keyFile } = broker.tls;
      const sink = open({ brokers: broker.tlsBrokers, tls: { enabled: true, cert_file: certFile, key_file: keyFile } });
      const err = await sink.send(records(1)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(classify(err)).toBe('retryable');
      expect((err as Error).message).toMatch(/self.signed certificate in certificate chain/i);
    });

    it('says which TLS file it cannot read, at start', async () => {
      await expect(
        open({ brokers: broker.tlsBrokers, tls: { enabled: true, ca_file: join(tmp, 'missing.pem') } }).start(),
      ).rejects.toThrow(`kafka sink 'kafka': cannot read tls.ca_file ${join(tmp, 'missing.pem')}: ENOENT`);
    });
  });

  describe('through the pipeline', () => {
    it('delivers 100,000 records (25,000 alerts × 4 revisions) exactly once each, in order per alert', async () => {
      const topic = uniqueTopic('e2e');
      await createTopics(broker.brokers, [topic], 3);
      const sink = open({ topic });
      tp = await startTestPipeline([{ sink, maxRecords: 500 }]);
      const t0 = Date.now();
      const all = await emitPerKeyOrder(tp.pipeline, { alerts: 25_000 });
      await waitFor(
        async () =>
          (await metricValue(tp!.metrics, 'alertbridge_records_delivered_total', { sink: 'kafka' })) >= 100_000,
        { timeoutMs: 300_000, intervalMs: 100, what: '100,000 deliveries' },
      );
      const seconds = (Date.now() - t0) / 1000;
      const got = await readAll(broker.brokers, [topic]);
      console.log(
        `[kafka] 100,000 records through the pipeline in ${seconds.toFixed(1)} s (${Math.round(100_000 / seconds)} records/s)`,
      );

      expect(got).toHaveLength(100_000);
      expect(new Set(got.map(identOf))).toEqual(new Set(all.map(ident)));
      expect(await tp.pipeline.deadLetters.count('kafka')).toBe(0);
      const inOrder = [...got].sort((x, y) => x.partition - y.partition || x.offset - y.offset);
      const arrivals = inOrder.map((m) => ({
        key: m.key,
        revision: m.headers['alertbridge-revision']!,
        partition: m.partition,
      }));
      expect(perKeyOrderProblems(all, arrivals)).toEqual([]);
      const wrong = got.filter((m) => {
        const r = JSON.parse(m.value) as AlertRecord;
        const expected = {
          'alertbridge-key': r.key,
          'alertbridge-revision': r.revision,
          'alertbridge-resource': r.resource,
          'alertbridge-provider': r.provider,
          'alertbridge-tenant': r.tenant_id,
        };
        return m.key !== r.key || JSON.stringify(m.headers) !== JSON.stringify(expected);
      });
      expect(wrong, 'messages whose key or headers do not match their value').toEqual([]);
    }, 360_000);

    it('loses nothing when the broker is killed (-9) and restarted mid-stream', async () => {
      const topic = uniqueTopic('chaos');
      await createTopics(broker.brokers, [topic], 3);
      const sink = open({ topic, request_timeout_ms: 3000 });
      tp = await startTestPipeline([{ sink, maxRecords: 200, maxAttempts: 10_000 }]);
      const batch = records(10_000);
      for (let i = 0; i < batch.length; i += 1000) await tp.pipeline.emit(batch.slice(i, i + 1000));
      const delivered = () => metricValue(tp!.metrics, 'alertbridge_records_delivered_total', { sink: 'kafka' });
      await waitFor(async () => (await delivered()) >= 2000, {
        timeoutMs: 30_000,
        what: '2,000 deliveries before the kill',
      });
      await broker.kill();
      const atKill = await delivered();
      await new Promise((r) => setTimeout(r, 1000));
      await broker.restart();
      await waitFor(async () => (await delivered()) >= 10_000, {
        timeoutMs: 90_000,
        intervalMs: 100,
        what: '10,000 deliveries after the restart',
      });
      await waitFor(() => tp!.pipeline.idle());
      const got = await readAll(broker.brokers, [topic]);
      const unique = new Set(got.map(identOf));
      const failures = await metricValue(tp.metrics, 'alertbridge_delivery_errors_total', {
        sink: 'kafka',
        kind: 'retryable',
      });
      console.log(
        `[kafka] kill -9 after ${atKill} deliveries: ${failures} record attempt(s) failed while it was down; ` +
          `${got.length} messages on the topic, ${unique.size} distinct, ${got.length - unique.size} duplicate(s)`,
      );
      expect(failures).toBeGreaterThan(0);
      expect(unique).toEqual(new Set(batch.map(ident)));
      expect(await tp.pipeline.deadLetters.count('kafka')).toBe(0);
    }, 150_000);

    it('dead-letters only an oversize record, with the reason, and delivers the rest', async () => {
      const topic = uniqueTopic('big');
      await createTopics(broker.brokers, [topic], 1);
      const sink = open({ topic });
      tp = await startTestPipeline([{ sink, maxRecords: 50 }]);
      const batch = records(50);
      const big = { ...batch[20]!, data: { ...batch[20]!.data, blob: 'x'.repeat(1_100_000) } };
      batch[20] = big;
      await tp.pipeline.emit(batch);
      await waitFor(async () => (await tp!.pipeline.deadLetters.count('kafka')) === 1, { what: 'the dead letter' });
      await waitFor(() => tp!.pipeline.idle());
      const [dl] = await tp.pipeline.deadLetters.list('kafka');
      expect(dl!.record.key).toBe(big.key);
      expect(dl!.error).toMatch(
        new RegExp(
          `^record ${big.key} \\(revision ${big.revision}\\) is \\d+ bytes as a Kafka message, over max_message_bytes 1000000 of kafka sink 'kafka'$`,
        ),
      );
      const got = await readAll(broker.brokers, [topic]);
      expect(new Set(got.map(identOf))).toEqual(new Set(batch.filter((r) => r !== big).map(ident)));
      expect(got).toHaveLength(49);
    });

    it('dead-letters a record the broker refuses as too large (MESSAGE_TOO_LARGE), bisecting its batch', async () => {
      const topic = uniqueTopic('broker-big');
      await createTopics(broker.brokers, [topic], 1);
      const sink = open({ topic, max_message_bytes: 5_000_000, compression: 'none' }); // above the broker's 1 MB message.max.bytes
      tp = await startTestPipeline([{ sink, maxRecords: 20 }]);
      const batch = records(20);
      batch[7] = { ...batch[7]!, data: { ...batch[7]!.data, blob: 'x'.repeat(1_200_000) } };
      await tp.pipeline.emit(batch);
      await waitFor(async () => (await tp!.pipeline.deadLetters.count('kafka')) === 1, { what: 'the dead letter' });
      await waitFor(() => tp!.pipeline.idle());
      const [dl] = await tp.pipeline.deadLetters.list('kafka');
      expect(dl!.record.key).toBe(batch[7]!.key);
      expect(dl!.error).toMatch(/\[MESSAGE_TOO_LARGE\]$/);
      expect(await readAll(broker.brokers, [topic])).toHaveLength(19);
    });

    it('holds records while SASL authentication fails (paused, nothing dead-lettered); the right password on the same prefix delivers them all', async () => {
      const topic = uniqueTopic('held');
      await createTopics(broker.brokers, [topic], 3);
      const wrong = open({
        brokers: broker.saslBrokers,
        topic,
        auth_pause_ms: 100,
        sasl: { mechanism: 'scram-sha-512', username: 'alice', password: 'not-alices' },
      });
      // Two attempts only: a paused sink must not spend them (the refusals below would otherwise dead-letter).
      tp = await startTestPipeline([{ sink: wrong, maxRecords: 50, maxAttempts: 2 }]);
      const prefix = tp.prefix;
      const batch = records(300);
      await tp.pipeline.emit(batch);
      const refused = () =>
        metricValue(tp!.metrics, 'alertbridge_delivery_errors_total', { sink: 'kafka', kind: 'retryable' });
      await waitFor(async () => (await refused()) >= 6, { what: 'several refused deliveries' });
      expect(wrong.ready()).toBe(false);
      expect(await metricValue(tp.metrics, 'alertbridge_sink_ready', { sink: 'kafka' })).toBe(0);
      expect(await tp.pipeline.deadLetters.count('kafka')).toBe(0);
      expect(await metricValue(tp.metrics, 'alertbridge_records_delivered_total', { sink: 'kafka' })).toBe(0);

      await tp.close(); // keep the prefix: the queue survives, as across a restart with a fixed config
      const right = open({
        brokers: broker.saslBrokers,
        topic,
        sasl: { mechanism: 'scram-sha-512', ...KAFKA_USERS.alice },
      });
      tp = await startTestPipeline([{ sink: right, maxRecords: 50 }], { prefix });
      await waitFor(
        async () => (await metricValue(tp!.metrics, 'alertbridge_records_delivered_total', { sink: 'kafka' })) >= 300,
        { what: '300 held records delivered' },
      );
      await waitFor(() => tp!.pipeline.idle());
      const got = await readAll(broker.brokers, [topic]);
      expect(new Set(got.map(identOf))).toEqual(new Set(batch.map(ident)));
      expect(got).toHaveLength(300);
      expect(await tp.pipeline.deadLetters.count('kafka')).toBe(0);
      expect(right.ready()).toBe(true);
    });

    it('routes records to a topic per resource with {resource}', async () => {
      const prefix = uniqueTopic('per');
      const sink = open({ topic: `${prefix}.{resource}` });
      tp = await startTestPipeline([
        { sink, maxRecords: 100, filter: { resources: ['alerts_v2', 'incidents', 'streaming/*'] } },
      ]);
      const incident = loadSample('incident-resource-representation.json');
      const incidents = Array.from({ length: 10 }, (_, i) => {
        const res = normalize('incidents', { ...incident, id: `inc-${i}` }, { source: 'test', via: 'poll' });
        if (!res.ok) throw new Error(res.reason);
        return res.record;
      });
      const alerts = records(15);
      // A streamed table's row: `streaming/DeviceProcessEvents` has a `/`, which no topic name has.
      const properties = { Timestamp: '2026-01-01T00:00:00Z', DeviceId: 'dev1', ReportId: 7, FileName: 'a.exe' };
      const row = rowRecord(
        {
          tenantId: 't',
          table: 'DeviceProcessEvents',
          id: 'dev1|7',
          contentHash: 'sha256:00',
          time: undefined,
          properties,
        },
        'stream',
      );
      await tp.pipeline.emit([...alerts, ...incidents, row]);
      await waitFor(
        async () => (await metricValue(tp!.metrics, 'alertbridge_records_delivered_total', { sink: 'kafka' })) >= 26,
        { what: '26 deliveries' },
      );
      const reader = await TopicReader.open(broker.brokers, [
        `${prefix}.alerts_v2`,
        `${prefix}.incidents`,
        `${prefix}.streaming.DeviceProcessEvents`,
      ]);
      try {
        const got = await reader.caughtUp();
        const topicOf = (r: AlertRecord) => got.find((m) => identOf(m) === ident(r))?.topic;
        expect(alerts.map(topicOf)).toEqual(alerts.map(() => `${prefix}.alerts_v2`));
        expect(incidents.map(topicOf)).toEqual(incidents.map(() => `${prefix}.incidents`));
        expect(topicOf(row)).toBe(`${prefix}.streaming.DeviceProcessEvents`);
        expect(got).toHaveLength(26);
      } finally {
        await reader.close();
      }
    });
  });
});
