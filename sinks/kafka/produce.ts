/**
 * Producing a delivery's topics, and what a missing or refused topic means. Without a template the sink has one
 * topic, and its absence or a refused ACL pauses the sink (refusals.ts). With a template each topic is one
 * destination among many (a new tenant's topic, with auto-create off or no ACL yet): the topics are then sent one
 * by one to find which, and only the records of a missing or refused one are dead-lettered, with the reason, instead
 * of pausing the sink for every tenant.
 */
import kafkajs, { type TopicMessages } from 'kafkajs';
import { PermanentError, type SendResult } from '../kit.js';
import { loadCodec } from './codecs.js';
import type { KafkaSinkConfig } from './config.js';
import { rootCause } from './errors.js';
import type { Lane, Lanes } from './lanes.js';
import type { TopicGroup } from './messages.js';
import type { Refusals } from './refusals.js';

const { CompressionTypes } = kafkajs;

const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
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

export class Produce {
  private readonly compression: (typeof CODECS)[keyof typeof CODECS];

  /** @param templated the topic is a template of the records' fields. */
  constructor(
    private readonly config: KafkaSinkConfig,
    private readonly lanes: Lanes,
    private readonly refusals: Refusals,
    private readonly templated: boolean,
  ) {
    this.compression = CODECS[config.compression];
  }

  private async produce(lane: Lane, topicMessages: TopicMessages[], count: number): Promise<void> {
    const { config, compression } = this;
    const topics = topicMessages.map((t) => t.topic);
    const what = `sending ${count} record(s) to kafka '${config.name}' (topic ${topics.join(', ')})`;
    try {
      await loadCodec(config.compression, config.name);
      const producer = await this.lanes.connect(lane);
      await producer.sendBatch({ topicMessages, acks: -1, timeout: config.request_timeout_ms, compression });
      this.refusals.accepted();
    } catch (err) {
      this.lanes.reset(lane);
      const type = rootCause(err).type;
      if (this.templated && type !== undefined && TOPIC_REFUSALS.has(type))
        throw new TopicRefused(type, () => this.refusals.classify(err, what, topics), `${what} [${type}]`, {
          cause: err,
        });
      throw this.refusals.classify(err, what, topics);
    }
  }

  /**
   * Sends a batch's topics in one request. With a template, when a topic does not exist (a new tenant's, with
   * auto-create off) or the authorizer refuses it (no ACL for it yet), the topics are sent one by one, and the records
   * of a missing or refused one are dead-lettered with the reason (replay them once it is fixed) instead of pausing
   * the sink for every tenant. When the authorizer refuses every topic, the credentials are the problem: the sink
   * pauses as without a template.
   */
  async all(lane: Lane, groups: TopicGroup[], failed: SendResult['failed']): Promise<void> {
    const count = (list: TopicMessages[]) => list.reduce((n, g) => n + g.messages.length, 0);
    try {
      return await this.produce(lane, groups, count(groups));
    } catch (err) {
      if (!(err instanceof TopicRefused)) throw err;
      if (groups.length === 1 && err.type === 'TOPIC_AUTHORIZATION_FAILED') throw err.classified();
    }
    const refused: Array<{ group: TopicGroup; err: TopicRefused }> = [];
    for (const group of groups) {
      try {
        await this.produce(lane, [group], group.messages.length);
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
        `kafka '${this.config.name}': topic ${group.topic}: ${why}; fix it and replay the dead letters [${err.type}]`,
        { cause: err },
      );
      for (const index of group.indices) failed.push({ index, error });
    }
  }
}
