/**
 * Redis key layout: the one place that builds a Redis key. Everything alertbridge writes lives under `{prefix}:`
 * (`redis.key_prefix`), so several deployments (or tests) can share one Redis; nothing else concatenates
 * `${prefix}:…` (test/pipeline/keys.test.ts fails if something does).
 *
 * **Hash tags (Redis Cluster).** Redis Cluster refuses a script or a MULTI whose keys hash to different slots
 * (CROSSSLOT); a key's slot is that of its first `{…}` when it has one. Every key that a script, a MULTI or a
 * pipeline uses together with another carries the same tag, and the tags are many, so the load spreads over the
 * primaries. One layout for a single Redis, Sentinel and Cluster (the tags cost nothing elsewhere):
 *
 * - **Inbox shards `{i0}`…`{i3}`**: a record key belongs to shard `crc32(key) % INBOX_SHARDS`; its dedup state and
 *   change summary, and the inbox stream, staged batches and reference sets of that shard share the tag, so the
 *   dedup-and-stage script, the batch release script and the dispatcher's acknowledging MULTI each stay in one
 *   slot. An emit is split per shard (each part atomic, like the 500-record chunks). By record key rather than
 *   tenant or source: a single-tenant deployment (the common case) still spreads, and two sources reading one tenant
 *   still dedup against each other. Every dispatcher reads every shard's stream (dispatcher.ts).
 * - **A sink `{sink-<name>}`**: its BullMQ queue (the tag is its queue name: BullMQ keys are
 *   `{prefix}:{queueName}:…`), its dead letters and the replay's lists and lock.
 * - **The notification stream `{notify}`**, with the streaming source's pending markers and burst window (one script writes all three).
 * - **A poller `{<source>:<resource>}`**: its cursor and the skips of `cursor skip` (one MULTI).
 * - **Write-back `{<source>}`**: a source's change stream, changes, dead list and lease (its scripts).
 * - The other keys are used one at a time and are not tagged (Redis hashes the whole key).
 *
 * | key                                          | type   | holds                                                   |
 * |----------------------------------------------|--------|---------------------------------------------------------|
 * | `{p}:inbox:{iN}`                             | stream | a staged batch per entry (id, routes); group `dispatch` |
 * | `{p}:batch:{iN}:{batchId}`                   | list   | a staged batch's records (head, data, …)                |
 * | `{p}:refs:{iN}:{entryId}`                    | set    | jobs still needing an entry (`{sink}\|{jobId}`)         |
 * | `{p}:dd:{iN}:{recordKey}`                    | string | dedup state: last revision order, digests               |
 * | `{p}:dc:{iN}:{recordKey}`                    | string | tracked fields of the last accepted revision (changes)  |
 * | `{p}:{sink-S}:…`                             | BullMQ | a sink's queue (BullMQ builds these)                    |
 * | `{p}:{sink-S}:{jobId}:dead-lettering`        | string | claim: one replica dead-letters a job                   |
 * | `{p}:dlq:{sink-S}`                           | list   | dead letters (JSON), oldest first                       |
 * | `{p}:dlq-replaying:{sink-S}`                 | list   | dead letters a replay took, not yet queued              |
 * | `{p}:dlq-replaying:{sink-S}:job`             | string | the job id they are queued under                        |
 * | `{p}:dlq-replaying:{sink-S}:lock`            | string | the replay running for this sink                        |
 * | `{p}:notifications:{notify}`                 | stream | Graph change notifications; group `fetch`               |
 * | `{p}:streaming-pending:{notify}:{source}:{id}` | string | an alert the stream queued and no fetch has started yet |
 * | `{p}:streaming-burst:{notify}:{source}`      | zset   | alerts the stream newly named in the last 5 s (bursts)   |
 * | `{p}:cursor:{source:resource}`               | hash   | a poller's watermark and state                          |
 * | `{p}:cursor-skips:{source:resource}`         | list   | windows skipped by `cursor skip`                        |
 * | `{p}:lease:{source}:{resource}`              | string | the replica polling it (untagged)                       |
 * | `{p}:lease:{source}:subscriptions`           | string | the replica managing subscriptions (untagged)           |
 * | `{p}:subscription:{source}`                  | string | the source's Graph subscription (untagged)              |
 * | `{p}:budget:{tenantId}:{clientId}`           | zset   | Graph requests of the last minute (untagged)            |
 * | `{p}:legacy_last_data:{source}`              | string | when legacy alerts last had data (untagged)             |
 * | `{p}:sync:{source}:queue`                    | stream | write-back change ids (sync/queue.ts); group `apply`    |
 * | `{p}:sync:{source}:change:{id}`              | hash   | one write-back change, its state and outcome            |
 * | `{p}:sync:{source}:dead`                     | list   | ids of failed write-back changes                        |
 * | `{p}:sync:{source}:lease`                    | string | the replica applying a source's write-back changes      |
 * | `{p}:eh:{ns}/{hub}/{group}:ownership`        | hash   | Event Hubs partition owners (untagged; `{…}` not literal) |
 * | `{p}:eh:{ns}/{hub}/{group}:checkpoints`      | hash   | Event Hubs checkpoints per partition (same)             |
 * | `{p}:replicas`                               | zset   | replica ids by last heartbeat (ms), for `status` (untagged) |
 * | `{p}:replica:{replicaId}`                    | string | a replica's heartbeat (JSON: its sinks' state), TTL (untagged) |
 * | `{p}:health:{health}:{scope}`               | hash   | health conditions of one subject, by stable key (src/health/) |
 * | `{p}:health-scopes:{health}`                 | set    | the subjects that have a health hash                    |
 *
 * In this table `{iN}`, `{sink-S}`, `{notify}`, `{source:resource}` and the write-back `{source}` are literal
 * braces (the hash tags); the other `{…}` are placeholders.
 */
