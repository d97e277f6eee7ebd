/**
 * Event Hubs batches of a delivery. A batch carries one partition key, so a delivery becomes one batch per distinct
 * record key — more when a key's events exceed the batch limit — and an event too big for an empty batch fails
 * alone, permanently (it would never fit).
 */
import type { EventDataBatch, EventHubProducerClient } from '@azure/event-hubs';
import { PermanentError, type AlertRecord, type SendResult } from '../kit.js';
import { toEvent } from './wire.js';

/** One batch and the indices (in the delivery) of the records it carries. */
export type Group = { key: string; batch: EventDataBatch; members: number[] };

/** Indices (or items) grouped under a key, in first-seen order. */
export function groupBy<T>(items: Iterable<T>, keyOf: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    (out.get(key) ?? out.set(key, []).get(key)!).push(item);
  }
  return out;
}

/** One batch per partition key, a new one whenever it is full; an event too big for an empty batch fails alone. */
export async function build(
  c: EventHubProducerClient,
  records: readonly AlertRecord[],
  max: number,
  failed: SendResult['failed'],
  encode: (r: AlertRecord) => string,
  sinkName: string,
): Promise<Group[]> {
  const byKey = groupBy(
    records.map((_, i) => i),
    (i) => records[i]!.key,
  );
  const groups: Group[] = [];
  const open = async (partitionKey: string): Promise<Group> => ({
    key: partitionKey,
    batch: await c.createBatch({ partitionKey, maxSizeInBytes: max }),
    members: [],
  });
  for (const [partitionKey, indices] of byKey) {
    let group = await open(partitionKey);
    for (const i of indices) {
      const event = toEvent(records[i]!, encode(records[i]!));
      let added = group.batch.tryAdd(event);
      if (!added && group.batch.count > 0) {
        groups.push(group);
        group = await open(partitionKey);
        added = group.batch.tryAdd(event);
      }
      if (added) group.members.push(i);
      else {
        failed.push({
          index: i,
          error: new PermanentError(
            `record ${partitionKey} (revision ${records[i]!.revision}) does not fit an empty Event Hubs batch ` +
              `of ${max} bytes (body ${(event.body as Buffer).length} bytes) in azure_event_hubs sink '${sinkName}'`,
          ),
        });
      }
    }
    if (group.batch.count > 0) groups.push(group);
  }
  return groups;
}
