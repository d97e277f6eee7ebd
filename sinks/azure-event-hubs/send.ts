/**
 * Sending the batches of one partition key over a hub's link, and what a failed send means for its records: a
 * failure applies to that batch's records only, and later batches of the same key are held back behind a
 * retryable one, so a key's revisions never arrive out of order.
 */
import type { EventHubProducerClient } from '@azure/event-hubs';
import type { Logger } from 'pino';
import { RetryableError, type SendResult } from '../kit.js';
import type { Group } from './batches.js';
import { reset, type Hub } from './hubs.js';
import type { Producers } from './producers.js';
import { classifyEventHubsError, errorCode, rootCause } from './wire.js';

export interface Sender {
  sinkName: string;
  logger: Logger;
  producers: Producers;
}

/** Sends one batch; a failure applies to its records only. */
async function sendGroup(
  { sinkName, logger, producers }: Sender,
  h: Hub,
  c: EventHubProducerClient,
  { batch, members }: Group,
  failed: SendResult['failed'],
): Promise<Error | undefined> {
  try {
    await c.sendBatch(batch);
    return undefined;
  } catch (err) {
    const code = errorCode(err);
    let error = classifyEventHubsError(
      err,
      `sending a batch of ${batch.count} event(s), ${batch.sizeInBytes} bytes, to azure_event_hubs '${sinkName}'`,
    );
    if (code === 'UnauthorizedError') {
      // The link was authorized when it opened: a claim lapsed. A fresh client authenticates again, and a key
      // that was revoked meanwhile is refused there, permanently.
      reset(h, c);
      error = new RetryableError(error.message, { cause: err });
    }
    if ((code === 'MessageTooLargeError' || code === 'MessageSizeExceededError') && batch.count > 1) {
      // The hub takes less than its link advertises: send smaller batches from now on, and these again — at the
      // limit the service names in its refusal ("exceeds the limit (N bytes)"), else at half the refused size.
      const named = Number(/limit \((\d+) bytes\)/.exec(rootCause(err).message)?.[1]);
      producers.refusedAt(batch.sizeInBytes, named);
      logger.warn(
        { refused_bytes: batch.sizeInBytes },
        'the hub refused a batch as too large; sending smaller batches (lower max_batch_bytes)',
      );
      error = new RetryableError(error.message, { cause: err });
    }
    for (const index of members) failed.push({ index, error });
    return error;
  }
}

/**
 * Sends the batches of one partition key in order. After one fails for a reason worth retrying, the later ones are
 * held back (failed, retryable, unsent): sent now, they would arrive before the retried, older revisions.
 */
export async function sendInOrder(
  sender: Sender,
  h: Hub,
  c: EventHubProducerClient,
  list: Group[],
  failed: SendResult['failed'],
): Promise<Array<Error | undefined>> {
  const out: Array<Error | undefined> = [];
  let held: RetryableError | undefined;
  for (const group of list) {
    if (held) {
      for (const index of group.members) failed.push({ index, error: held });
      out.push(held);
      continue;
    }
    const error = await sendGroup(sender, h, c, group, failed);
    if (error instanceof RetryableError) {
      held = new RetryableError(
        `not sent to azure_event_hubs '${sender.sinkName}': an earlier batch of partition key ${group.key} failed (${error.message})`,
      );
    }
    out.push(error);
  }
  return out;
}