import { crc32 } from 'node:zlib';

export interface Keys {
  prefix: string;
  /** How many inbox shards there are (INBOX_SHARDS); shards are numbered from 0. */
  inboxShards: number;
  /** The inbox shard a record key belongs to (its dedup state, change summary and staging). */
  shardOf(recordKey: string): number;
  /**
   * Stream of accepted batches of one shard: one small entry per batch (per-record routing fields and where the
   * records are), read by the dispatchers to fan it out; deleted once every sink job that refers to it has finished.
   */
  inbox(shard: number): string;
  /** The records of one inbox batch: a list of stored texts, head and data of each record in turn. */
  batch(shard: number, id: string): string;
  /** The sink jobs that still need an inbox batch (a set of `{sink}|{jobId}`), keyed by its inbox entry id. */
  batchRefs(shard: number, entryId: string): string;
  /** Consumer group of the inbox stream. */
  inboxGroup: string;
  /** Dedup state of one record key (in its shard): the sortable form of the last accepted revision. */
  dedup(recordKey: string): string;
  /** The tracked fields of the last accepted revision of one record key (record/changes.ts), beside its dedup state. */
  changeSummary(recordKey: string): string;
  /** Dead letters of one sink (a list of JSON entries, oldest first). */
  deadLetters(sink: string): string;
  /**
   * Dead letters a replay has taken and not yet queued (a list), beside {@link replayJob} and {@link replayLock}.
   * A replay that died leaves them for the next one.
   */
  replaying(sink: string): string;
  /** The job id the dead letters of {@link replaying} are queued under. */
  replayJob(sink: string): string;
  /** The replay running for this sink. */
  replayLock(sink: string): string;
  /** BullMQ queue name of one sink (BullMQ adds the prefix itself; queue names cannot contain ":"). */
  sinkQueue(sink: string): string;
  /** Claim of the replica dead-lettering a failed job, beside the job's own key (BullMQ's `queue.toKey(jobId)`). */
  deadLetteringClaim(jobKey: string): string;
  /** Stream of persisted Graph change notifications, read by the notification workers. */
  notifications: string;
  /** Consumer group of the notification stream. */
  notificationsGroup: string;
  /** A poller's cursor (a hash: watermark, failure state, late-evidence bounds). */
  cursor(source: string, resource: string): string;
  /** Windows an operator skipped for a poller (`alertbridge cursor skip`). */
  cursorSkips(source: string, resource: string): string;
  /** The lease of the replica polling a (source, resource). */
  pollLease(source: string, resource: string): string;
  /** The lease of the replica managing a source's Graph subscriptions. */
  subscriptionLease(source: string): string;
  /** A source's Graph subscription. */
  subscription(source: string): string;
  /** The Graph request budget shared by every source of one tenant and app registration. */
  budget(tenantId: string, clientId: string): string;
  /** When a source's legacy alerts last returned data. */
  legacyLastData(source: string): string;
  /** Write-back (sync/queue.ts): the stream of a source's change ids. */
  syncQueue(source: string): string;
  /** Write-back: one change, its state and outcome. */
  syncChange(source: string, id: string): string;
  /** Write-back: the ids of failed changes. */
  syncDead(source: string): string;
  /** Write-back: the lease of the replica applying a source's changes. */
  syncLease(source: string): string;
  /**
   * Streaming (sources/streaming/checkpoint-store.ts): partition ownership and checkpoints of one consumer group of
   * one Event Hub, names lower-cased as the service treats them.
   */
  eventHubOwnership(namespace: string, hub: string, group: string): string;
  eventHubCheckpoints(namespace: string, hub: string, group: string): string;
  /**
   * Streaming: set while an alert the stream mentioned waits in the notification stream for its fetch (so more events
   * for it add nothing); the fetch deletes it before reading Graph. Keyed by the `graph_security` source and alert id.
   */
  streamingPending(source: string, alertId: string): string;
  /** The replicas that sent a heartbeat (a sorted set: replica id → its last heartbeat, ms), read by `status`. */
  replicas: string;
  /** One replica's heartbeat (JSON: host, start, its sinks' ready/paused state), expiring when it stops sending. */
  replicaHeartbeat(replicaId: string): string;
  /**
   * Streaming: the alerts the stream newly named for a `graph_security` source in the last few seconds (zset, id →
   * time ms), over every partition and replica: the burst rule counts them (sources/streaming/source.ts).
   */
  streamingBurst(source: string): string;
  /**
   * Health conditions of one subject (src/health/: a source's resource, a source, a sink): one field per stable key,
   * its state as JSON, cleared ones as tombstones. One hash per subject, so an observation reads only its own.
   */
  health(scope: string): string;
  /** The subjects that have a {@link health} hash (a set), for reading every current condition. */
  healthScopes: string;
}

