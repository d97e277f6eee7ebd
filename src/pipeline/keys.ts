/**
 * Redis key layout. Everything alertbridge writes lives under `{prefix}:`, so several deployments (or tests) can
 * share one Redis. BullMQ's own keys use the same prefix (`{prefix}:sink-{name}:…`).
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
  /** Dead letters of one sink (a list of JSON entries, oldest first). */
  deadLetters(sink: string): string;
  /**
   * Dead letters a replay has taken and not yet queued (a list), and beside it `…:job` (the job id they are queued
   * under) and `…:lock` (the replay running for this sink). A replay that died leaves them for the next one.
   */
  replaying(sink: string): string;
  /** BullMQ queue name of one sink (BullMQ adds the prefix itself; queue names cannot contain ":"). */
  sinkQueue(sink: string): string;
}

export function keysFor(prefix: string): Keys {
  return {
    prefix,
    inbox: `${prefix}:inbox`,
    inboxGroup: 'dispatch',
    batch: (id) => `${prefix}:batch:${id}`,
    batchRefs: (entryId) => `${prefix}:refs:${entryId}`,
    dedup: (recordKey) => `${prefix}:dd:${recordKey}`,
    deadLetters: (sink) => `${prefix}:dlq:${sink}`,
    replaying: (sink) => `${prefix}:dlq-replaying:${sink}`,
    sinkQueue: (sink) => `sink-${sink}`,
  };
}
