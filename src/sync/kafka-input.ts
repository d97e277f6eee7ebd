/**
 * `sync.kafka`: write-back changes read from a Kafka topic, for SIEMs that can only write to one. Each message is
 * what `POST /sync/{source}` takes (one change or an array). Offsets are committed only after the message's changes
 * are durably queued; a message redelivered after a crash (queued, not yet committed) is not queued twice, since each
 * of its changes gets the id `kafka.{topic}.{partition}.{offset}.{index}` unless it names its own `change_id`.
 * A message that is not valid (not JSON, or any change invalid) is logged with its reasons, counted in
 * `alertbridge_sync_rejected_total{reason="invalid"}` and skipped (committed): it would fail the same way forever.
 */
import { readFileSync } from 'node:fs';
import kafkajs, { type Consumer, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { GraphSourceConfig } from '../config/schema.js';
import type { Metrics } from '../observability/metrics.js';
import { sleep } from '../sources/graph/budget.js';
import { queueChanges, type SyncRouteSource } from './route.js';

const { Kafka, logLevel } = kafkajs;

export type SyncKafkaConfig = NonNullable<GraphSourceConfig['sync']['kafka']>;

export interface SyncKafkaInputOptions {
  config: SyncKafkaConfig;
  source: SyncRouteSource;
  waitDurable?: () => Promise<void>;
  metrics: Metrics;
  logger: Logger;
}

/** Wait between two attempts to join the group when the brokers cannot be reached. */
const RECONNECT_MS = 5000;

export class SyncKafkaInput {
  private consumer?: Consumer;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;

  constructor(private readonly opts: SyncKafkaInputOptions) {
    this.log = opts.logger.child({ component: 'sync-kafka', source: opts.source.name, topic: opts.config.topic });
  }

  /** Returns at once; joining the group is retried in the background until it works or the input stops. */
  async start(): Promise<void> {
    this.loop ??= this.join();
  }

  private async join(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        await this.connect();
        return;
      } catch (err) {
        await this.consumer?.disconnect().catch(() => undefined);
        this.consumer = undefined;
        if (signal.aborted) return;
        this.log.error(
          { err: (err as Error).message, retry_in_ms: RECONNECT_MS },
          'sync: the kafka input could not join its consumer group; retrying',
        );
        await sleep(RECONNECT_MS, signal).catch(() => undefined);
      }
    }
  }

  private async connect(): Promise<void> {
    const { config } = this.opts;
    const tls = config.tls.enabled
      ? {
          rejectUnauthorized: config.tls.reject_unauthorized,
          ...(config.tls.ca_file ? { ca: [readFileSync(config.tls.ca_file, 'utf8')] } : {}),
          ...(config.tls.cert_file ? { cert: readFileSync(config.tls.cert_file, 'utf8') } : {}),
          ...(config.tls.key_file ? { key: readFileSync(config.tls.key_file, 'utf8') } : {}),
        }
      : undefined;
    const sasl = config.sasl
      ? ({
          mechanism: config.sasl.mechanism,
          username: config.sasl.username,
          password: config.sasl.password ?? '',
        } as SASLOptions)
      : undefined;
    const kafka = new Kafka({
      clientId: `alertbridge-sync-${this.opts.source.name}`,
      brokers: config.brokers,
      ssl: tls,
      sasl,
      logLevel: logLevel.WARN,
      logCreator: () => (entry) =>
        this.log.warn({ kafka: entry.namespace, msg: entry.log.message }, 'kafka client: %s', entry.log.message),
    });
    const consumer = kafka.consumer({ groupId: config.group_id });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: config.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        await this.handle(topic, partition, message.offset, message.value);
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      },
    });
  }

  /** Queues a message's changes; throws (no commit: the message comes again) only when they could not be queued. */
  private async handle(topic: string, partition: number, offset: string, value: Buffer | null): Promise<void> {
    const where = { partition, offset };
    let body: unknown;
    try {
      body = JSON.parse(value?.toString('utf8') ?? '');
    } catch (err) {
      return this.invalid(where, [`not JSON: ${(err as Error).message}`]);
    }
    const items = (Array.isArray(body) ? body : [body]).map((item, i) =>
      item && typeof item === 'object' && !Array.isArray(item) && !('change_id' in item)
        ? { ...item, change_id: `kafka.${topic}.${partition}.${offset}.${i}` }
        : item,
    );
    const r = await queueChanges(this.opts.source, items, `kafka:${topic}`, this.opts.waitDurable);
    if (!r.ok)
      return this.invalid(
        where,
        r.errors.map((e) => `[${e.index}] ${e.error}`),
      );
    this.log.debug({ ...where, accepted: r.accepted, duplicates: r.duplicates }, 'sync changes queued from kafka');
  }

  private invalid(where: { partition: number; offset: string }, errors: string[]): void {
    this.opts.metrics.syncRejected.inc({ source: this.opts.source.name, reason: 'invalid' });
    this.log.warn(
      { ...where, errors },
      'sync: a kafka message with invalid changes was skipped (nothing of it queued)',
    );
  }

  /** Idempotent; a message being handled is committed or comes again. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    const c = this.consumer;
    this.consumer = undefined;
    await c?.disconnect().catch((err: Error) => this.log.warn({ err: err.message }, 'closing the kafka consumer'));
  }
}
