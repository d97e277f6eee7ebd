/**
 * An Azure Event Hubs endpoint for `alertbridge demo`, the tests and the benches: an AMQP 1.0 server on loopback,
 * built on `rhea`, that speaks the part of the Event Hubs protocol a producer and a consumer use — SASL, claims-based
 * security (`$cbs` put-token with SAS signatures checked for real), `$management` reads, sender links to a hub or one
 * of its partitions, batched messages (format 0x80013700), partition keys, `max-message-size`, receiver links of
 * consumer groups with starting positions (selector filters on offset, sequence number or enqueued time), owner
 * levels (epochs) and credit-based flow, and the service's error conditions on demand.
 * The real `@azure/event-hubs` client reaches it through a connection string with `UseDevelopmentEmulator=true`
 * (plain TCP, port from the endpoint), or over WebSockets in TLS (`websocket` option, `./websocket.ts`). It records
 * what arrived so tests assert on the far end. See test/peers/eventhubs/README.md.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo, Server, Socket } from 'node:net';
import rhea from 'rhea';
import type { AmqpError, Connection, Delivery, EventContext, Message, Sender } from 'rhea';
import { mulberry32 as seededRandom } from '../generate-random.js';
import { createWebSocketServer } from './websocket.js';

/** Message format of an Event Hubs batch: the body is data sections, each an encoded AMQP message. */
const BATCH_FORMAT = 0x80013700;
const PARTITION_KEY = 'x-opt-partition-key';
const SEQUENCE_NUMBER = 'x-opt-sequence-number';
const OFFSET = 'x-opt-offset';
const ENQUEUED_TIME = 'x-opt-enqueued-time';
/** Filter a receiver's attach carries for its starting position, and the owner level (epoch) property. */
const SELECTOR_FILTER = 'apache.org:selector-filter:string';
const EPOCH = 'com.microsoft:epoch';

/** One event as the peer stored it. */
export interface ReceivedEvent {
  hub: string;
  partition: string;
  /** Per-partition sequence number, from 0. */
  sequenceNumber: number;
  partitionKey: string | undefined;
  messageId: string | undefined;
  contentType: string | undefined;
  properties: Record<string, unknown>;
  /** The body (the first data section); undefined when the peer runs with `keepBodies: false`. */
  body: Buffer | undefined;
  /** Index of the delivery (in `batches`) that carried it. */
  batch: number;
}

/** One accepted delivery: what a `sendBatch` became on the wire. */
export interface ReceivedBatch {
  hub: string;
  partition: string;
  partitionKey: string | undefined;
  /** Size of the delivery's payload, as the link's `max-message-size` counts it. */
  bytes: number;
  count: number;
}

export interface EventHubsPeerFaults {
  /** Reject every delivery with `com.microsoft:server-busy`. @defaultValue false */
  serverBusy: boolean;
  /** Fraction (0–1) of deliveries rejected with `com.microsoft:server-busy`, drawn from a seeded die. @defaultValue 0 */
  serverBusyRate: number;
  /**
   * Rejects with `com.microsoft:server-busy` each delivery holding an event for which this returns true (in-process
   * peers only: a function does not cross to `child.ts`). @defaultValue undefined
   */
  serverBusyWhen?: (event: { partitionKey: string | undefined; properties: Record<string, unknown> }) => boolean;
  /** Deliveries larger than this are rejected as too large. @defaultValue the advertised `maxMessageBytes` */
  rejectAboveBytes: number;
  /** Condition of that rejection (the service sends the first). @defaultValue 'amqp:link:message-size-exceeded' */
  tooLargeCondition: 'amqp:link:message-size-exceeded' | 'com.microsoft:message-too-large';
}

export interface EventHubsPeerOptions extends Partial<EventHubsPeerFaults> {
  /** Event hubs of the namespace and their partition counts. @defaultValue { alerts: 4 } */
  hubs?: Record<string, number>;
  /** Shared access policies: key name → key. @defaultValue { RootManageSharedAccessKey: <random> } */
  keys?: Record<string, string>;
  /** `max-message-size` advertised on sender links: 1 MB as on Standard (Basic: 262144). @defaultValue 1048576 */
  maxMessageBytes?: number;
  /** Keep event bodies (a 100,000-event bench may not want to). @defaultValue true */
  keepBodies?: boolean;
  /** Seed of the fault die. @defaultValue 1 */
  seed?: number;
  /** Consumer groups of every hub (`$default` always exists, as on the service). @defaultValue ['$default'] */
  consumerGroups?: string[];
  /**
   * Listen for AMQP over WebSockets (`wss://127.0.0.1:<port>/$servicebus/websocket`, what the client uses with
   * `webSocketOptions`) with this certificate, instead of plain AMQP. @defaultValue plain AMQP on TCP
   */
  websocket?: { cert: string; key: string };
}

