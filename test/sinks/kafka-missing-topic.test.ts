/**
 * The `kafka` sink when its topic does not exist and the brokers do not auto-create topics: it pauses like on
 * refused credentials (records held, attempts not spent, /readyz says which topic) and resumes once the topic
 * appears. Its own broker, with `auto.create.topics.enable=false` (one broker start for the file).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KafkaSinkSchema } from '../../sinks/kafka/config.js';
import { createKafkaSink, type KafkaSink, type KafkaSinkOptions } from '../../sinks/kafka/index.js';
import { classify } from '../../src/pipeline/retry.js';
import { sinkFormat } from '../../src/record/format.js';
import { captureLogger } from '../helpers/graph.js';
import { cleanup, metricValue, silentLogger, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { record, records } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';
import { startKafkaBroker, type KafkaBroker } from '../peers/kafka/broker.js';
import { createTopics, readAll } from '../peers/kafka/reader.js';

let broker: KafkaBroker;
beforeAll(async () => {
  broker = await startKafkaBroker({ autoCreateTopics: false });
}, 15 * 60_000);
afterAll(async () => {
  await broker?.stop();
});

const uniqueTopic = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;

describe('kafka sink, topic missing (auto-create off)', () => {
  const sinks: KafkaSink[] = [];
  let tp: TestPipeline | undefined;
  afterEach(async () => {
    await cleanup(tp);
    tp = undefined;
    for (const s of sinks.splice(0)) await s.close();
  });
  const open = (config: Partial<KafkaSinkOptions>, logger: Logger = silentLogger): KafkaSink => {
    const sink = createKafkaSink({
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
    sinks.push(sink);
    return sink;
  };

  it('pauses (retryable after auth_pause_ms, not ready, says which topic, logged once) and resumes when the topic is created', async () => {
    const topic = uniqueTopic('missing');
    const { logger, lines } = captureLogger();
    const sink = open({ topic, auth_pause_ms: 500 }, logger);
    await sink.start();
    for (let i = 0; i < 2; i++) {
      const err = await sink.send(records(3)).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(classify(err)).toBe('retryable');
      expect(err).toMatchObject({ retryAfterMs: 500 });
      expect(err!.message).toBe(
        `sending 3 record(s) to kafka 'kafka' (topic ${topic}): topic ${topic} does not exist [UNKNOWN_TOPIC_OR_PARTITION]; sink paused until the topic exists`,
      );
      expect(sink.ready()).toBe(false);
      expect(sink.notReadyReason()).toBe(`topic ${topic} does not exist`);
    }
    expect(lines.filter((l) => l.level === 50 && /paused/.test(String(l.msg)))).toHaveLength(1);

    await createTopics(broker.brokers, [topic], 1);
    await sink.send(records(3));
    expect(sink.ready()).toBe(true);
    expect(sink.notReadyReason()).toBeUndefined();
    expect(lines.some((l) => l.level === 30 && String(l.msg) === "kafka 'kafka' resumed: its topic exists")).toBe(true);
    expect(await readAll(broker.brokers, [topic])).toHaveLength(3);
  }, 120_000);

  it('with a topic template, a missing topic fails its records alone (dead-lettered with the reason), not the sink', async () => {
    const prefix = uniqueTopic('tpl');
    await createTopics(broker.brokers, [`${prefix}.contoso`], 1);
    const sink = open({ topic: `${prefix}.{tenant}` });
    await sink.start();
    const batch = [
      record(1, { source: 'mssp/contoso' }),
      record(2, { source: 'mssp/fabrikam' }),
      record(3, { source: 'mssp/contoso' }),
    ];
    const res = await sink.send(batch);
    expect(res?.failed.map((f) => [f.index, classify(f.error)])).toEqual([[1, 'permanent']]);
    expect(res!.failed[0]!.error.message).toBe(
      `kafka 'kafka': topic ${prefix}.fabrikam: it does not exist (are topics auto-created on the brokers?); fix it and replay the dead letters [UNKNOWN_TOPIC_OR_PARTITION]`,
    );
    expect(sink.ready()).toBe(true);
    const read = await readAll(broker.brokers, [`${prefix}.contoso`]);
    expect(read.map((m) => m.key)).toEqual([batch[0]!.key, batch[2]!.key]);
  });

  it('through the pipeline: nothing is dead-lettered and no attempt is spent while paused; all arrive once the topic exists', async () => {
    const topic = uniqueTopic('held');
    const sink = open({ topic, auth_pause_ms: 300 });
    tp = await startTestPipeline([{ sink, maxRecords: 10, maxAttempts: 2 }]);
    const batch = records(25);
    await tp.pipeline.emit(batch);
    const errors = () =>
      metricValue(tp!.metrics, 'alertbridge_delivery_errors_total', { sink: 'kafka', kind: 'retryable' });
    // Several rounds of probes, far more than max_attempts: none of them may count against the records.
    await waitFor(async () => (await errors()) >= 6 * 10, { timeoutMs: 60_000, what: 'several paused rounds' });
    expect(await tp.pipeline.deadLetters.count('kafka')).toBe(0);
    expect(await metricValue(tp.metrics, 'alertbridge_sink_ready', { sink: 'kafka' })).toBe(0);
    await createTopics(broker.brokers, [topic], 1);
    await waitFor(
      async () => (await metricValue(tp!.metrics, 'alertbridge_records_delivered_total', { sink: 'kafka' })) >= 25,
      { timeoutMs: 60_000, what: 'delivery after the topic appeared' },
    );
    expect(await tp.pipeline.deadLetters.count('kafka')).toBe(0);
    expect(await metricValue(tp.metrics, 'alertbridge_sink_ready', { sink: 'kafka' })).toBe(1);
    expect((await readAll(broker.brokers, [topic])).length).toBe(25);
  }, 180_000);
});
