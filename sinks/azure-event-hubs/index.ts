/**
 * `azure_event_hubs` sink: one event per record, published with `@azure/event-hubs` (`EventHubProducerClient`).
 *
 * Body = the formatted record (JSON, `contentType: application/json`); partition key = the record `key`, so every
 * revision of an alert lands on one partition, in order; application properties `alertbridge-key`, `-revision`,
 * `-resource`, `-provider`, `-tenant` (CONTRACT.md); `messageId` = `key@revision` (or `sha256:<hex>` of it when
 * longer than the 128 characters Event Hubs allows), so consumers can drop duplicates.
 *
 * An Event Hubs batch carries one partition key, so a delivery becomes one batch per distinct key (more when a
 * key's events exceed `max_batch_bytes`). Those batches are built first, then sent over the one AMQP link: the keys
 * at once, so the round trips overlap instead of adding up (docs/event-hubs.md has the figures), and the batches of
 * one key one after another, so its revisions arrive in order.
 */
import { EventHubProducerClient, type EventDataBatch, type WebSocketOptions } from '@azure/event-hubs';
import { WebSocket, type Dispatcher } from 'undici';
import {
  httpDispatcher,
  redactUrlsIn,
  createCredential,
  AuthPause,
  EVENT_HUB_NAME,
  Lifecycle,
  NameTemplate,
  readSecretFile,
  PermanentError,
  RetryableError,
  type AlertRecord,
  type SendResult,
  type Sink,
  type SinkContext,
  withSystemRoots,
} from '../kit.js';
import type { EventHubsSinkConfig } from './config.js';
import { classifyEventHubsError, errorCode, isAuthFailure, rootCause, toEvent } from './wire.js';

export type { EventHubsSinkConfig } from './config.js';

/** Knobs of the SDK that are not config keys: tests shorten the timings and trust a local CA. */
export interface EventHubsTuning {
  /** Timeout of one SDK operation. */
  request_timeout_ms?: number;
  /** Wait before the SDK's single retry. */
  retry_delay_ms?: number;
  /** Extra CAs trusted for the namespace on the WebSocket transport. */
  tls_ca?: string[];
}

const TUNING = { request_timeout_ms: 60_000, retry_delay_ms: 1000 } as const;

/** What the sink is built from: its config section (defaults applied by config.ts) and the SDK's knobs. */
export type EventHubsSinkOptions = EventHubsSinkConfig & EventHubsTuning;

export interface EventHubsSink extends Sink {
  /**
   * False while the hub (or Entra ID) refuses the credentials, or the hub does not exist: for `/readyz` (with
   * `notReadyReason`) and `alertbridge_sink_ready`.
   */
  ready(): boolean;
  notReadyReason(): string | undefined;
}

/**
 * How long a refused key or hub is remembered: the pipeline bisects a batch that fails permanently (2n−1 sends to
 * find the offender), and without this each of those would wait for its own put-token refusal and SDK retry.
 */
const REFUSAL_MEMO_MS = 1000;

type Group = { key: string; batch: EventDataBatch; members: number[] };

/** One hub's client. */
interface Hub {
  /** Undefined: the connection string's EntityPath. */
  name: string | undefined;
  producer?: EventHubProducerClient;
  /** min(max_batch_bytes, the link's max-message-size, what the hub refused): learned once per client. */
  limit?: Promise<number>;
  /** Deliveries using it now: an idle client only is evicted. */
  busy: number;
}