export interface EventHubsPeerStats {
  connections: number;
  /** Put-token requests answered 200 / refused (401, 404). */
  tokensAccepted: number;
  tokensRefused: number;
  managementRequests: number;
  /** Deliveries accepted / rejected busy / rejected too large / rejected otherwise. */
  accepted: number;
  busy: number;
  tooLarge: number;
  refused: number;
  /** Receiver links opened (a consumer reading a partition), and those closed because a higher owner level came. */
  receiversOpened: number;
  receiversStolen: number;
  /** Events sent to consumers (each receiver counts its own). */
  delivered: number;
}

/** An event appended without a producer (`peer.enqueue`): no size limit, any body bytes. */
export interface EnqueuedEvent {
  body: Buffer | string;
  properties?: Record<string, unknown>;
  partitionKey?: string;
  contentType?: string;
}

export interface EventHubsPeer {
  host: string;
  port: number;
  /** The first key name and its key. */
  keyName: string;
  key: string;
  /**
   * `Endpoint=sb://127.0.0.1:<port>;SharedAccessKeyName=…;SharedAccessKey=…;UseDevelopmentEmulator=true;EntityPath=<hub>`.
   * `hub: null` leaves EntityPath out; `key`/`keyName` override the credentials (a wrong key → 401 on put-token).
   */
  connectionString(hub?: string | null, creds?: { key?: string; keyName?: string }): string;
  /** Every stored event, in arrival order. */
  readonly received: ReceivedEvent[];
  readonly batches: ReceivedBatch[];
  readonly stats: EventHubsPeerStats;
  setFaults(faults: Partial<EventHubsPeerFaults>): void;
  /** Forgets what arrived (events, batches, stats). */
  reset(): void;
  /** Creates an event hub (an operator fixing a missing one); its name as `hubs` takes it. */
  createHub(name: string, partitions?: number): void;
  /** Creates a consumer group (on every hub). */
  createConsumerGroup(name: string): void;
  /**
   * Appends events to one partition as if a producer had sent them, without the link's size limit (a test's
   * oversized or malformed event); consumers reading the partition get them. Returns their sequence numbers.
   */
  enqueue(hub: string, partition: string, events: EnqueuedEvent[]): number[];
  /** Open receiver links: which consumer group reads which partition, from where, with which owner level. */
  receivers(): Array<{ hub: string; consumerGroup: string; partition: string; ownerLevel: number | undefined }>;
  /** Drops every client connection (a network cut); the server keeps listening. */
  dropConnections(): void;
  /** Stops listening and drops every connection. Idempotent. */
  close(): Promise<void>;
}

/** A parsed and verified SAS token: the resource it covers (path of its `sr` URL, lowercase, no trailing slash). */
type SasCheck = { ok: true; resource: string; expiresAt: number } | { ok: false; reason: string };

/**
 * Checks `SharedAccessSignature sr=<url-encoded resource>&sig=<url-encoded base64 HMAC-SHA256(key, sr + "\n" + se)>&se=<expiry>&skn=<key name>`,
 * exactly as the service does: the HMAC key is the policy key's text, the signed string uses `sr` as sent (encoded).
 */
export function verifySasToken(token: string, keys: Record<string, string>, now = Date.now()): SasCheck {
  const prefix = 'SharedAccessSignature ';
  if (!token.startsWith(prefix)) return { ok: false, reason: 'not a SharedAccessSignature token' };
  const fields = new Map(
    token
      .slice(prefix.length)
      .split('&')
      .map((kv) => {
        const eq = kv.indexOf('=');
        return [kv.slice(0, eq), kv.slice(eq + 1)] as const;
      }),
  );
  const [sr, sig, se, skn] = ['sr', 'sig', 'se', 'skn'].map((k) => fields.get(k));
  if (!sr || !sig || !se || !skn) return { ok: false, reason: 'token lacks sr, sig, se or skn' };
  const key = keys[decodeURIComponent(skn)];
  if (key === undefined) return { ok: false, reason: `unknown SharedAccessKeyName '${decodeURIComponent(skn)}'` };
  const expected = Buffer.from(createHmac('sha256', key).update(`${sr}\n${se}`).digest('base64'));
  const given = Buffer.from(decodeURIComponent(sig));
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'InvalidSignature: the token has an invalid signature' };
  const expiresAt = Number(se) * 1000;
  if (!(expiresAt > now)) return { ok: false, reason: 'ExpiredToken: the token is expired' };
  return { ok: true, resource: resourcePath(decodeURIComponent(sr)), expiresAt };
}

