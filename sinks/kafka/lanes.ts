/**
 * The `kafka` sink's client and its idempotent producers. Sends on one producer are serialized (its sequence
 * numbers are per producer, and a concurrent send would share and roll them back), so `concurrency` is the number
 * of lanes, each with its own producer: a delivery takes the least busy lane and queues behind its send in
 * progress, and lanes send in parallel.
 */
import kafkajs, { type Kafka, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaSinkConfig } from './config.js';
import { kafkaLogCreator, saslOptions, tlsOptions } from './client.js';

// kafkajs is CommonJS and builds some exports in ways Node's ESM loader cannot see by name: take them off the module.
const { Kafka: KafkaClient, logLevel, Partitioners } = kafkajs;

/**
 * kafkajs's own retries stay few and quick: they ride out a leader move or a topic being auto-created within one
 * delivery; anything longer is the pipeline's business (backoff, metrics, dead letters).
 */
const RETRY = { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 };

/** One idempotent producer and the send in progress on it. */
export interface Lane {
  connected: Promise<Producer> | undefined;
  tail: Promise<unknown>;
  pending: number;
}

export class Lanes {
  private kafka: Kafka | undefined;
  private readonly lanes: Lane[];
  /** The disconnects of producers retired by `reset`. */
  private retired: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: KafkaSinkConfig,
    private readonly logger: Logger,
  ) {
    this.lanes = Array.from({ length: config.concurrency }, () => ({
      connected: undefined,
      tail: Promise.resolve(),
      pending: 0,
    }));
  }

  /** Validates the settings that need the runtime (TLS files) and builds the client; throws what to fix. */
  client(): Kafka {
    if (this.kafka) return this.kafka;
    const { config, logger } = this;
    const timeout = config.request_timeout_ms;
    return (this.kafka = new KafkaClient({
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
  }

  /** The lane's producer, connecting it first if needed; a failed connect is forgotten so the next one tries again. */
  connect(lane: Lane = this.lanes[0]!): Promise<Producer> {
    if (lane.connected) return lane.connected;
    const producer = this.client().producer({
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
  }

  /**
   * After a failed send the idempotent producer's sequence numbers cannot be trusted: kafkajs rolls them back even
   * for partitions the broker may have written, and the broker would then take the next batch for a duplicate and
   * drop it. A fresh producer (new producer id) re-sends what failed, at worst twice, never losing a record.
   */
  reset(lane: Lane): void {
    const old = lane.connected;
    lane.connected = undefined;
    this.retired = Promise.all([this.retired, old?.then((p) => p.disconnect()).catch(() => undefined)]);
  }

  /**
   * Runs `send` on the least busy lane, after its send in progress: one send at a time per producer (concurrent
   * sends would share and roll back its sequence numbers).
   */
  async run(send: (lane: Lane) => Promise<void>): Promise<void> {
    const lane = this.lanes.reduce((a, b) => (b.pending < a.pending ? b : a));
    lane.pending++;
    const run = lane.tail.then(() => send(lane));
    lane.tail = run.catch(() => undefined).finally(() => lane.pending--);
    await run;
  }

  /** Waits for the retired producers, then disconnects every lane's. */
  async close(): Promise<void> {
    await this.retired;
    await Promise.all(
      this.lanes.map((lane) => {
        const c = lane.connected;
        lane.connected = undefined;
        return c?.then(
          (p) => p.disconnect(),
          () => undefined,
        );
      }),
    );
  }
}
