/**
 * `splunk_hec` sink: Splunk HTTP Event Collector, with optional indexer acknowledgement (docs/splunk.md).
 *
 * A batch becomes one or more `POST /services/collector/event` requests of concatenated JSON events, cut by
 * `max_events` and `max_bytes` (that is encoding: HEC refuses what is too big). HEC's answer is classified per
 * record, so that one bad event never sinks its neighbours (peers-lessons #5): on code 6 only the event HEC names
 * fails for good; on 413, or a 400 that names no event, the request is halved until the offender stands alone. A
 * refused token pauses the sink instead of dead-lettering anything (#7), and HEC is then asked again once per
 * `auth_pause_ms` for the whole sink (auth-pause.ts); with acks on, `send` resolves only once the indexers
 * confirm (#4).
 *
 * This file is the sink's story; the pieces live beside it: records as HEC events and requests (events.ts), one
 * request and what its answer means per event (requests.ts), waiting for the indexers' acks (acks.ts), and the
 * HTTP protocol client (client.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { awaitAcks, type Acks } from './acks.js';
import { HecClient } from './client.js';
import type { SplunkHecSinkConfig } from './config.js';
import { HecEvents, type SendState } from './events.js';
import { deliver, type Requests } from './requests.js';
import {
  AuthPause,
  Lifecycle,
  readSecretFile,
  RetryableError,
  type AlertRecord,
  type SendResult,
  type Sink,
  type SinkContext,
} from '../kit.js';

export type { SplunkHecSinkConfig, SplunkHecSinkOptions } from './config.js';

export interface SplunkHecSink extends Sink {
  /** False while HEC refuses the token (401/403): for `/readyz` and a metric. */
  ready(): boolean;
  /** While paused: HEC's refusal, for `/readyz` and `alertbridge status`. */
  notReadyReason(): string | undefined;
}

export const createSplunkHecSink = ({ config, logger, encode }: SinkContext<SplunkHecSinkConfig>): SplunkHecSink => {
  const action = `sending batch to splunk_hec '${config.name}'`;
  const channel = randomUUID();
  const stopping = new AbortController();
  const life = new Lifecycle(`splunk_hec sink '${config.name}'`);
  let client: Promise<HecClient> | undefined;
  const pause = new AuthPause({
    pauseMs: config.auth_pause_ms,
    logger,
    fields: { url: config.url },
    until: 'the token is fixed',
    pausedLine: (why) =>
      `splunk_hec '${config.name}' paused: HEC refused the token (${why}); records stay queued until it is fixed`,
    resumedLine: `splunk_hec '${config.name}' resumed: HEC accepts the token`,
    heldMessage: (dueIn) =>
      `${action}: sink paused (HEC refused the token); HEC is asked again in ${dueIn} ms, by one delivery for all`,
  });

  /** The token file again: a rotated token is picked up without a restart (peers-lessons #7). */
  const readToken = (file: string): string =>
    readSecretFile(file, (cause) => {
      throw new RetryableError(`${action}: reading token_file: ${cause.message}`, { cause });
    }) ?? '';

  const connect = (): Promise<HecClient> =>
    (client ??= (async () => {
      if (!config.tls_verify)
        logger.warn({ url: config.url }, 'splunk_hec: TLS certificate verification is OFF (tls_verify: false)');
      const ca = config.ca_file ? await readFile(config.ca_file, 'utf8') : undefined;
      const c = new HecClient({
        url: config.url,
        ca,
        tlsVerify: config.tls_verify,
        proxyUrl: config.proxy_url,
        timeoutMs: config.request_timeout_ms,
        channel,
        gzip: config.gzip,
      });
      c.token = config.token ?? (config.token_file ? readToken(config.token_file) : '');
      return c;
    })());

  const events = new HecEvents(config, encode, action);
  const requests: Requests = {
    action,
    url: config.url,
    channel,
    ackEnabled: config.ack.enabled,
    indexTemplated: events.indexTemplated,
    logger,
    pause,
    connect,
  };
  const acks: Acks = {
    action,
    channel,
    timeoutMs: config.ack.timeout_ms,
    pollMs: config.ack.poll_interval_ms,
    signal: stopping.signal,
    closed: () => life.closed,
    logger,
    connect,
  };

  const sendBatch = async (records: readonly AlertRecord[]): Promise<void | SendResult> => {
    if (pause.paused && config.token_file) (await connect()).token = readToken(config.token_file);
    const st: SendState = { events: [], failed: new Map(), acks: [], isolated: false };
    let stop: RetryableError | undefined;
    for (const idx of events.requests(records, st)) {
      if (stop)
        for (const i of idx) st.failed.set(i, stop); // HEC is busy or refuses us: do not insist
      else stop = await deliver(requests, idx, st);
    }
    if (st.acks.length) await awaitAcks(acks, st);

    if (!st.failed.size) return;
    const errors = [...st.failed.values()];
    if (!st.isolated && st.failed.size === records.length && errors.every((e) => e.message === errors[0]!.message))
      throw errors[0]!;
    return { failed: [...st.failed].sort(([a], [b]) => a - b).map(([index, error]) => ({ index, error })) };
  };

  return {
    name: config.name,
    type: 'splunk_hec',
    ready: () => !pause.paused,
    notReadyReason: () => pause.reason,
    async start() {
      await connect();
    },
    send: (records) => life.track(() => pause.run(() => sendBatch(records))),
    close: () =>
      life.close(
        async () => (await client?.catch(() => undefined))?.close(),
        () => stopping.abort(),
      ),
  };
};

/** The registry's name for this sink's factory. */
export const create = createSplunkHecSink;