/** `sb://host:port/Hub/Partitions/0` → `/hub/partitions/0`: what the service compares (case-insensitive, host-free). */
function resourcePath(audience: string): string {
  const path = audience.includes('://') ? audience.replace(/^[a-z]+:\/\/[^/]*/i, '') : audience;
  return ('/' + path.replace(/^\/+|\/+$/g, '')).toLowerCase();
}

/** Does a token for `resource` cover `target`? The service allows any prefix on segment boundaries (namespace, hub, …). */
const covers = (resource: string, target: string): boolean =>
  resource === '/' || target === resource || target.startsWith(resource + '/');

/**
 * Event hub names: 1–256 letters, digits, `.`, `-`, `_`, starting and ending with a letter or digit. The service's
 * answer to a name outside this is not documented; the peer refuses the put-token with 400 (argument-error).
 */
const VALID_HUB_NAME = /^[a-z0-9](?:[a-z0-9._-]{0,254}[a-z0-9])?$/i;

/** `error-condition` of a `$cbs` / `$management` refusal, by status code. */
const REPLY_CONDITIONS: Record<number, string> = {
  400: 'com.microsoft:argument-error',
  401: 'amqp:unauthorized-access',
  404: 'amqp:not-found',
};

/** Java's String.hashCode: any stable hash will do for the peer (the service's own is not part of its contract). */
function stableHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h >>> 0;
}

type DecodedMessage = ReturnType<typeof rhea.message.decode>;

/** The parts of a rhea link the typings leave out: the attach frame we answer with. */
type RawLink = {
  local: { attach: { max_message_size?: number } };
  remote: { attach?: { properties?: Record<string, unknown> } };
};

/** One stored event of a partition, ready to go to a consumer (the annotations the service adds are set). */
interface StoredEvent {
  message: DecodedMessage;
  sequenceNumber: number;
  /** Byte position in the partition, as the service's offsets are (not the sequence number). */
  offset: number;
  enqueuedAt: number;
}

/** A receiver link of a consumer: the peer sends the partition's events from `next` on, as credit allows. */
interface ConsumerLink {
  sender: Sender;
  connection: Connection;
  hub: string;
  group: string;
  partition: string;
  ownerLevel: number | undefined;
  next: number;
  /** Deliveries queued on the link in all (rhea's `delivery_count` counts those transferred). */
  queued: number;
}

/**
 * The starting position of a receiver from its selector filter, as the client writes it (`getEventPositionFilter`):
 * `amqp.annotation.x-opt-offset > '-1'` (earliest), `… > '@latest'`, `… >= '<offset>'`,
 * `amqp.annotation.x-opt-sequence-number > '<n>'`, `amqp.annotation.x-opt-enqueued-time > '<ms>'`. Returns the index of
 * the first event to send, or an error text.
 */
export function startIndex(filter: string | undefined, log: readonly StoredEvent[]): number | string {
  if (filter === undefined) return log.length;
  const m = /^\s*amqp\.annotation\.x-opt-(offset|sequence-number|enqueued-time)\s*(>=|>)\s*'([^']*)'\s*$/.exec(filter);
  if (!m) return `unsupported filter expression: ${filter}`;
  const [, field, op, value] = m as unknown as [string, string, string, string];
  if (field === 'offset' && value === '@latest') return log.length;
  if (!/^-?\d+$/.test(value)) return `the ${field} '${value}' is not a number`;
  const n = Number(value);
  const key = (e: StoredEvent) =>
    field === 'offset' ? e.offset : field === 'sequence-number' ? e.sequenceNumber : e.enqueuedAt;
  const i = log.findIndex((e) => (op === '>=' ? key(e) >= n : key(e) > n));
  return i < 0 ? log.length : i;
}

/** The selector filter's text from an attach's source (a described value whose descriptor the client sets). */
function filterText(source: unknown): string | undefined {
  const entry = (source as { filter?: Record<string, unknown> } | undefined)?.filter?.[SELECTOR_FILTER];
  let v: unknown = entry;
  for (let i = 0; i < 3 && v !== null && typeof v === 'object'; i++) v = (v as { value?: unknown }).value;
  return typeof v === 'string' ? v : undefined;
}

/** Per-connection state: claims put on `$cbs`, and the links replies go out on (by name and by target address). */
interface ConnectionState {
  claims: Map<string, number>;
  replyLinks: Map<string, Sender>;
}

/**
 * The client's rhea can end a session and then send the dispositions of what it received on it (it flushes them on
 * `process.nextTick`, after the `end`): closing a consumer whose prefetched events are not yet settled does this. The
 * service ignores such late frames; rhea's connection throws a ProtocolError ("disposition received on invalid
 * channel") that kills the whole connection, and the client's close then waits forever. So the peer drops
 * dispositions and flows on a channel that no longer has a session, as the service does.
 */
