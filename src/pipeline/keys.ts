/**
 * Redis key layout. Everything alertbridge writes lives under `{prefix}:`, so several deployments (or tests) can
 * share one Redis. BullMQ's own keys use the same prefix (`{prefix}:sink-{name}:…`).
 */
export interface Keys {
  prefix: string;
  /** Stream of accepted batches waiting to be fanned out to the sink queues. */
  inbox: string;
  /** Consumer group of the inbox stream. */
  inboxGroup: string;
  /** Dedup state of one record key: the sortable form of the last accepted revision. */
  dedup(recordKey: string): string;
  /** Dead letters of one sink (a list of JSON entries, oldest first). */
  deadLetters(sink: string): string;
  /** BullMQ queue name of one sink (BullMQ adds the prefix itself; queue names cannot contain ":"). */
  sinkQueue(sink: string): string;
}

export function keysFor(prefix: string): Keys {
  return {
    prefix,
    inbox: `${prefix}:inbox`,
    inboxGroup: 'dispatch',
    dedup: (recordKey) => `${prefix}:dd:${recordKey}`,
    deadLetters: (sink) => `${prefix}:dlq:${sink}`,
    sinkQueue: (sink) => `sink-${sink}`,
  };
}
