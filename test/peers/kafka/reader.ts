/**
 * Reads back what a Kafka topic holds, for tests and benches: a real kafkajs consumer (its own group, from the
 * beginning) that keeps every message, and `caughtUp()`, which waits until it has read up to the high watermark
 * the broker reports now — so "what the broker has" is exact at the moment it is asked, not eventually.
 */
import { randomBytes } from 'node:crypto';
import kafkajs, { type Consumer } from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

export interface ReadMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** Creates topics with the given partition count (tests pick 1 when they compare arrival order exactly). */
export async function createTopics(brokers: string[], topics: string[], numPartitions = 1): Promise<void> {
  const admin = new Kafka({ clientId: 'test-admin', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions, replicationFactor: 1 })),
      waitForLeaders: true,
    });
    // `waitForLeaders` waits for the controller's metadata; a partition's leader can still answer NOT_LEADER for a
    // moment after (KRaft propagates leadership asynchronously). Ready means every partition answers ListOffsets.
    const deadline = Date.now() + 30_000;
    for (const topic of topics) {
      for (;;) {
        const ok = await admin
          .fetchTopicOffsets(topic)
          .then((parts) => parts.length === numPartitions)
          .catch(() => false);
        if (ok) break;
        if (Date.now() > deadline)
          throw new Error(`kafka: topic ${topic} has no leader for every partition after 30 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** The high watermark of every partition of `topics`: the offset the next message will get. */
export async function highWatermarks(brokers: string[], topics: string[]): Promise<Map<string, number>> {
  const admin = new Kafka({ clientId: 'test-admin', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const out = new Map<string, number>();
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) out.set(`${topic}:${p.partition}`, Number(p.high));
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

export class TopicReader {
  readonly messages: ReadMessage[] = [];
  /** Next offset to read, per `topic:partition`. */
  private readonly next = new Map<string, number>();

  private constructor(
    private readonly brokers: string[],
    private readonly topics: string[],
    private readonly consumer: Consumer,
  ) {}

  static async open(brokers: string[], topics: string[]): Promise<TopicReader> {
    const kafka = new Kafka({ clientId: 'test-reader', brokers, logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `reader-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 100 });
    const reader = new TopicReader(brokers, topics, consumer);
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = String(v);
          reader.messages.push({
            topic: batch.topic,
            partition: batch.partition,
            offset: Number(m.offset),
            key: m.key?.toString() ?? '',
            value: m.value?.toString() ?? '',
            headers,
          });
        }
        const last = batch.messages.at(-1);
        if (last) reader.next.set(`${batch.topic}:${batch.partition}`, Number(last.offset) + 1);
      },
    });
    return reader;
  }

  /** Every message the topics hold right now, in the order read (offset order within a partition). */
  async caughtUp(timeoutMs = 30_000): Promise<ReadMessage[]> {
    const targets = await highWatermarks(this.brokers, this.topics);
    const deadline = Date.now() + timeoutMs;
    const behind = () => [...targets].filter(([tp, high]) => (this.next.get(tp) ?? 0) < high);
    while (behind().length > 0) {
      if (Date.now() > deadline)
        throw new Error(
          `reader still behind on ${behind()
            .map(([tp, h]) => `${tp} (at ${this.next.get(tp) ?? 0} of ${h})`)
            .join(', ')}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.messages;
  }

  async close(): Promise<void> {
    await this.consumer.disconnect();
  }
}

/** Opens a reader, reads everything the topics hold, closes it. */
export async function readAll(brokers: string[], topics: string[], timeoutMs?: number): Promise<ReadMessage[]> {
  const reader = await TopicReader.open(brokers, topics);
  try {
    return [...(await reader.caughtUp(timeoutMs))];
  } finally {
    await reader.close();
  }
}
