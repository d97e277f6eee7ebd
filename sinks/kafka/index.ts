/**
 * `kafka` sink: one message per record, produced with kafkajs by an idempotent producer with `acks: -1`, so a
 * batch counts as delivered only once every in-sync replica has it.
 *
 * Message key = the record `key`, so every revision of an alert lands on one partition, in order; value = the
 * formatted record (JSON); headers `alertbridge-key`, `-revision`, `-resource`, `-provider`, `-tenant` let
 * consumers route without parsing the value (CONTRACT.md). The topic may be a template of the record's fields
 * (src/record/name-template.ts, through the kit): a batch's records then go to their topics in one produce request.
 */
import kafkajs, { type IHeaders, type Kafka, type Producer, type TopicMessages } from 'kafkajs';
import {
  AuthPause,
  KAFKA_TOPIC,
  Lifecycle,
  NameTemplate,
  PermanentError,
  RetryableError,
  type AlertRecord,
  type SendResult,
  type Sink,
  type SinkContext,
} from '../kit.js';
import { loadCodec } from './codecs.js';
import type { KafkaSinkConfig } from './config.js';
import { CREDENTIALS_REFUSED, kafkaLogCreator, saslOptions, tlsOptions } from './client.js';

export type { KafkaSinkConfig, KafkaSinkOptions } from './config.js';

export interface KafkaSink extends Sink {
  /**
   * False while the brokers refuse authentication or authorization, or the topic does not exist: for `/readyz`
   * (with `notReadyReason`) and `alertbridge_sink_ready`.
   */
  ready(): boolean;
  notReadyReason(): string | undefined;
}

// kafkajs is CommonJS and builds some exports in ways Node's ESM loader cannot see by name: take them off the module.
const { CompressionTypes, Kafka: KafkaClient, logLevel, Partitioners } = kafkajs;

const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/**
 * kafkajs's own retries stay few and quick: they ride out a leader move or a topic being auto-created within one
 * delivery; anything longer is the pipeline's business (backoff, metrics, dead letters).
 */
const RETRY = { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 };

/** The record or topic can never be accepted: retrying the same records cannot succeed. */
const PERMANENT_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TOPIC_EXCEPTION',
  'POLICY_VIOLATION',
  'UNSUPPORTED_COMPRESSION_TYPE',
]);
/**
 * The brokers refuse who we are or what we may do. Not the records' fault, and the same for every record: the sink
 * pauses (records held, no attempts spent) until an operator fixes the credentials or ACLs (peers-lessons #7).
 */
const AUTH_TYPES = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
]);
/** Thrown by kafkajs for every SASL failure (wrong password, unsupported mechanism), and by our token provider. */
const AUTH_NAMES = new Set(['KafkaJSSASLAuthenticationError', CREDENTIALS_REFUSED]);
/** Idempotent-producer state errors, final for kafkajs but cured by a fresh producer (which the next send gets). */
const PRODUCER_STATE_TYPES = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'DUPLICATE_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_ID_MAPPING',
]);
/** kafkajs wraps the real error in these when its retrier gives up; the wrapper's `retriable: false` says nothing. */
const WRAPPERS = new Set(['KafkaJSNumberOfRetriesExceeded', 'KafkaJSNonRetriableError']);

type KafkaError = Error & { retriable?: boolean; type?: string };

/** Kafka's v2 record format, upper bound: batch header 61 B, record varints ≤ 36 B, ≤ 10 B of lengths per header. */
function encodedSize(key: string, value: Buffer, headers: Record<string, string>): number {
  let size = 61 + 36 + Buffer.byteLength(key) + value.length;
  for (const [k, v] of Object.entries(headers)) size += 10 + Buffer.byteLength(k) + Buffer.byteLength(v);
  return size;
}

/** The kafkajs error that says what happened, under the retrier's wrappers. */
function rootCause(err: unknown): KafkaError {
  if (!(err instanceof Error)) return new Error(String(err));
  let e: KafkaError = err;
  while (WRAPPERS.has(e.name) && e.cause instanceof Error && e.cause !== e) e = e.cause as KafkaError;
  return e;
}

