/**
 * A delivery's records as Kafka messages, grouped by topic. Message key = the record `key` (every revision of an
 * alert on one partition, in order); value = the formatted record; headers `alertbridge-*` let consumers route
 * without parsing the value (CONTRACT.md). The topic is the sink's, or a template of the record's fields. A record
 * that cannot be a message here — it does not format, it is over `max_message_bytes`, its topic name is invalid —
 * fails alone, permanently: nothing the brokers could say would change that.
 */
import type { IHeaders, TopicMessages } from 'kafkajs';
import { destinationOf, PermanentError, type AlertRecord, type NameTemplate, type SendResult } from '../kit.js';

/** A topic's messages and the indices (in the delivery) of the records they carry. */
export type TopicGroup = TopicMessages & { indices: number[] };

/** Kafka's v2 record format, upper bound: batch header 61 B, record varints ≤ 36 B, ≤ 10 B of lengths per header. */
function encodedSize(key: string, value: Buffer, headers: Record<string, string>): number {
  let size = 61 + 36 + Buffer.byteLength(key) + value.length;
  for (const [k, v] of Object.entries(headers)) size += 10 + Buffer.byteLength(k) + Buffer.byteLength(v);
  return size;
}

export interface Routing {
  sinkName: string;
  maxBytes: number;
  topicTemplate: NameTemplate;
  encode: (r: AlertRecord) => string;
}

/** The records' messages by topic, in first-seen order; the records that fail alone go to `failed`. */
export function byTopic(
  { sinkName, maxBytes, topicTemplate, encode }: Routing,
  records: readonly AlertRecord[],
  failed: SendResult['failed'],
): Map<string, TopicGroup> {
  const groups = new Map<string, TopicGroup>();
  records.forEach((r, index) => {
    let value: Buffer;
    try {
      value = Buffer.from(encode(r));
    } catch (err) {
      failed.push({
        index,
        error: new PermanentError(`formatting record ${r.key} for kafka '${sinkName}': ${(err as Error).message}`, {
          cause: err,
        }),
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
            `over max_message_bytes ${maxBytes} of kafka sink '${sinkName}'`,
        ),
      });
      return;
    }
    const topic = destinationOf(topicTemplate, r, `kafka sink '${sinkName}'`);
    if (topic.error) {
      failed.push({ index, error: topic.error });
      return;
    }
    const name = topic.name;
    const group = groups.get(name) ?? { topic: name, messages: [], indices: [] };
    group.messages.push({ key: r.key, value, headers: headers as IHeaders });
    group.indices.push(index);
    groups.set(name, group);
  });
  return groups;
}
