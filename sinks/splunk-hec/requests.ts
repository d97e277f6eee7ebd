/**
 * One HEC request and what its answer means for each of its events, so that one bad event never sinks its
 * neighbours (peers-lessons #5): on code 6 only the event HEC names fails for good; on 413, or a 400 that names no
 * event, the request is halved until the offender stands alone. A refused token pauses the sink (#7). With acks
 * on, a 2xx only hands over an ackId to wait for (acks.ts).
 */
import type { Logger } from 'pino';
import { classifyHttpStatus, PermanentError, RetryableError, type AuthPause } from '../kit.js';
import type { HecClient, HecResponse } from './client.js';
import type { Failure, SendState } from './events.js';

/** HEC codes of a disabled, missing, malformed or unknown token. */
const AUTH_CODES = new Set([1, 2, 3, 4]);
/** HEC codes about the request itself, never one of its events (no data, channel missing or invalid, acks off, query auth). */
const REQUEST_CODES = new Set([5, 10, 11, 14, 16]);

/** What sending a request needs from the sink. */
export interface Requests {
  /** "sending batch to splunk_hec 'main'": how every error starts. */
  action: string;
  url: string;
  channel: string;
  ackEnabled: boolean;
  /** `index` is a template: an incorrect index (code 7) is the named event's only. */
  indexTemplated: boolean;
  logger: Logger;
  pause: AuthPause;
  connect: () => Promise<HecClient>;
}

/** Sends events `idx` as one request (halved on 413 or a 400 naming no event). Returns the error that should stop this send, if any. */
export async function deliver(ctx: Requests, idx: number[], st: SendState): Promise<RetryableError | undefined> {
  const { action, pause, logger } = ctx;
  const fail = <E extends Failure>(list: number[], err: E): E => {
    for (const i of list) st.failed.set(i, err);
    return err;
  };
  let res: HecResponse;
  try {
    res = await (await ctx.connect()).postEvents(idx.map((i) => st.events[i]).join('\n'));
  } catch (cause) {
    return fail(idx, new RetryableError(`${action}: ${(cause as Error).message}`, { cause }));
  }
  const { status, reply } = res;
  const text = `${status} ${reply.text ?? ''}${reply.code === undefined ? '' : ` (code ${reply.code})`}`;
  if (status >= 200 && status < 300) {
    pause.accepted();
    if (!ctx.ackEnabled) return;
    if (typeof reply.ackId === 'number') return void st.acks.push({ ackId: reply.ackId, idx });
    // With acks on, only an ackId confirms anything: a 2xx without one is a proxy's page (captive portal,
    // maintenance) or a token with acknowledgement off. Nothing confirms an indexer has the events, so they stay
    // queued and are resent; logged on every occurrence, since each one is records not delivered.
    const why =
      reply.code === undefined
        ? "not HEC's answer (a proxy in front of HEC?)"
        : 'acknowledgement off on the token? (Splunk: useACK)';
    const err = new RetryableError(
      `${action}: answered ${status} without an ackId, ${why}: ${(reply.text ?? '').slice(0, 100)}`,
    );
    logger.error(
      { url: ctx.url, records: idx.length, status },
      `splunk_hec: ack.enabled but HEC answered ${status} without an ackId, ${why}; resending`,
    );
    return fail(idx, err);
  }
  if (status === 401 || status === 403 || AUTH_CODES.has(reply.code ?? -1)) {
    pause.refused(text);
    return fail(idx, pause.refusal(`${action}: ${text}`));
  }
  const n = reply['invalid-event-number'];
  const named = typeof n === 'number' && n >= 0 && n < idx.length;
  // 413, or a 400 that names no event (a proxy or WAF in front of HEC, or HEC itself without invalid-event-number):
  // some event of this request is the cause, but not which one. Halve it until the offender stands alone, so
  // that only it is dead-lettered; the batch's other requests went through and are not resent (peers-lessons #5).
  if (status === 413 || (status === 400 && !named && !REQUEST_CODES.has(reply.code ?? -1))) {
    if (idx.length === 1) {
      st.isolated = true;
      return void fail(
        idx,
        new PermanentError(`${action}: ${status === 413 ? 'event too large for HEC' : 'request refused'}: ${text}`),
      );
    }
    const mid = Math.ceil(idx.length / 2);
    const left = await deliver(ctx, idx.slice(0, mid), st);
    return left ? fail(idx.slice(mid), left) : deliver(ctx, idx.slice(mid), st);
  }
  if (status === 400 && named) {
    // HEC indexed the events before event n and none after it. With acks on, no ackId covers those first n
    // (Splunk documents none for an error answer): they count as delivered only with acks off, else they are
    // resent — a duplicate in the SIEM rather than a record that may never have reached an indexer.
    const bad = new PermanentError(
      `${action}: ${reply.text ?? 'invalid event'} (code ${reply.code}, event ${n} of the request)`,
    );
    if (ctx.ackEnabled && n > 0) {
      logger.warn(
        { channel: ctx.channel, records: n },
        `splunk_hec: HEC refused event ${n} of a request; the ${n} before it were indexed without an acknowledgement: resending them (the SIEM may see duplicates)`,
      );
      fail(
        idx.slice(0, n),
        new RetryableError(
          `${action}: indexed without an acknowledgement (HEC refused event ${n} of the same request); resending`,
        ),
      );
    }
    // Incorrect index: the same for every event of a fixed `index`; with a template, the named event's only.
    if (reply.code === 7 && !ctx.indexTemplated) return void fail(idx.slice(n), bad);
    fail([idx[n]!], bad);
    return void fail(
      idx.slice(n + 1),
      new RetryableError(`${action}: not indexed (it followed an invalid event in the same request)`),
    );
  }
  const err = fail(
    idx,
    (classifyHttpStatus(status, `${action}: ${text}`, res.retryAfter) ??
      new RetryableError(`${action}: unexpected ${text}`)) as Failure,
  );
  return err instanceof RetryableError ? err : undefined;
}