/**
 * One idempotent producer and the send in progress on it. Sends on one producer are serialized (its sequence numbers
 * are per producer, and a concurrent send would share and roll them back), so `concurrency` is the number of lanes:
 * each delivery takes the least busy lane, and lanes send in parallel.
 */
interface Lane {
  connected: Promise<Producer> | undefined;
  tail: Promise<unknown>;
  pending: number;
}

export const createKafkaSink = ({ config, logger, encode }: SinkContext<KafkaSinkConfig>): KafkaSink => {
  const { topic, max_message_bytes: maxBytes, request_timeout_ms: timeout, compression: compressionName } = config;
  const compression = CODECS[compressionName];
  /** The topic of each record (the same for all unless `topic` is a template of their fields). */
  const topicTemplate = NameTemplate.of(topic, KAFKA_TOPIC);
  const templated = topicTemplate.fields.length > 0;
  let kafka: Kafka | undefined;
  const lanes: Lane[] = Array.from({ length: config.concurrency }, () => ({
    connected: undefined,
    tail: Promise.resolve(),
    pending: 0,
  }));
  /** The disconnects of producers retired by `reset`. */
  let retired: Promise<unknown> = Promise.resolve();
  const life = new Lifecycle(`kafka sink '${config.name}'`);
  const pause = new AuthPause({
    pauseMs: config.auth_pause_ms,
    logger,
    fields: { brokers: config.brokers },
    until: 'the credentials are fixed',
    pausedLine: (why) =>
      `kafka '${config.name}' paused: the brokers refuse its credentials (${why}); records stay queued until it is fixed`,
    resumedLine: `kafka '${config.name}' resumed: the brokers accept its credentials`,
    readiness: (why) => `the brokers refuse its credentials: ${why}`,
  });
  /**
   * A topic that does not exist (auto-create off on the brokers): like refused credentials, an operator's job and
   * the same for every record, so the sink pauses; the held deliveries, retried every `auth_pause_ms`, are the
   * probe, and the first that goes through resumes it.
   */
  const missingTopic = new AuthPause({
    pauseMs: config.auth_pause_ms,
    logger,
    fields: { brokers: config.brokers },
    until: 'the topic exists',
    pausedLine: (why) =>
      `kafka '${config.name}' paused: ${why} (are topics auto-created on the brokers?); records stay queued until it is created`,
    resumedLine: `kafka '${config.name}' resumed: its topic exists`,
  });

  /** Validates the settings that need the runtime (TLS files) and builds the client; throws what to fix. */
  const client = (): Kafka => {
    if (kafka) return kafka;
    return (kafka = new KafkaClient({
      clientId: config.client_id,
      brokers: config.brokers,
      ssl: tlsOptions(config.tls, config.name),
      sasl: saslOptions(config.sasl, config.brokers, config.name, logger),
      connectionTimeout: Math.min(timeout, 10_000),
      requestTimeout: timeout,
      retry: RETRY,
      logLevel: logger.isLevelEnabled('debug') ? logLevel.DEBUG : logLevel.INFO,
      logCreator: kafkaLogCreator(logger),
    }));
  };

  const connect = (lane: Lane = lanes[0]!): Promise<Producer> => {
    if (lane.connected) return lane.connected;
    const producer = client().producer({
      idempotent: true,
      maxInFlightRequests: 1,
      retry: RETRY,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    const attempt: Promise<Producer> = producer.connect().then(
      () => producer,
      (err: unknown) => {
        if (lane.connected === attempt) lane.connected = undefined;
        throw err;
      },
    );
    return (lane.connected = attempt);
  };

  /**
   * After a failed send the idempotent producer's sequence numbers cannot be trusted: kafkajs rolls them back even
   * for partitions the broker may have written, and the broker would then take the next batch for a duplicate and
   * drop it. A fresh producer (new producer id) re-sends what failed, at worst twice, never losing a record.
   */
  const reset = (lane: Lane): void => {
    const old = lane.connected;
    lane.connected = undefined;
    retired = Promise.all([retired, old?.then((p) => p.disconnect()).catch(() => undefined)]);
  };

  const isAuthFailure = (root: KafkaError): boolean =>
    AUTH_NAMES.has(root.name) || (root.type !== undefined && AUTH_TYPES.has(root.type));

  const classify = (err: unknown, what: string, topics: string[] = []): Error => {
    const root = rootCause(err);
    if (isAuthFailure(root)) {
      const why = `${root.message}${root.type ? ` [${root.type}]` : ''}`;
      pause.refused(why);
      return pause.refusal(`${what}: ${why}`, err);
    }
    if (root.type === 'UNKNOWN_TOPIC_OR_PARTITION' && topics.length > 0) {
      // kafkajs already asked again a few times (a topic being auto-created appears within them): it is not there.
      const why =
        topics.length === 1 ? `topic ${topics[0]} does not exist` : `one of topics ${topics.join(', ')} does not exist`;
      missingTopic.refused(why);
      return missingTopic.refusal(`${what}: ${why} [${root.type}]`, err);
    }
    if (root instanceof PermanentError || root instanceof RetryableError) return root;
    if ((root instanceof TypeError || root instanceof ReferenceError) && root.retriable === undefined) return root;
    const message = `${what}: ${root.message}${root.type ? ` [${root.type}]` : ''}`;
    if (root.type && PRODUCER_STATE_TYPES.has(root.type)) return new RetryableError(message, { cause: err });
    if ((root.type && PERMANENT_TYPES.has(root.type)) || root.retriable === false)
      return new PermanentError(message, { cause: err });
    return new RetryableError(message, { cause: err });
  };

  /**
   * With a template, a topic that is missing or that the authorizer refuses is one destination among many: the caller
   * sends the topics one by one to find which. `classified` is what the error would be for the sink as a whole.
   */
  class TopicRefused extends Error {
    override name = 'TopicRefused';
    constructor(
      readonly type: string,
      readonly classified: () => Error,
      message: string,
      options: ErrorOptions,
    ) {
      super(message, options);
    }
  }
  const TOPIC_REFUSALS = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'TOPIC_AUTHORIZATION_FAILED']);

  const produce = async (lane: Lane, topicMessages: TopicMessages[], count: number): Promise<void> => {
    const topics = topicMessages.map((t) => t.topic);
    const what = `sending ${count} record(s) to kafka '${config.name}' (topic ${topics.join(', ')})`;
    try {
      await loadCodec(compressionName, config.name);
      const producer = await connect(lane);
      await producer.sendBatch({ topicMessages, acks: -1, timeout, compression });
      pause.accepted();
      missingTopic.accepted();
    } catch (err) {
      reset(lane);
      const type = rootCause(err).type;
      if (templated && type !== undefined && TOPIC_REFUSALS.has(type))
        throw new TopicRefused(type, () => classify(err, what, topics), `${what} [${type}]`, { cause: err });
      throw classify(err, what, topics);
    }
  };

  /**
   * Sends a batch's topics in one request. With a template, when a topic does not exist (a new tenant's, with
   * auto-create off) or the authorizer refuses it (no ACL for it yet), the topics are sent one by one, and the records
   * of a missing or refused one are dead-lettered with the reason (replay them once it is fixed) instead of pausing
   * the sink for every tenant. When the authorizer refuses every topic, the credentials are the problem: the sink
   * pauses as without a template.
   */
  const produceAll = async (
    lane: Lane,
    groups: Array<TopicMessages & { indices: number[] }>,
    failed: SendResult['failed'],
  ): Promise<void> => {
    const count = (list: TopicMessages[]) => list.reduce((n, g) => n + g.messages.length, 0);
    try {
      return await produce(lane, groups, count(groups));
    } catch (err) {
      if (!(err instanceof TopicRefused)) throw err;
      if (groups.length === 1 && err.type === 'TOPIC_AUTHORIZATION_FAILED') throw err.classified();
    }
    const refused: Array<{ group: (typeof groups)[number]; err: TopicRefused }> = [];
    for (const group of groups) {
      try {
        await produce(lane, [group], group.messages.length);
      } catch (err) {
        if (!(err instanceof TopicRefused)) throw err;
        refused.push({ group, err });
      }
    }
    const denied = refused.filter((r) => r.err.type === 'TOPIC_AUTHORIZATION_FAILED');
    if (denied.length === groups.length) throw denied[0]!.err.classified();
    for (const { group, err } of refused) {
      const why =
        err.type === 'TOPIC_AUTHORIZATION_FAILED'
          ? 'the authorizer refuses writes to it (add an ACL)'
          : 'it does not exist (are topics auto-created on the brokers?)';
      const error = new PermanentError(
        `kafka '${config.name}': topic ${group.topic}: ${why}; fix it and replay the dead letters [${err.type}]`,
        { cause: err },
      );
      for (const index of group.indices) failed.push({ index, error });
    }
  };

  const deliver = async (records: readonly AlertRecord[]): Promise<void | SendResult> => {
    const failed: SendResult['failed'] = [];
    const byTopic = new Map<string, TopicMessages & { indices: number[] }>();
    records.forEach((r, index) => {
      let value: Buffer;
      try {
        value = Buffer.from(encode(r));
      } catch (err) {
        failed.push({
          index,
          error: new PermanentError(
            `formatting record ${r.key} for kafka '${config.name}': ${(err as Error).message}`,
            { cause: err },
          ),
        });
        return;
      }
      const headers = {
        'alertbridge-key': r.key,
        'alertbridge-revision': r.revision,
        'alertbridge-resource': r.resource,
        'alertbridge-provider': r.provider,
        'alertbridge-tenant': r.tenant_id,
      };
      const size = encodedSize(r.key, value, headers);
      if (size > maxBytes) {
        failed.push({
          index,
          error: new PermanentError(
            `record ${r.key} (revision ${r.revision}) is ${size} bytes as a Kafka message, ` +
              `over max_message_bytes ${maxBytes} of kafka sink '${config.name}'`,
          ),
        });
        return;
      }
      const rendered = topicTemplate.render(r);
      if (!rendered.ok) {
        failed.push({
          index,
          error: new PermanentError(`record ${r.key}: ${rendered.reason} in kafka sink '${config.name}'`),
        });
        return;
      }
      const name = rendered.name;
      const group = byTopic.get(name) ?? { topic: name, messages: [], indices: [] };
      group.messages.push({ key: r.key, value, headers: headers as IHeaders });
      group.indices.push(index);
      byTopic.set(name, group);
    });
    if (byTopic.size > 0) {
      // One send at a time per producer (concurrent sends would share and roll back its sequence numbers): take
      // the least busy lane and queue behind its send in progress.
      const lane = lanes.reduce((a, b) => (b.pending < a.pending ? b : a));
      lane.pending++;
      const run = lane.tail.then(() => produceAll(lane, [...byTopic.values()], failed));
      lane.tail = run.catch(() => undefined).finally(() => lane.pending--);
      await run;
    }
    return failed.length ? { failed: failed.sort((a, b) => a.index - b.index) } : undefined;
  };

  const sink: KafkaSink = {
    name: config.name,
    type: 'kafka',
    ready: () => !pause.paused && !missingTopic.paused,
    notReadyReason: () => pause.reason ?? missingTopic.reason,
    /** Checks the settings, then connects in the background: a broker that is down must not stop the daemon. */
    async start() {
      await loadCodec(compressionName, config.name);
      client();
      life.background(
        () => connect(),
        (err: unknown) => {
          const root = rootCause(err);
          if (isAuthFailure(root)) classify(err, `connecting kafka sink '${config.name}'`);
          else logger.warn({ err: root.message }, 'connecting to kafka failed; trying again on the first delivery');
        },
      );
    },
    send: (records) => life.track(() => deliver(records)),
    close: () =>
      life.close(async () => {
        await retired;
        await Promise.all(
          lanes.map((lane) => {
            const c = lane.connected;
            lane.connected = undefined;
            return c?.then(
              (p) => p.disconnect(),
              () => undefined,
            );
          }),
        );
      }),
  };
  return sink;
};

/** The registry's name for this sink's factory. */
export const create = createKafkaSink;
