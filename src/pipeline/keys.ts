/**
 * Redis key layout: the one place that builds a Redis key. Everything alertbridge writes lives under `{prefix}:`
 * (`redis.key_prefix`), so several deployments (or tests) can share one Redis; nothing else concatenates
 * `${prefix}:…` (test/pipeline/keys.test.ts fails if something does). Keys are byte-identical to what earlier
 * versions wrote. (Redis Cluster hash tags, when they come, change this file only.)
 *
 * | key                                      | type   | holds                                                   |
 * |------------------------------------------|--------|---------------------------------------------------------|
 * | `{p}:inbox`                              | stream | a staged batch per entry (id, routes); group `dispatch` |
 * | `{p}:batch:{batchId}`                    | list   | a staged batch's records (head, data, …)                |
 * | `{p}:refs:{entryId}`                     | set    | jobs still needing an entry (`{sink}\|
 * | `{p}:dd:{recordKey}`                     | string | dedup state: last revision order, digests               |
 * | `{p}:dc:{recordKey}`                     | string | tracked fields of the last accepted revision (changes)  |
 * | `{p}:sink-{sink}:…`                      | BullMQ | a sink's queue (BullMQ builds these)                    |
 * | `{p}:sink-{sink}:{jobId}:dead-lettering` | string | claim: one replica dead-letters a job                   |
 * | `{p}:dlq:{sink}`                         | list   | dead letters (JSON), oldest first                       |
 * | `{p}:dlq-replaying:{sink}`               | list   | dead letters a replay took, not yet queued              |
 * | `{p}:dlq-replaying:{sink}:job`           | string | the job id they are queued under                        |
 * | `{p}:dlq-replaying:{sink}:lock`          | string | the replay running for this sink                        |
 * | `{p}:notifications`                      | stream | Graph change notifications; group `fetch`               |
 * | `{p}:cursor:{source}:{resource}`         | hash   | a poller's watermark and state                          |
 * | `{p}:cursor-skips:{source}:{resource}`   | list   | windows skipped by `cursor skip`                        |
 * | `{p}:lease:{source}:{resource}`          | string | the replica polling it                                  |
 * | `{p}:lease:{source}:subscriptions`       | string | the replica managing subscriptions                      |
 * | `{p}:subscription:{source}`              | string | the source's Graph subscription                         |
 * | `{p}:budget:{tenantId}:{clientId}`       | zset   | Graph requests of the last minute                       |
 * | `{p}:legacy_last_data:{source}`          | string | when legacy alerts last had data                        |
 * | `{p}:sync:{source}:queue`                | stream | write-back change ids (sync/queue.ts); group `apply`    |
 * | `{p}:sync:{source}:change:{id}`          | hash   | one write-back change, its state and outcome            |
 * | `{p}:sync:{source}:dead`                 | list   | ids of failed write-back changes                        |
 * | `{p}:sync:{source}:lease`                | string | the replica applying a source's write-back changes      |
 * | `{p}:eh:{ns}/{hub}/{group}:ownership`    | hash   | Event Hubs partition owners (streaming checkpoint store) |
 * | `{p}:eh:{ns}/{hub}/{group}:checkpoints`  | hash   | Event Hubs checkpoints per partition (same)             |
 * | `{p}:streaming-pending:{source}:{id}`    | string | an alert the stream queued and no fetch has started yet |
 */
export interface Keys {
  prefix: string;
  /**
   * Stream of accepted batches: one small entry per batch (per-record routing fields and where the records are),
   * read by the dispatchers to fan it out; deleted once every sink job that refers to it has finished.
   */
  inbox: string;
  /** The records of one inbox batch: a list of stored texts, head and data of each record in turn. */
  batch(id: string): string;
  /** The sink jobs that still need an inbox batch (a set of `{sink}|{jobId}`), keyed by its inbox entry id. */
  batchRefs(entryId: string): string;
  /** Consumer group of the inbox stream. */
  inboxGroup: string;
  /** Dedup state of one record key: the sortable form of the last accepted revision. */
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
}

const eventHubPath = (namespace: string, hub: string, group: string): string =>
  [namespace, hub, group].map((s) => s.toLowerCase()).join('/');

/** Consumer group names (not keys: they live inside their stream). */
export const INBOX_GROUP = 'dispatch';
export const NOTIFICATIONS_GROUP = 'fetch';

export function keysFor(prefix: string): Keys {
  return {
    prefix,
    inbox: `${prefix}:inbox`,
    inboxGroup: INBOX_GROUP,
    batch: (id) => `${prefix}:batch:${id}`,
    batchRefs: (entryId) => `${prefix}:refs:${entryId}`,
    dedup: (recordKey) => `${prefix}:dd:${recordKey}`,
    changeSummary: (recordKey) => `${prefix}:dc:${recordKey}`,
    deadLetters: (sink) => `${prefix}:dlq:${sink}`,
    replaying: (sink) => `${prefix}:dlq-replaying:${sink}`,
    replayJob: (sink) => `${prefix}:dlq-replaying:${sink}:job`,
    replayLock: (sink) => `${prefix}:dlq-replaying:${sink}:lock`,
    sinkQueue: (sink) => `sink-${sink}`,
    deadLetteringClaim: (jobKey) => `${jobKey}:dead-lettering`,
    notifications: `${prefix}:notifications`,
    notificationsGroup: NOTIFICATIONS_GROUP,
    cursor: (source, resource) => `${prefix}:cursor:${source}:${resource}`,
    cursorSkips: (source, resource) => `${prefix}:cursor-skips:${source}:${resource}`,
    pollLease: (source, resource) => `${prefix}:lease:${source}:${resource}`,
    subscriptionLease: (source) => `${prefix}:lease:${source}:subscriptions`,
    subscription: (source) => `${prefix}:subscription:${source}`,
    budget: (tenantId, clientId) => `${prefix}:budget:${tenantId}:${clientId}`,
    legacyLastData: (source) => `${prefix}:legacy_last_data:${source}`,
    syncQueue: (source) => `${prefix}:sync:${source}:queue`,
    syncChange: (source, id) => `${prefix}:sync:${source}:change:${id}`,
    syncDead: (source) => `${prefix}:sync:${source}:dead`,
    syncLease: (source) => `${prefix}:sync:${source}:lease`,
    eventHubOwnership: (ns, hub, group) => `${prefix}:eh:${eventHubPath(ns, hub, group)}:ownership`,
    eventHubCheckpoints: (ns, hub, group) => `${prefix}:eh:${eventHubPath(ns, hub, group)}:checkpoints`,
    streamingPending: (source, alertId) => `${prefix}:streaming-pending:${source}:${alertId}`,
  };
}
