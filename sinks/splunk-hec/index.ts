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
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { HecClient, type HecResponse } from './client.js';
import type { SplunkHecSinkConfig } from './config.js';
import {
  AuthPause,
  Lifecycle,
  NameTemplate,
  readSecretFile,
  SPLUNK_INDEX,
  SPLUNK_SOURCETYPE,
  PermanentError,
  RetryableError,
  classifyHttpStatus,
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

/** HEC codes of a disabled, missing, malformed or unknown token. */
const AUTH_CODES = new Set([1, 2, 3, 4]);
/** HEC codes about the request itself, never one of its events (no data, channel missing or invalid, acks off, query auth). */
const REQUEST_CODES = new Set([5, 10, 11, 14, 16]);

type Failure = PermanentError | RetryableError;
/** One `send`: its encoded events, per-record failures, and its ackIds (sends run concurrently; only the pause is shared). */
interface SendState {
  events: string[];
  failed: Map<number, Failure>;
  acks: Array<{ ackId: number; idx: number[] }>;
  /** A refusal was pinned on single events by halving: bisecting the batch again would only resend. */
  isolated: boolean;
}

const epochSeconds = (iso: string | null): number | undefined => {
  const ms = iso === null ? NaN : Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms / 1000;
};

export const createSplunkHecSink = ({
  config,
  logger,
  encode: encodeRecord,
}: SinkContext<SplunkHecSinkConfig>): SplunkHecSink => {
  const { max_events: maxEvents, max_bytes: maxBytes } = config;
  const ack = { enabled: config.ack.enabled, timeoutMs: config.ack.timeout_ms, pollMs: config.ack.poll_interval_ms };
  const host = config.host ?? hostname();
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

  /** `index` and `sourcetype` of each record (the same for all unless they are templates of its fields). */
  const indexTemplate = config.index !== undefined ? NameTemplate.of(config.index, SPLUNK_INDEX) : undefined;
  const indexTemplated = (indexTemplate?.fields.length ?? 0) > 0;
  const sourcetypeTemplate = NameTemplate.of(config.sourcetype, SPLUNK_SOURCETYPE);
  const rendered = (template: NameTemplate, r: AlertRecord): string => {
    const out = template.render(r);
    if (!out.ok) throw new Error(out.reason);
    return out.name;
  };

  /** The HEC event: its metadata, then the formatted record's text spliced in as `event` (never re-serialized). */
  const encode = (r: AlertRecord): string => {
    const meta = JSON.stringify({
      time: epochSeconds(r.updated_at) ?? epochSeconds(r.ingested_at),
      host,
      source: config.source ?? `alertbridge:${r.source}`,
      sourcetype: rendered(sourcetypeTemplate, r),
      ...(indexTemplate ? { index: rendered(indexTemplate, r) } : {}),
    });
    const fields = JSON.stringify({ tenant_id: r.tenant_id, provider: r.provider, resource: r.resource });
    return `${meta.slice(0, -1)},"event":${encodeRecord(r)},"fields":${fields}}`;
  };

  /** Sends events `idx` as one request (halved on 413 or a 400 naming no event). Returns the error that should stop this send, if any. */
  const deliver = async (idx: number[], st: SendState): Promise<RetryableError | undefined> => {
    const fail = <E extends Failure>(list: number[], err: E): E => {
      for (const i of list) st.failed.set(i, err);
      return err;
    };
    let res: HecResponse;
    try {
      res = await (await connect()).postEvents(idx.map((i) => st.events[i]).join('\n'));
    } catch (cause) {
      return fail(idx, new RetryableError(`${action}: ${(cause as Error).message}`, { cause }));
    }
    const { status, reply } = res;
    const text = `${status} ${reply.text ?? ''}${reply.code === undefined ? '' : ` (code ${reply.code})`}`;
    if (status >= 200 && status < 300) {
      pause.accepted();
      if (!ack.enabled) return;
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
        { url: config.url, records: idx.length, status },
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
      const left = await deliver(idx.slice(0, mid), st);
      return left ? fail(idx.slice(mid), left) : deliver(idx.slice(mid), st);
    }
    if (status === 400 && named) {
      // HEC indexed the events before event n and none after it. With acks on, no ackId covers those first n
      // (Splunk documents none for an error answer): they count as delivered only with acks off, else they are
      // resent — a duplicate in the SIEM rather than a record that may never have reached an indexer.
      const bad = new PermanentError(
        `${action}: ${reply.text ?? 'invalid event'} (code ${reply.code}, event ${n} of the request)`,
      );
      if (ack.enabled && n > 0) {
        logger.warn(
          { channel, records: n },
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
      if (reply.code === 7 && !indexTemplated) return void fail(idx.slice(n), bad);
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
  };

  /** Waits for this send's acks; records of requests never confirmed are retryable (resent: duplicates possible). */
  const awaitAcks = async (st: SendState): Promise<void> => {
    const unconfirmed = new Set(
      await (
        await connect()
      ).awaitAcks(
        st.acks.map((a) => a.ackId),
        {
          timeoutMs: ack.timeoutMs,
          pollMs: ack.pollMs,
          signal: stopping.signal,
          onError: (err) => logger.debug({ err }, 'splunk_hec: ack query failed'),
        },
      ),
    );
    if (!unconfirmed.size) return;
    const late = st.acks.filter((a) => unconfirmed.has(a.ackId));
    const why = life.closed
      ? 'sink closed before the indexers acknowledged'
      : `ack timed out after ${ack.timeoutMs} ms`;
    logger.warn(
      { ackIds: [...unconfirmed], channel, records: late.reduce((n, a) => n + a.idx.length, 0) },
      `splunk_hec: ${why}; resending (the SIEM may see duplicates)`,
    );
    const err = new RetryableError(`${action}: ${why} (ackIds ${[...unconfirmed].join(',')})`);
    for (const a of late) for (const i of a.idx) st.failed.set(i, err);
  };

  const sendBatch = async (records: readonly AlertRecord[]): Promise<void | SendResult> => {
    if (pause.paused && config.token_file) (await connect()).token = readToken(config.token_file);
    const st: SendState = { events: [], failed: new Map(), acks: [], isolated: false };
    // Cut into requests by max_events and max_bytes (events are joined by '\n'; -1: the first one has no separator).
    let current: number[] = [];
    const requests = [current];
    let bytes = -1;
    records.forEach((r, i) => {
      try {
        st.events[i] = encode(r);
      } catch (cause) {
        return st.failed.set(
          i,
          new PermanentError(`${action}: cannot encode record ${r.key}: ${(cause as Error).message}`, { cause }),
        );
      }
      const size = Buffer.byteLength(st.events[i]!);
      if (size > maxBytes)
        return st.failed.set(
          i,
          new PermanentError(`${action}: event of ${size} bytes exceeds max_bytes (${maxBytes})`),
        );
      if (current.length && (current.length >= maxEvents || bytes + 1 + size > maxBytes)) {
        requests.push((current = []));
        bytes = -1;
      }
      current.push(i);
      bytes += 1 + size;
    });

    let stop: RetryableError | undefined;
    for (const idx of requests.filter((q) => q.length)) {
      if (stop)
        for (const i of idx) st.failed.set(i, stop); // HEC is busy or refuses us: do not insist
      else stop = await deliver(idx, st);
    }
    if (st.acks.length) await awaitAcks(st);

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