const eventHubPath = (namespace: string, hub: string, group: string): string =>
  [namespace, hub, group].map((s) => s.toLowerCase()).join('/');

/** Consumer group names (not keys: they live inside their stream). */
export const INBOX_GROUP = 'dispatch';
export const NOTIFICATIONS_GROUP = 'fetch';

/**
 * Inbox shards (see the layout above). Part of the layout: changing it moves every record key's dedup state to
 * another key (each alert would be delivered once more), so it is not a setting.
 */
export const INBOX_SHARDS = 4;

/** The inbox shard of a record key: CRC-32 of its UTF-8 bytes, modulo INBOX_SHARDS (stable across versions). */
export function shardOf(recordKey: string): number {
  return crc32(recordKey) % INBOX_SHARDS;
}

export function keysFor(prefix: string): Keys {
  const shard = (i: number): string => {
    if (!Number.isInteger(i) || i < 0 || i >= INBOX_SHARDS) throw new RangeError(`no inbox shard ${i}`);
    return `{i${i}}`;
  };
  const sink = (name: string): string => `{sink-${name}}`;
  return {
    prefix,
    inboxShards: INBOX_SHARDS,
    shardOf,
    inbox: (i) => `${prefix}:inbox:${shard(i)}`,
    inboxGroup: INBOX_GROUP,
    batch: (i, id) => `${prefix}:batch:${shard(i)}:${id}`,
    batchRefs: (i, entryId) => `${prefix}:refs:${shard(i)}:${entryId}`,
    dedup: (recordKey) => `${prefix}:dd:${shard(shardOf(recordKey))}:${recordKey}`,
    changeSummary: (recordKey) => `${prefix}:dc:${shard(shardOf(recordKey))}:${recordKey}`,
    deadLetters: (s) => `${prefix}:dlq:${sink(s)}`,
    replaying: (s) => `${prefix}:dlq-replaying:${sink(s)}`,
    replayJob: (s) => `${prefix}:dlq-replaying:${sink(s)}:job`,
    replayLock: (s) => `${prefix}:dlq-replaying:${sink(s)}:lock`,
    sinkQueue: (s) => sink(s),
    deadLetteringClaim: (jobKey) => `${jobKey}:dead-lettering`,
    notifications: `${prefix}:notifications:{notify}`,
    notificationsGroup: NOTIFICATIONS_GROUP,
    cursor: (source, resource) => `${prefix}:cursor:{${source}:${resource}}`,
    cursorSkips: (source, resource) => `${prefix}:cursor-skips:{${source}:${resource}}`,
    pollLease: (source, resource) => `${prefix}:lease:${source}:${resource}`,
    subscriptionLease: (source) => `${prefix}:lease:${source}:subscriptions`,
    subscription: (source) => `${prefix}:subscription:${source}`,
    budget: (tenantId, clientId) => `${prefix}:budget:${tenantId}:${clientId}`,
    legacyLastData: (source) => `${prefix}:legacy_last_data:${source}`,
    syncQueue: (source) => `${prefix}:sync:{${source}}:queue`,
    syncChange: (source, id) => `${prefix}:sync:{${source}}:change:${id}`,
    syncDead: (source) => `${prefix}:sync:{${source}}:dead`,
    syncLease: (source) => `${prefix}:sync:{${source}}:lease`,
    eventHubOwnership: (ns, hub, group) => `${prefix}:eh:${eventHubPath(ns, hub, group)}:ownership`,
    eventHubCheckpoints: (ns, hub, group) => `${prefix}:eh:${eventHubPath(ns, hub, group)}:checkpoints`,
    streamingPending: (source, alertId) => `${prefix}:streaming-pending:{notify}:${source}:${alertId}`,
    replicas: `${prefix}:replicas`,
    replicaHeartbeat: (replicaId) => `${prefix}:replica:${replicaId}`,
    streamingBurst: (source) => `${prefix}:streaming-burst:{notify}:${source}`,
    health: (scope) => `${prefix}:health:{health}:${scope}`,
    healthScopes: `${prefix}:health-scopes:{health}`,
  };
}

/** The Redis Cluster slot of a key (CRC16/XMODEM of its hash tag, or of the whole key), for tests and checks. */
export function clusterSlot(key: string): number {
  const open = key.indexOf('{');
  let part = key;
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) part = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(part, 'utf8')) {
    crc ^= byte << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