function tolerateLateFrames(connection: Connection): void {
  const raw = connection as unknown as Record<string, unknown> & { remote_channel_map: Record<number, unknown> };
  for (const name of ['on_disposition', 'on_flow']) {
    const original = raw[name] as (frame: { channel: number }) => void;
    raw[name] = function (this: unknown, frame: { channel: number }) {
      if (raw.remote_channel_map[frame.channel]) original.call(this, frame);
    };
  }
}

export async function startEventHubsPeer(opts: EventHubsPeerOptions = {}): Promise<EventHubsPeer> {
  const hubs = new Map(
    Object.entries(opts.hubs ?? { alerts: 4 }).map(([name, n]) => [
      name.toLowerCase(),
      { name, partitions: n, createdAt: new Date() },
    ]),
  );
  const keys = opts.keys ?? { RootManageSharedAccessKey: randomBytes(32).toString('base64') };
  const [keyName, key] = Object.entries(keys)[0]!;
  const maxMessageBytes = opts.maxMessageBytes ?? 1_048_576;
  const keepBodies = opts.keepBodies ?? true;
  const groups = new Set(['$default', ...(opts.consumerGroups ?? [])].map((g) => g.toLowerCase()));
  const random = seededRandom(opts.seed ?? 1);
  const faults: EventHubsPeerFaults = {
    serverBusy: opts.serverBusy ?? false,
    serverBusyRate: opts.serverBusyRate ?? 0,
    serverBusyWhen: opts.serverBusyWhen,
    rejectAboveBytes: opts.rejectAboveBytes ?? maxMessageBytes,
    tooLargeCondition: opts.tooLargeCondition ?? 'amqp:link:message-size-exceeded',
  };
  const received: ReceivedEvent[] = [];
  const batches: ReceivedBatch[] = [];
  const emptyStats = (): EventHubsPeerStats => ({
    connections: 0,
    tokensAccepted: 0,
    tokensRefused: 0,
    managementRequests: 0,
    accepted: 0,
    busy: 0,
    tooLarge: 0,
    refused: 0,
    receiversOpened: 0,
    receiversStolen: 0,
    delivered: 0,
  });
  const stats = emptyStats();
  const sequence = new Map<string, number>();
  const lastEnqueued = new Map<string, Date>();
  /** Per `hub/partition`: the stored events (only with `keepBodies`), the next offset and the last event's offset. */
  const logs = new Map<string, StoredEvent[]>();
  const nextOffset = new Map<string, number>();
  const lastOffset = new Map<string, number>();
  const consumers = new Set<ConsumerLink>();
  const states = new WeakMap<Connection, ConnectionState>();
  const sockets = new Set<Socket>();
  let roundRobin = 0;

  const stateOf = (c: Connection): ConnectionState => {
    let s = states.get(c);
    if (!s) states.set(c, (s = { claims: new Map(), replyLinks: new Map() }));
    return s;
  };
  const entityNotFound = (what: string): AmqpError => ({
    condition: 'amqp:not-found',
    description: `The messaging entity '${what}' could not be found.`,
  });
  const authorized = (c: Connection, path: string): boolean => {
    for (const [resource, expiresAt] of stateOf(c).claims)
      if (expiresAt > Date.now() && covers(resource, path)) return true;
    return false;
  };
  /** `hub` or `hub/Partitions/n` → the hub and partition, or undefined for an address that names nothing. */
  const parseAddress = (
    address: string,
  ): { hub: { name: string; partitions: number }; partition: string | undefined } | undefined => {
    const m = /^\/?([^/]+)(?:\/Partitions\/(\d+))?\/?$/i.exec(address);
    const hub = m ? hubs.get(m[1]!.toLowerCase()) : undefined;
    if (!m || !hub || (m[2] !== undefined && Number(m[2]) >= hub.partitions)) return undefined;
    return { hub, partition: m[2] };
  };

  const container = rhea.create_container({ id: 'eventhubs-peer' });
  container.sasl_server_mechanisms.enable_anonymous();
  container.sasl_server_mechanisms.enable_plain(() => true);

  /**
   * Replies on the link the request named in `reply_to`, once it has credit. A refusal names its AMQP condition in
   * `error-condition`, as the service does: the client maps the condition, not the status code, to its error.
   */
  const reply = (
    context: EventContext,
    request: Message,
    status: number,
    description: string,
    body?: unknown,
    condition = REPLY_CONDITIONS[status],
  ): void => {
    const link = request.reply_to ? stateOf(context.connection).replyLinks.get(request.reply_to) : undefined;
    if (!link) return;
    const message = {
      correlation_id: request.message_id,
      body,
      application_properties: {
        'status-code': status,
        'status-description': description,
        ...(condition && { 'error-condition': condition }),
      },
    };
    if (link.sendable()) link.send(message);
    else link.once('sendable', () => link.send(message));
  };

  const onCbs = (context: EventContext, request: Message): void => {
    const props = request.application_properties ?? {};
    const audience = String(props.name ?? '');
    if (props.operation !== 'put-token')
      return reply(context, request, 400, `unsupported operation '${String(props.operation)}'`);
    if (props.type !== 'servicebus.windows.net:sastoken') {
      stats.tokensRefused++;
      return reply(context, request, 401, `token type '${String(props.type)}' is not accepted here (SAS only)`);
    }
    const target = resourcePath(audience);
    const hubName = target.split('/')[1] ?? '';
    if (hubName && !VALID_HUB_NAME.test(hubName)) {
      stats.tokensRefused++;
      return reply(context, request, 400, `The entity path '${hubName}' is not a valid event hub name.`);
    }
    const group = /^\/[^/]+\/consumergroups\/([^/]+)/.exec(target)?.[1];
    if ((hubName && !hubs.has(hubName)) || (group !== undefined && !groups.has(decodeURIComponent(group)))) {
      stats.tokensRefused++;
      return reply(context, request, 404, entityNotFound(audience).description!);
    }
    const check = verifySasToken(String(request.body ?? ''), keys);
    if (!check.ok || !covers(check.resource, target)) {
      stats.tokensRefused++;
      return reply(
        context,
        request,
        401,
        check.ok ? `the token's resource does not cover '${audience}'` : check.reason,
      );
    }
    stats.tokensAccepted++;
    stateOf(context.connection).claims.set(target, check.expiresAt);
    reply(context, request, 200, 'OK');
  };

  const onManagement = (context: EventContext, request: Message): void => {
    stats.managementRequests++;
    const props = request.application_properties ?? {};
    const hub = hubs.get(String(props.name ?? '').toLowerCase());
    if (props.operation !== 'READ')
      return reply(context, request, 400, `unsupported operation '${String(props.operation)}'`);
    if (!hub) return reply(context, request, 404, entityNotFound(String(props.name)).description!);
    const check = verifySasToken(String(props.security_token ?? ''), keys);
    if (!check.ok || !covers(check.resource, `/${hub.name.toLowerCase()}`))
      return reply(context, request, 401, check.ok ? 'the token does not cover this hub' : check.reason);
    if (props.type === 'com.microsoft:eventhub') {
      return reply(context, request, 200, 'OK', {
        name: hub.name,
        type: 'com.microsoft:eventhub',
        created_at: hub.createdAt,
        partition_count: hub.partitions,
        partition_ids: Array.from({ length: hub.partitions }, (_, i) => String(i)),
      });
    }
    if (props.type !== 'com.microsoft:partition')
      return reply(context, request, 400, `unsupported READ of '${String(props.type)}'`);
    const partition = String(props.partition ?? '');
    if (!/^\d+$/.test(partition) || Number(partition) >= hub.partitions) {
      return reply(
        context,
        request,
        400,
        `The specified partition is invalid for an EventHub partition sender or receiver. It should be between 0 and ${hub.partitions - 1}.`,
        undefined,
        'com.microsoft:argument-out-of-range',
      );
    }
    const last = (sequence.get(`${hub.name}/${partition}`) ?? 0) - 1;
    // Offsets are byte positions, as the service's are. Empty: -1 for both, as the service says.
    reply(context, request, 200, 'OK', {
      name: hub.name,
      type: 'com.microsoft:partition',
      partition,
      begin_sequence_number: 0,
      last_enqueued_sequence_number: last,
      last_enqueued_offset: String(lastOffset.get(`${hub.name}/${partition}`) ?? -1),
      last_enqueued_time_utc: lastEnqueued.get(`${hub.name}/${partition}`) ?? new Date(0),
      is_partition_empty: last < 0,
    });
  };

  /**
   * Settlement goes through a queue because rhea 3.0.5 writes dispositions wrongly when outcomes are mixed:
   * `write_dispositions` (lib/session.js) opens a range with one delivery and then adds the next delivery to it
   * without comparing outcomes (the comparison sits behind `first !== last`), so [accepted, rejected] leaves as
   * one "accepted" range — a lost event — and [rejected, accepted] as one "rejected" range — a duplicate. rhea
   * flushes dispositions on process.nextTick; settling only accepts, or a single reject, per turn keeps each range
   * to one outcome.
   */
  const settling: Array<{ delivery: Delivery; error?: AmqpError }> = [];
  const drain = (): void => {
    let n = 0;
    if (settling[0]?.error) n = 1;
    else while (n < settling.length && !settling[n]!.error) n++;
    for (const { delivery, error } of settling.splice(0, n)) {
      if (error) delivery.reject(error);
      else delivery.accept();
    }
    if (settling.length) setImmediate(drain);
  };
  const settle = (delivery: Delivery, error?: AmqpError): void => {
    if (settling.push({ delivery, error }) === 1) setImmediate(drain);
  };

  /** Stores a delivery's events, or rejects it the way the service would. */
  const onEvents = (context: EventContext, address: string): void => {
    const delivery = context.delivery!;
    const reject = (condition: string, description: string) => settle(delivery, { condition, description });
    const target = parseAddress(address);
    if (!target) return reject('amqp:not-found', entityNotFound(address).description!);
    if (!authorized(context.connection, resourcePath(address))) {
      stats.refused++;
      return reject(
        'amqp:unauthorized-access',
        `Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: '${address}'.`,
      );
    }
    const raw = context.message as unknown;
    const payload = Buffer.isBuffer(raw) ? raw : rhea.message.encode(raw);
    if (faults.serverBusy || (faults.serverBusyRate > 0 && random() < faults.serverBusyRate)) {
      stats.busy++;
      return reject(
        'com.microsoft:server-busy',
        'The request was terminated because the entity is being throttled. Please wait 4 seconds and try again.',
      );
    }
    if (payload.length > faults.rejectAboveBytes) {
      stats.tooLarge++;
      return reject(
        faults.tooLargeCondition,
        `The received message (delivery-id:${delivery.id}, size:${payload.length} bytes) exceeds the limit (${faults.rejectAboveBytes} bytes) currently allowed on the link.`,
      );
    }
    let events: DecodedMessage[];
    let sizes: number[];
    try {
      const envelope =
        Buffer.isBuffer(raw) && context.delivery!.format === BATCH_FORMAT ? rhea.message.decode(payload) : undefined;
      const section = envelope?.body as { content: Buffer | Buffer[]; multiple?: boolean } | undefined;
      const parts = envelope
        ? section?.multiple
          ? (section.content as Buffer[])
          : [section!.content as Buffer]
        : [payload];
      sizes = parts.map((b) => b.length);
      events = parts.map((b) => rhea.message.decode(b));
    } catch (err) {
      stats.refused++;
      return reject('amqp:decode-error', `cannot decode the batch: ${(err as Error).message}`);
    }
    const partitionKey = events[0]?.message_annotations?.[PARTITION_KEY] as string | undefined;
    const busyWhen = faults.serverBusyWhen;
    if (busyWhen && events.some((e) => busyWhen({ partitionKey, properties: e.application_properties ?? {} }))) {
      stats.busy++;
      return reject(
        'com.microsoft:server-busy',
        'The request was terminated because the entity is being throttled. Please wait 4 seconds and try again.',
      );
    }
    if (events.some((e) => e.message_annotations?.[PARTITION_KEY] !== partitionKey)) {
      stats.refused++;
      return reject('com.microsoft:argument-error', 'every event of a batch must have the same partition key');
    }
    if (target.partition !== undefined && partitionKey !== undefined) {
      stats.refused++;
      return reject('com.microsoft:argument-error', 'a partition key cannot be used when sending to a partition');
    }
    const partition =
      target.partition ??
      String(
        partitionKey !== undefined
          ? stableHash(partitionKey) % target.hub.partitions
          : roundRobin++ % target.hub.partitions,
      );
    const batch =
      batches.push({ hub: target.hub.name, partition, partitionKey, bytes: payload.length, count: events.length }) - 1;
    events.forEach((e, i) => store(target.hub.name, partition, e, sizes[i]!, batch));
    stats.accepted++;
    settle(delivery);
  };

  /**
   * Stores one event of a partition: its sequence number and offset, the record tests read (`received`), and — with
   * `keepBodies` — the message consumers get, annotated as the service does. Then feeds the partition's readers.
   */
  const store = (hub: string, partition: string, e: DecodedMessage, bytes: number, batch: number): number => {
    const where = `${hub}/${partition}`;
    const seq = sequence.get(where) ?? 0;
    sequence.set(where, seq + 1);
    const offset = nextOffset.get(where) ?? 0;
    nextOffset.set(where, offset + bytes);
    lastOffset.set(where, offset);
    const now = new Date();
    lastEnqueued.set(where, now);
    const body = e.body as { content?: unknown } | undefined;
    received.push({
      hub,
      partition,
      sequenceNumber: seq,
      partitionKey: e.message_annotations?.[PARTITION_KEY] as string | undefined,
      batch,
      messageId: e.message_id === undefined ? undefined : String(e.message_id),
      contentType: e.content_type,
      properties: { ...(e.application_properties ?? {}) },
      body: keepBodies && Buffer.isBuffer(body?.content) ? body.content : undefined,
    });
    if (keepBodies) {
      e.message_annotations = {
        ...(e.message_annotations ?? {}),
        [SEQUENCE_NUMBER]: seq,
        [OFFSET]: String(offset),
        [ENQUEUED_TIME]: now,
      };
      let log = logs.get(where);
      if (!log) logs.set(where, (log = []));
      log.push({ message: e, sequenceNumber: seq, offset, enqueuedAt: now.getTime() });
      for (const c of consumers) if (c.hub === hub && c.partition === partition) pump(c);
    }
    return seq;
  };

  /** Sends a reader the partition's next events, as far as the credit its client granted goes. */
  const pump = (c: ConsumerLink): void => {
    const log = logs.get(`${c.hub}/${c.partition}`);
    if (!log || !consumers.has(c)) return;
    // rhea takes credit off when a queued delivery goes out on the wire, so `sendable()` still holds for deliveries
    // queued this turn: count what is queued but not yet transferred against the credit the client granted.
    const link = c.sender as unknown as { credit: number; delivery_count: number };
    while (c.next < log.length && c.sender.is_open() && link.credit - (c.queued - link.delivery_count) > 0) {
      c.sender.send(log[c.next]!.message as unknown as Message);
      c.next++;
      c.queued++;
      stats.delivered++;
    }
  };

  /**
   * A client's receiver on `<hub>/ConsumerGroups/<group>/Partitions/<n>`: checked like the service does (hub,
   * partition, group, a `Listen` claim, the filter), then owner levels: a receiver with an owner level closes the
   * group's other readers of the partition whose level is not higher (`amqp:link:stolen` → ReceiverDisconnectedError),
   * and a receiver below an existing level, or without one while one exists, is refused the same way.
   */
  const openConsumer = (context: EventContext, sender: Sender, address: string, m: RegExpExecArray): void => {
    const hub = hubs.get(m[1]!.toLowerCase());
    const group = m[2]!;
    const partition = m[3]!;
    if (!hub) return void sender.close(entityNotFound(address));
    if (!/^\d+$/.test(partition) || Number(partition) >= hub.partitions) {
      return void sender.close({
        condition: 'com.microsoft:argument-out-of-range',
        description: `The specified partition is invalid for an EventHub partition sender or receiver. It should be between 0 and ${hub.partitions - 1}.`,
      });
    }
    if (!groups.has(group.toLowerCase()))
      return void sender.close(entityNotFound(`${hub.name}/ConsumerGroups/${group}`));
    if (!authorized(context.connection, resourcePath(address))) {
      return void sender.close({
        condition: 'amqp:unauthorized-access',
        description: `Unauthorized access. 'Listen' claim(s) are required to perform this operation. Resource: '${address}'.`,
      });
    }
    const log = logs.get(`${hub.name}/${partition}`) ?? [];
    const start = startIndex(filterText(sender.source), log);
    if (typeof start === 'string')
      return void sender.close({ condition: 'com.microsoft:argument-error', description: start });
    const level = (sender as unknown as RawLink).remote.attach?.properties?.[EPOCH];
    const ownerLevel = level === undefined || level === null ? undefined : Number(level);
    const rivals = [...consumers].filter(
      (c) => c.hub === hub.name && c.group.toLowerCase() === group.toLowerCase() && c.partition === partition,
    );
    const higher = rivals.find(
      (c) => c.ownerLevel !== undefined && (ownerLevel === undefined || c.ownerLevel > ownerLevel),
    );
    if (higher) {
      stats.receiversStolen++;
      return void sender.close({
        condition: 'amqp:link:stolen',
        description: `Receiver '${sender.name}' with epoch '${ownerLevel ?? 'none'}' cannot be created because a receiver with epoch '${higher.ownerLevel}' already exists.`,
      });
    }
    if (ownerLevel !== undefined) {
      for (const c of rivals) {
        consumers.delete(c);
        stats.receiversStolen++;
        c.sender.close({
          condition: 'amqp:link:stolen',
          description: `New receiver '${sender.name}' with higher epoch of '${ownerLevel}' is created hence current receiver '${c.sender.name}' with epoch '${c.ownerLevel ?? 'none'}' is getting disconnected.`,
        });
      }
    }
    sender.set_source({ address });
    const c: ConsumerLink = {
      sender,
      connection: context.connection,
      hub: hub.name,
      group,
      partition,
      ownerLevel,
      next: start,
      queued: 0,
    };
    consumers.add(c);
    stats.receiversOpened++;
    sender.on('sendable', () => pump(c));
  };

  container.on('connection_open', (context: EventContext) => {
    stats.connections++;
    tolerateLateFrames(context.connection);
  });
  // A client's sender: `$cbs`, `$management`, or a hub (or partition) it wants to publish to.
  container.on('receiver_open', (context: EventContext) => {
    const receiver = context.receiver!;
    const address = receiver.target?.address ?? '';
    if (address === '$cbs' || address === '$management') return;
    const target = parseAddress(address);
    if (!target) return receiver.close(entityNotFound(address));
    if (!authorized(context.connection, resourcePath(address))) {
      return receiver.close({
        condition: 'amqp:unauthorized-access',
        description: `Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: '${address}'.`,
      });
    }
    (receiver as unknown as RawLink).local.attach.max_message_size = maxMessageBytes;
  });
  // A client's receiver: where replies to its `$cbs` / `$management` requests go.
  container.on('sender_open', (context: EventContext) => {
    const sender = context.sender!;
    const source = (sender.source as { address?: string } | undefined)?.address ?? '';
    const consumer = /^\/?([^/]+)\/ConsumerGroups\/([^/]+)\/Partitions\/([^/]+)\/?$/i.exec(source);
    if (consumer) return openConsumer(context, sender, source, consumer);
    const replies = stateOf(context.connection).replyLinks;
    replies.set(sender.name, sender);
    const target = (sender as unknown as { remote: { attach?: { target?: { address?: string } } } }).remote.attach
      ?.target?.address;
    if (target) replies.set(target, sender);
  });
  container.on('message', (context: EventContext) => {
    const address = context.receiver?.target?.address ?? '';
    if (address === '$cbs') return onCbs(context, context.message!);
    if (address === '$management') return onManagement(context, context.message!);
    onEvents(context, address);
  });
  container.on('sender_close', (context: EventContext) => {
    for (const c of consumers) if (c.sender === context.sender) consumers.delete(c);
  });
  container.on('error', () => undefined);
  container.on('disconnected', (context: EventContext) => {
    for (const c of consumers) if (c.connection === context.connection) consumers.delete(c);
  });

  // Deliveries are settled by hand (accept, or reject with the service's condition); credit is the rhea default.
  const server: Server = opts.websocket
    ? createWebSocketServer(opts.websocket, (ws) =>
        container.websocket_accept(ws as never, { autoaccept: false } as never),
      ).listen(0, '127.0.0.1')
    : container.listen({ port: 0, host: '127.0.0.1', autoaccept: false } as never);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;

  return {
    host: '127.0.0.1',
    port,
    keyName,
    key,
    connectionString(hub = [...hubs.values()][0]!.name, creds = {}) {
      return (
        `Endpoint=sb://127.0.0.1:${port};SharedAccessKeyName=${creds.keyName ?? keyName};SharedAccessKey=${creds.key ?? key};` +
        `UseDevelopmentEmulator=true${hub === null ? '' : `;EntityPath=${hub}`}`
      );
    },
    received,
    batches,
    stats,
    setFaults(next) {
      Object.assign(faults, next);
    },
    reset() {
      received.length = 0;
      batches.length = 0;
      Object.assign(stats, emptyStats());
    },
    createHub(name, partitions = 4) {
      hubs.set(name.toLowerCase(), { name, partitions, createdAt: new Date() });
    },
    createConsumerGroup(name) {
      groups.add(name.toLowerCase());
    },
    enqueue(hubName, partition, events) {
      const hub = hubs.get(hubName.toLowerCase());
      if (!hub || !/^\d+$/.test(partition) || Number(partition) >= hub.partitions)
        throw new Error(`no partition ${partition} of hub ${hubName}`);
      const batch = batches.length;
      let bytes = 0;
      const seqs = events.map((ev) => {
        const body = Buffer.isBuffer(ev.body) ? ev.body : Buffer.from(ev.body);
        const encoded = rhea.message.encode({
          body: rhea.message.data_section(body),
          application_properties: ev.properties,
          content_type: ev.contentType,
          message_annotations: ev.partitionKey === undefined ? undefined : { [PARTITION_KEY]: ev.partitionKey },
        } as never);
        bytes += encoded.length;
        return store(hub.name, partition, rhea.message.decode(encoded), encoded.length, batch);
      });
      batches.push({ hub: hub.name, partition, partitionKey: events[0]?.partitionKey, bytes, count: events.length });
      return seqs;
    },
    receivers() {
      return [...consumers].map((c) => ({
        hub: c.hub,
        consumerGroup: c.group,
        partition: c.partition,
        ownerLevel: c.ownerLevel,
      }));
    },
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closed;
    },
  };
}
