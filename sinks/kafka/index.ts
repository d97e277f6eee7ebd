/**
 * `kafka` sink: one message per record, produced with kafkajs by an idempotent producer with `acks: -1`, so a
 * batch counts as delivered only once every in-sync replica has it.
 *
 * Message key = the record `key`, so every revision of an alert lands on one partition, in order; value = the
 * formatted record (JSON); headers `alertbridge-key`, `-revision`, `-resource`, `-provider`, `-tenant` let
 * consumers route without parsing the value (CONTRACT.md). The topic may be a template of the record's fields
 * (src/record/name-template.ts, through the kit): a batch's records then go to their topics in one produce request.
 *
 * This file is the sink's story; the pieces live beside it: the client and one producer per lane (lanes.ts),
 * records as messages by topic (messages.ts), producing them and a missing or refused topic (produce.ts), the
 * pauses (refusals.ts), error classification (errors.ts), TLS/SASL options (client.ts) and codecs (codecs.ts).
 */
import {
  KAFKA_TOPIC,
  Lifecycle,
  NameTemplate,
  type AlertRecord,
  type SendResult,
  type Sink,
  type SinkContext,
} from '../kit.js';
import { loadCodec } from './codecs.js';
import type { KafkaSinkConfig } from './config.js';
import { isAuthFailure, rootCause } from './errors.js';
import { Lanes } from './lanes.js';
import { byTopic } from './messages.js';
import { Produce } from './produce.js';
import { Refusals } from './refusals.js';

export type { KafkaSinkConfig, KafkaSinkOptions } from './config.js';

export interface KafkaSink extends Sink {
  /**
   * False while the brokers refuse authentication or authorization, or the topic does not exist: for `/readyz`
   * (with `notReadyReason`) and `alertbridge_sink_ready`.
   */
  ready(): boolean;
  notReadyReason(): string | undefined;
}

export const createKafkaSink = ({ config, logger, encode }: SinkContext<KafkaSinkConfig>): KafkaSink => {
  /** The topic of each record (the same for all unless `topic` is a template of their fields). */
  const topicTemplate = NameTemplate.of(config.topic, KAFKA_TOPIC);
  const templated = topicTemplate.fields.length > 0;
  const routing = { sinkName: config.name, maxBytes: config.max_message_bytes, topicTemplate, encode };
  const lanes = new Lanes(config, logger);
  const refusals = new Refusals(config, logger);
  const produce = new Produce(config, lanes, refusals, templated);
  const life = new Lifecycle(`kafka sink '${config.name}'`);

  const deliver = async (records: readonly AlertRecord[]): Promise<void | SendResult> => {
    const failed: SendResult['failed'] = [];
    const groups = byTopic(routing, records, failed);
    if (groups.size > 0) await lanes.run((lane) => produce.all(lane, [...groups.values()], failed));
    return failed.length ? { failed: failed.sort((a, b) => a.index - b.index) } : undefined;
  };

  const sink: KafkaSink = {
    name: config.name,
    type: 'kafka',
    ready: () => refusals.ready,
    notReadyReason: () => refusals.reason,
    /** Checks the settings, then connects in the background: a broker that is down must not stop the daemon. */
    async start() {
      await loadCodec(config.compression, config.name);
      lanes.client();
      life.background(
        () => lanes.connect(),
        (err: unknown) => {
          const root = rootCause(err);
          if (isAuthFailure(root)) refusals.classify(err, `connecting kafka sink '${config.name}'`);
          else logger.warn({ err: root.message }, 'connecting to kafka failed; trying again on the first delivery');
        },
      );
    },
    send: (records) => life.track(() => deliver(records)),
    close: () => life.close(() => lanes.close()),
  };
  return sink;
};

/** The registry's name for this sink's factory. */
export const create = createKafkaSink;