export const createEventHubsSink = ({ config, logger, encode }: SinkContext<EventHubsSinkOptions>): EventHubsSink => {
  const configuredMax = config.max_batch_bytes;
  const tuning = { ...TUNING, ...config };
  /** The hub of each record: one for all, or a template of their fields (`{tenant}-alerts`). */
  const hubTemplate = config.event_hub_name.includes('{')
    ? NameTemplate.of(config.event_hub_name, EVENT_HUB_NAME)
    : undefined;
  const templated = hubTemplate !== undefined;
  /**
   * A producer client per hub, in least-recently-used order: one for a fixed hub; with a template, one per hub
   * named, at most `max_hub_clients` (the least recently used idle one is closed to make room).
   */
  const hubs = new Map<string, Hub>();
  /** Closes of evicted clients, awaited by `close`. */
  let retired: Promise<unknown> = Promise.resolve();
  let refusedAbove = Infinity;
  const life = new Lifecycle(`azure_event_hubs sink '${config.name}'`);
  let refusal: { error: Error; until: number } | undefined;
  const auth = new AuthPause({
    pauseMs: config.auth_pause_ms,
    logger,
    until: 'the credentials are fixed',
    pausedLine: (why) =>
      `azure_event_hubs '${config.name}' paused: its credentials are refused (${why}); records stay queued until they are fixed`,
    resumedLine: `azure_event_hubs '${config.name}' resumed: the hub accepts its credentials`,
    readiness: (why) => `its credentials are refused: ${why}`,
  });
  /**
   * The hub does not exist (`MessagingEntityNotFoundError`): an operator's job like a refused key, and the same for
   * every record, so the sink pauses instead of dead-lettering; the held deliveries, retried every `auth_pause_ms`
   * with a fresh client, are the probe, and the first that goes through resumes it.
   */
  const missingHub = new AuthPause({
    pauseMs: config.auth_pause_ms,
    logger,
    until: 'the event hub exists',
    pausedLine: (why) => `azure_event_hubs '${config.name}' paused: ${why}; records stay queued until it is created`,
    resumedLine: `azure_event_hubs '${config.name}' resumed: its event hub exists`,
  });
  const isMissingHub = (err: unknown): boolean => errorCode(err) === 'MessagingEntityNotFoundError';
  let dispatcher: Dispatcher | undefined;
  /** The sink's HTTP side: its WebSocket and, with `proxy_url`, its Entra ID token requests. */
  const sharedDispatcher = (): Dispatcher =>
    (dispatcher ??= httpDispatcher({
      proxyUrl: config.proxy_url,
      ...(config.tls_ca ? { ca: withSystemRoots(...config.tls_ca) } : {}),
    }));

  /**
   * The WebSocket transport: rhea builds its socket with `new webSocket(url, protocols, options)`; undici's WebSocket
   * takes the proxy as a `dispatcher` instead, so a subclass passes the sink's one (CONNECT tunnel, TLS end to end
   * and verified as without a proxy). Undefined on the AMQP transport.
   */
  const webSocketOptions = (): WebSocketOptions | undefined => {
    if (config.transport !== 'websocket') return undefined;
    const through = sharedDispatcher();
    const proxied = config.proxy_url ? 'through proxy_url' : 'directly or through HTTPS_PROXY (see NO_PROXY)';
    class ProxiedWebSocket extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, { protocols: protocols ?? [], dispatcher: through });
        // undici reports a failed handshake (a proxy refusing the tunnel, an unreachable namespace) as a TypeError
        // with an empty message, which would read as a bug: rhea's error handler gets an error that says where.
        let opened = false;
        this.addEventListener('open', () => (opened = true));
        const onerror = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onerror')!;
        Object.defineProperty(this, 'onerror', {
          get: () => onerror.get!.call(this) as unknown,
          set: (handler: ((e: unknown) => void) | null) =>
            onerror.set!.call(
              this,
              handler &&
                ((e: { error?: Error; message?: string }) => {
                  const why =
                    e.error?.message ||
                    (e instanceof Error ? e.message : '') ||
                    (opened ? 'the connection was lost' : 'refused or closed before the handshake completed');
                  handler(
                    Object.assign(new Error(`WebSocket to ${String(url)} (${proxied}) failed: ${why}`), {
                      code: 'WebSocketConnectionError',
                    }),
                  );
                }),
            ),
        });
      }
    }
    return { webSocket: ProxiedWebSocket as unknown as WebSocketOptions['webSocket'] };
  };

  /**
   * `connection_string_file` as it is now; undefined when it cannot be read at this moment (a Secret being swapped):
   * then the value the loader read at start stands in, and a refusal of it pauses the sink — never a dead letter.
   */
  const freshConnectionString = (): string | undefined =>
    readSecretFile(config.connection_string_file, (err) =>
      logger.warn(
        { file: config.connection_string_file, err: err.message },
        'cannot read connection_string_file; using the connection string read at start',
      ),
    )?.trim() || undefined;

  /** Builds the client (no I/O). A connection string the SDK cannot parse is a permanent configuration error. */
  const client = (h: Hub): EventHubProducerClient => {
    if (h.producer) return h.producer;
    const hub = h.name;
    // The pipeline retries with backoff and counts; the SDK's one retry only rides out a dropped link.
    const webSocket = webSocketOptions();
    const options = {
      retryOptions: {
        maxRetries: 1,
        retryDelayInMs: tuning.retry_delay_ms,
        timeoutInMs: tuning.request_timeout_ms,
      },
      userAgent: 'alertbridge',
      ...(webSocket ? { webSocketOptions: webSocket } : {}),
    };
    try {
      if (config.fully_qualified_namespace) {
        // The schema inferred `auth` and filled `authority_url` for a namespace.
        const login = { ...config, auth: config.auth!, authority_url: config.authority_url! };
        // With proxy_url the token requests take the proxy too, as a Graph source's do; else the SDK's own client
        // (HTTPS_PROXY / NO_PROXY).
        const credential = createCredential(login, config.proxy_url ? sharedDispatcher() : undefined);
        return (h.producer = new EventHubProducerClient(
          config.fully_qualified_namespace,
          hub ?? '',
          credential,
          options,
        ));
      }
      const cs = freshConnectionString() ?? config.connection_string ?? '';
      return (h.producer = hub
        ? new EventHubProducerClient(cs, hub, options)
        : new EventHubProducerClient(cs, options));
    } catch (err) {
      // The SDK quotes the whole connection string in some of these messages: keep the key out of logs and dead letters.
      const reason = redactUrlsIn(
        (err as Error).message.replace(/(SharedAccessKey|SharedAccessSignature)=[^;"]*/gi, '$1=***'),
      );
      throw new PermanentError(`azure_event_hubs sink '${config.name}': cannot use its connection settings: ${reason}`);
    }
  };

  /** Opens the sender link (CBS auth included) and learns its max-message-size. */
  const batchLimit = (h: Hub, c: EventHubProducerClient): Promise<number> => {
    h.limit ??= c.createBatch().then((b) => {
      if (configuredMax > b.maxSizeInBytes)
        logger.warn(
          { max_batch_bytes: configuredMax, link_max: b.maxSizeInBytes },
          "max_batch_bytes is above what the hub accepts; using the hub's limit",
        );
      return Math.min(configuredMax, b.maxSizeInBytes);
    });
    const mine = h.limit;
    mine.catch(() => (h.limit === mine ? (h.limit = undefined) : undefined));
    return mine.then((n) => Math.min(n, refusedAbove));
  };

  /**
   * A refused key or token is not the records' fault and the same for all of them: pause (the pipeline holds the
   * records without spending attempts) and try again after `auth_pause_ms`, with a fresh client that reads the
   * connection string (file) again.
   */
  const pause = (err: unknown, what: string, h: Hub, c: EventHubProducerClient | undefined): RetryableError => {
    reset(h, c);
    const why = `${rootCause(err).message} [${errorCode(err)}]`;
    auth.refused(why);
    return auth.refusal(`${what}: ${why}`, err);
  };

  /**
   * No such hub: pause like `pause`, saying which hub. A hub named by a template is one destination among many: its
   * records are dead-lettered with the reason (replay them once it exists) and the other hubs go on.
   */
  const pauseMissing = (err: unknown, what: string, h: Hub, c: EventHubProducerClient | undefined): Error => {
    reset(h, c);
    const name =
      h.name ?? /(?:^|;)\s*EntityPath\s*=\s*([^;]+)/i.exec(config.connection_string ?? '')?.[1]?.trim() ?? '(unnamed)';
    const why = `event hub ${name} does not exist`;
    if (templated) return new PermanentError(`${what}: ${why} [${errorCode(err)}]`, { cause: err });
    missingHub.refused(why);
    return missingHub.refusal(`${what}: ${why} [${errorCode(err)}]`, err);
  };

  /** After a refused key: a fresh client next time, reading the connection string (file) again. */
  const reset = (h: Hub, old: EventHubProducerClient | undefined): void => {
    if (!old || h.producer !== old) return;
    h.producer = undefined;
    h.limit = undefined;
    old.close().catch(() => undefined);
  };

  /** The client of a hub, made the most recently used; idle clients beyond `max_hub_clients` are closed. */
  const hubFor = (name: string | undefined): Hub => {
    const key = name ?? '';
    const h = hubs.get(key) ?? { name, busy: 0 };
    hubs.delete(key);
    hubs.set(key, h);
    for (const [k, old] of hubs) {
      if (hubs.size <= config.max_hub_clients) break;
      if (old === h || old.busy > 0) continue;
      hubs.delete(k);
      const c = old.producer;
      old.producer = undefined;
      if (c) retired = Promise.all([retired, c.close().catch(() => undefined)]);
    }
    return h;
  };

  /** One batch per partition key, a new one whenever it is full; an event too big for an empty batch fails alone. */
  const build = async (
    c: EventHubProducerClient,
    records: readonly AlertRecord[],
    max: number,
    failed: SendResult['failed'],
  ): Promise<Group[]> => {
    const byKey = new Map<string, number[]>();
    records.forEach((r, i) => (byKey.get(r.key) ?? byKey.set(r.key, []).get(r.key)!).push(i));
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
                `of ${max} bytes (body ${(event.body as Buffer).length} bytes) in azure_event_hubs sink '${config.name}'`,
            ),
          });
        }
      }
      if (group.batch.count > 0) groups.push(group);
    }
    return groups;
  };

  /** Sends one batch; a failure applies to its records only. */
  const sendGroup = async (
    h: Hub,
    c: EventHubProducerClient,
    { batch, members }: Group,
    failed: SendResult['failed'],
  ): Promise<Error | undefined> => {
    try {
      await c.sendBatch(batch);
      return undefined;
    } catch (err) {
      const code = errorCode(err);
      let error = classifyEventHubsError(
        err,
        `sending a batch of ${batch.count} event(s), ${batch.sizeInBytes} bytes, to azure_event_hubs '${config.name}'`,
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
        refusedAbove = Math.min(
          refusedAbove,
          named > 0 && named < batch.sizeInBytes ? named : Math.floor(batch.sizeInBytes / 2),
        );
        logger.warn(
          { refused_bytes: batch.sizeInBytes },
          'the hub refused a batch as too large; sending smaller batches (lower max_batch_bytes)',
        );
        error = new RetryableError(error.message, { cause: err });
      }
      for (const index of members) failed.push({ index, error });
      return error;
    }
  };

  /**
   * Sends the batches of one partition key in order. After one fails for a reason worth retrying, the later ones are
   * held back (failed, retryable, unsent): sent now, they would arrive before the retried, older revisions.
   */
  const sendInOrder = async (
    h: Hub,
    c: EventHubProducerClient,
    list: Group[],
    failed: SendResult['failed'],
  ): Promise<Array<Error | undefined>> => {
    const out: Array<Error | undefined> = [];
    let held: RetryableError | undefined;
    for (const group of list) {
      if (held) {
        for (const index of group.members) failed.push({ index, error: held });
        out.push(held);
        continue;
      }
      const error = await sendGroup(h, c, group, failed);
      if (error instanceof RetryableError) {
        held = new RetryableError(
          `not sent to azure_event_hubs '${config.name}': an earlier batch of partition key ${group.key} failed (${error.message})`,
        );
      }
      out.push(error);
    }
    return out;
  };

  /** Delivers records to one hub. */
  const deliverTo = async (h: Hub, records: readonly AlertRecord[]): Promise<void | SendResult> => {
    const failed: SendResult['failed'] = [];
    let groups: Group[];
    let c: EventHubProducerClient | undefined;
    try {
      c = client(h);
      groups = await build(c, records, await batchLimit(h, c), failed);
    } catch (err) {
      const what = `connecting azure_event_hubs sink '${config.name}' to ${templated ? `hub ${h.name}` : 'its hub'}`;
      if (isAuthFailure(err)) throw pause(err, what, h, c);
      if (isMissingHub(err)) throw pauseMissing(err, what, h, c);
      const error = classifyEventHubsError(err, what);
      if (error instanceof PermanentError) refusal = { error, until: Date.now() + REFUSAL_MEMO_MS };
      throw error;
    }
    const oversize = failed.length;
    // Batches of one partition key go one after another, so its revisions arrive in order; different keys go at once.
    const byKey = new Map<string, Group[]>();
    for (const g of groups) (byKey.get(g.key) ?? byKey.set(g.key, []).get(g.key)!).push(g);
    const errors = (await Promise.all([...byKey.values()].map((list) => sendInOrder(h, c!, list, failed))))
      .flat()
      .filter((e) => e !== undefined);
    // Nothing went, and only for reasons worth retrying (busy, network): a failure of the whole batch. Permanent
    // failures stay per record: the pipeline then dead-letters exactly those, without bisecting.
    if (
      errors.length === groups.length &&
      errors.length > 0 &&
      oversize === 0 &&
      errors.every((e) => e instanceof RetryableError)
    )
      throw errors[0]!;
    if (errors.length < groups.length) {
      auth.accepted();
      missingHub.accepted();
    }
    return failed.length ? { failed } : undefined;
  };

  /**
   * Delivers a batch: to its one hub, or with a template to the hub of each record, the hubs at once. A record whose
   * hub name is invalid is dead-lettered with the reason; a refused credential (the namespace's, the same for every
   * hub) fails the whole batch, which pauses the sink.
   */
  const deliver = async (records: readonly AlertRecord[]): Promise<void | SendResult> => {
    if (refusal && Date.now() < refusal.until) throw refusal.error;
    if (!hubTemplate) {
      const h = hubFor(config.event_hub_name || undefined);
      return use(h, () => deliverTo(h, records));
    }
    const failed: SendResult['failed'] = [];
    const byHub = new Map<string, number[]>();
    records.forEach((r, index) => {
      const name = hubTemplate.render(r);
      if (name.ok) (byHub.get(name.name) ?? byHub.set(name.name, []).get(name.name)!).push(index);
      else
        failed.push({
          index,
          error: new PermanentError(`record ${r.key}: ${name.reason} in azure_event_hubs sink '${config.name}'`),
        });
    });
    let refused: Error | undefined;
    await Promise.all(
      [...byHub].map(async ([name, indices]) => {
        const h = hubFor(name);
        try {
          const res = await use(h, () =>
            deliverTo(
              h,
              indices.map((i) => records[i]!),
            ),
          );
          for (const f of res?.failed ?? []) failed.push({ index: indices[f.index]!, error: f.error });
        } catch (err) {
          if (auth.paused) refused ??= err as Error;
          const error =
            err instanceof PermanentError || err instanceof RetryableError
              ? err
              : new RetryableError((err as Error).message, { cause: err });
          for (const index of indices) failed.push({ index, error });
        }
      }),
    );
    if (refused) throw refused;
    return failed.length ? { failed: failed.sort((a, b) => a.index - b.index) } : undefined;
  };

  /** Marks a hub's client busy while `work` runs, so that it is not evicted under it. */
  const use = async <T>(h: Hub, work: () => Promise<T>): Promise<T> => {
    h.busy++;
    try {
      return await work();
    } finally {
      h.busy--;
    }
  };

  const sink: EventHubsSink = {
    name: config.name,
    type: 'azure_event_hubs',
    ready: () => !auth.paused && !missingHub.paused,
    notReadyReason: () => auth.reason ?? missingHub.reason,
    /** Checks the settings, then opens the link in the background: a hub that is unreachable must not stop the daemon. */
    async start() {
      // With a template, the hubs are known from the records: each client opens at its first delivery.
      if (templated) return;
      const h = hubFor(config.event_hub_name || undefined);
      const c = client(h);
      life.background(
        () => batchLimit(h, c),
        (err: unknown) => {
          if (isAuthFailure(err)) pause(err, 'connecting', h, c);
          else if (isMissingHub(err)) pauseMissing(err, 'connecting', h, c);
          else
            logger.warn(
              { err: classifyEventHubsError(err, 'connecting').message },
              'connecting to event hubs failed; trying again on the first delivery',
            );
        },
      );
    },
    send: (records) => life.track(() => deliver(records)),
    close() {
      return life.close(async () => {
        const clients = [...hubs.values()].flatMap((h) => (h.producer ? [h.producer] : []));
        hubs.clear();
        await Promise.all(
          clients.map((c) =>
            c.close().catch((err: unknown) => logger.warn({ err }, 'closing the event hubs client failed')),
          ),
        );
        await retired;
        await dispatcher?.close().catch(() => undefined);
      });
    },
  };
  return sink;
};

/** The registry's name for this sink's factory. */
export const create = createEventHubsSink;
