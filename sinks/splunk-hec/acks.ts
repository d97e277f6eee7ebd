/**
 * Indexer acknowledgement (`ack.enabled`, peers-lessons #4): a 2xx from HEC only says it received the events; an
 * ackId confirmed by the indexers says they have them. A send resolves only once its ackIds are confirmed; the
 * records of a request never confirmed (timeout, or the sink closing) are retryable — resent, so the SIEM may see
 * duplicates, rather than a record that may never have reached an indexer.
 */
import type { Logger } from 'pino';
import { RetryableError } from '../kit.js';
import type { HecClient } from './client.js';
import type { SendState } from './events.js';

export interface Acks {
  action: string;
  channel: string;
  timeoutMs: number;
  pollMs: number;
  /** Aborted when the sink closes: waiting stops, and what is unconfirmed is resent by the next run. */
  signal: AbortSignal;
  closed: () => boolean;
  logger: Logger;
  connect: () => Promise<HecClient>;
}

/** Waits for this send's acks; records of requests never confirmed are retryable (resent: duplicates possible). */
export async function awaitAcks(ctx: Acks, st: SendState): Promise<void> {
  const { logger } = ctx;
  const unconfirmed = new Set(
    await (
      await ctx.connect()
    ).awaitAcks(
      st.acks.map((a) => a.ackId),
      {
        timeoutMs: ctx.timeoutMs,
        pollMs: ctx.pollMs,
        signal: ctx.signal,
        onError: (err) => logger.debug({ err }, 'splunk_hec: ack query failed'),
      },
    ),
  );
  if (!unconfirmed.size) return;
  const late = st.acks.filter((a) => unconfirmed.has(a.ackId));
  const why = ctx.closed() ? 'sink closed before the indexers acknowledged' : `ack timed out after ${ctx.timeoutMs} ms`;
  logger.warn(
    { ackIds: [...unconfirmed], channel: ctx.channel, records: late.reduce((n, a) => n + a.idx.length, 0) },
    `splunk_hec: ${why}; resending (the SIEM may see duplicates)`,
  );
  const err = new RetryableError(`${ctx.action}: ${why} (ackIds ${[...unconfirmed].join(',')})`);
  for (const a of late) for (const i of a.idx) st.failed.set(i, err);
}
