/**
 * `alertbridge doctor` for a `kafka` sink: the brokers answer (metadata, with the sink's TLS and SASL), each topic it
 * writes to exists, and the sink may write to it.
 *
 * The write check produces an empty record batch to partition 0 of the topic. The broker authorizes Write on the
 * topic first (TOPIC_AUTHORIZATION_FAILED) and only then finds the batch empty (INVALID_RECORD), so the answer says
 * whether the sink may write, and nothing is ever appended. `describeAcls` would need Describe on the cluster, which
 * a producer's principal rarely has; the empty produce needs nothing the sink itself does not need. kafkajs has no
 * public call for it: the probe uses its cluster object (a private of the `Kafka` client, kafkajs 2.x), and says so
 * (`skip`) if that ever changes.
 */
import kafkajs, { type Kafka } from 'kafkajs';
import { KAFKA_TOPIC, probeNames, redactUrlsIn, withTimeout, type ProbeResult, type SinkProbe } from '../kit.js';
import { kafkaLogCreator, saslOptions, tlsOptions } from './client.js';
import type { KafkaSinkConfig } from './config.js';

const { Kafka: KafkaClient, logLevel } = kafkajs;

interface ProtocolError extends Error {
  type?: string;
}

/** What kafkajs's private cluster offers that the probe uses. */
interface Cluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number; leader: number }>;
  findBroker(o: { nodeId: number }): Promise<{
    produce(o: {
      acks: number;
      timeout: number;
      topicData: Array<{ topic: string; partitions: Array<{ partition: number; messages: [] }> }>;
    }): Promise<unknown>;
  }>;
}

function privateCluster(kafka: Kafka): Cluster | undefined {
  const key = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const create = key && (kafka as unknown as Record<symbol, unknown>)[key];
  return typeof create === 'function'
    ? (create as (o: object) => Cluster)({ allowAutoTopicCreation: false })
    : undefined;
}

/** Write permission on `topic`, by an empty produce; see the file's comment. */
async function writeCheck(kafka: Kafka, topic: string, timeoutMs: number): Promise<ProbeResult> {
  const cluster = privateCluster(kafka);
  if (!cluster)
    return { check: `write ${topic}`, status: 'skip', detail: 'this kafkajs version offers no way to check it' };
  try {
    await cluster.connect();
    await cluster.addTargetTopic(topic);
    const partition = cluster.findTopicPartitionMetadata(topic)[0];
    if (!partition) return { check: `write ${topic}`, status: 'skip', detail: 'the topic has no partitions' };
    const broker = await cluster.findBroker({ nodeId: partition.leader });
    await broker.produce({
      acks: -1,
      timeout: timeoutMs,
      topicData: [{ topic, partitions: [{ partition: partition.partitionId, messages: [] }] }],
    });
    return { check: `write ${topic}`, status: 'pass', detail: 'the broker takes produce requests for it' };
  } catch (err) {
    const type = (err as ProtocolError).type;
    if (type === 'INVALID_RECORD' || type === 'CORRUPT_MESSAGE')
      return {
        check: `write ${topic}`,
        status: 'pass',
        detail: 'Write is authorized (an empty batch was refused as empty; nothing was written)',
      };
    if (type === 'TOPIC_AUTHORIZATION_FAILED')
      return {
        check: `write ${topic}`,
        status: 'fail',
        detail: 'the broker refuses to let this principal write to the topic (TOPIC_AUTHORIZATION_FAILED)',
        fix: `allow Write (and Describe) on topic ${topic} for the sink's principal, e.g. kafka-acls.sh --add --allow-principal User:<user> --operation Write --operation Describe --topic ${topic}`,
      };
    return {
      check: `write ${topic}`,
      status: 'fail',
      detail: redactUrlsIn((err as Error).message),
      fix: 'see the broker log for this request',
    };
  } finally {
    await cluster.disconnect().catch(() => undefined);
  }
}

export const probe: SinkProbe<KafkaSinkConfig> = async ({ config, logger, timeoutMs, samples }) => {
  const kafka = new KafkaClient({
    clientId: config.client_id,
    brokers: config.brokers,
    ssl: tlsOptions(config.tls, config.name),
    sasl: saslOptions(config.sasl, config.brokers, config.name, logger),
    connectionTimeout: Math.min(timeoutMs, 10_000),
    authenticationTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
    logCreator: kafkaLogCreator(logger),
  });
  const admin = kafka.admin();
  const out: ProbeResult[] = [];
  const brokers = config.brokers.join(', ');
  try {
    try {
      await withTimeout(admin.connect(), timeoutMs, `connecting to ${brokers}`);
      const cluster = await withTimeout(admin.describeCluster(), timeoutMs, 'cluster metadata');
      out.push({
        check: 'reachable',
        status: 'pass',
        detail: `${cluster.brokers.length} broker(s), cluster ${cluster.clusterId}`,
      });
    } catch (err) {
      const e = err as Error;
      const sasl = /SASL|authenticat/i.test(`${e.name} ${e.message}`);
      out.push({
        check: 'reachable',
        status: 'fail',
        detail: `${brokers}: ${redactUrlsIn(e.message)}`,
        fix: sasl
          ? 'the brokers refuse the SASL credentials: check sasl.mechanism, username and password (or the Entra ID app for oauthbearer)'
          : 'check brokers (host:port of the listener for this client), tls.enabled and the network path',
      });
      return out;
    }
    const names = probeNames(config.topic, KAFKA_TOPIC, samples);
    if ('skip' in names) {
      out.push({ check: 'topic', status: 'skip', detail: names.skip });
      return out;
    }
    for (const reason of names.invalid)
      out.push({
        check: 'topic',
        status: 'fail',
        detail: reason,
        fix: "change topic so that every source's records name a valid topic",
      });
    for (const topic of names.names) {
      try {
        const meta = await withTimeout(
          admin.fetchTopicMetadata({ topics: [topic] }),
          timeoutMs,
          `metadata of ${topic}`,
        );
        const partitions = meta.topics[0]?.partitions.length ?? 0;
        out.push({ check: `topic ${topic}`, status: 'pass', detail: `exists, ${partitions} partition(s)` });
      } catch (err) {
        const type = (err as ProtocolError).type;
        out.push(
          type === 'UNKNOWN_TOPIC_OR_PARTITION'
            ? {
                check: `topic ${topic}`,
                status: 'fail',
                detail: 'the topic does not exist (and alertbridge never creates topics)',
                fix: `create it: kafka-topics.sh --bootstrap-server ${config.brokers[0]} --create --topic ${topic} --partitions <n> --replication-factor <n>`,
              }
            : type === 'TOPIC_AUTHORIZATION_FAILED'
              ? {
                  check: `topic ${topic}`,
                  status: 'fail',
                  detail: 'the broker refuses to describe the topic to this principal (TOPIC_AUTHORIZATION_FAILED)',
                  fix: `allow Describe and Write on topic ${topic} for the sink's principal (kafka-acls.sh --add --allow-principal User:<user> --operation Describe --operation Write --topic ${topic})`,
                }
              : {
                  check: `topic ${topic}`,
                  status: 'fail',
                  detail: redactUrlsIn((err as Error).message),
                  fix: 'see the broker log',
                },
        );
        continue;
      }
      out.push(
        await withTimeout(writeCheck(kafka, topic, timeoutMs), timeoutMs, `write check of ${topic}`).catch(
          (err: unknown): ProbeResult => ({
            check: `write ${topic}`,
            status: 'fail',
            detail: (err as Error).message,
            fix: 'check the brokers answer produce requests',
          }),
        ),
      );
    }
    return out;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};
