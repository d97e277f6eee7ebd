/**
 * The inbox: where accepted records wait, once, for every sink.
 *
 * Staging a batch (dedup.ts, one Lua script) writes its records' stored texts to one list (`batch:{id}`) and
 * appends one small entry to its shard's inbox stream (keys.ts: one stream per inbox shard): the batch id, and per record the four fields sink filters look at.
 * Dispatchers read those entries and queue sink jobs that *refer* to the records (entry, batch, indices) instead of
 * copying them; a sink worker loads its records from the list when it runs the job. Each record is thus written to
 * Redis once and read once per sink, and serialized once — the old layout copied every record into each sink's
 * BullMQ job data (JSON.stringify, Redis, JSON.parse, twice over), which was most of the pipeline's CPU.
 *
 * When a batch may be deleted (references from jobs, their release): batch-lifetime.ts.
 */
import type { Redis } from 'ioredis';
import { loadRecord } from '../record/stored.js';
import type { AlertRecord } from '../record/types.js';
import type { Route } from './filter.js';
import type { Keys } from './keys.js';

/** Records of one inbox batch that a job refers to: `[entry id, batch id, record indices (ascending)]`. */
export type BatchRef = [entryId: string, batchId: string, indices: number[]];

const SEP = '\x1f';

/**
 * One record's routing fields as one text: the four fields joined by `\x1f`, each with `%` and `\x1f` written as
 * `%25` and `%1F`, so no field value (a provider is whatever the object says, a partner's push included) can end
 * its field early and forge the next one — a provider `x\x1fgood` once routed another source's record to sinks
 * filtered to source `good`. A field without either character is written as it is: the text is the same as
 * before, so entries staged by an older replica decode alike, and an older replica reads these.
 */
export function encodeRoute(r: Route): string {
  return `${escape(r.severity)}${SEP}${escape(r.resource)}${SEP}${escape(r.provider)}${SEP}${escape(r.source)}`;
}

export function decodeRoute(text: string): Route {
  const [severity = '', resource = '', provider = '', source = ''] = text.split(SEP).map(unescape);
  return { severity, resource, provider, source } as Route;
}

function escape(value: string): string {
  return value.includes('%') || value.includes(SEP) ? value.replaceAll('%', '%25').replaceAll(SEP, '%1F') : value;
}

function unescape(value: string): string {
  return value.includes('%') ? value.replace(/%(25|1F)/g, (_, code: string) => (code === '25' ? '%' : SEP)) : value;
}

/** A stream entry of the current layout: its batch id and one route per record. */
export interface InboxEntry {
  id: string;
  batch: string;
  routes: Route[];
}

/** Reads an inbox entry's fields (`b` batch id, then one `m` route per record); undefined for another layout. */
export function parseEntry(id: string, fields: readonly string[]): InboxEntry | undefined {
  if (fields[0] !== 'b' || fields[1] === undefined) return undefined;
  const routes: Route[] = [];
  for (let i = 2; i + 1 < fields.length; i += 2) if (fields[i] === 'm') routes.push(decodeRoute(fields[i + 1]!));
  return { id, batch: fields[1], routes };
}

/** A job's records, loaded, with where each came from (so a retry can narrow the job to what is left). */
export interface LoadedRecords {
  records: AlertRecord[];
  /** Per record: its ref's position in the job's refs, and its index in that batch. */
  origin: Map<AlertRecord, [ref: number, index: number]>;
}

/** Loads the records a job refers to (batches of one inbox shard: one pipeline, one Redis Cluster slot). Batches that no longer exist are skipped (batch-lifetime.ts). */
export async function loadBatches(
  redis: Redis,
  keys: Keys,
  shard: number,
  refs: readonly BatchRef[],
): Promise<LoadedRecords> {
  const pipe = redis.pipeline();
  for (const [, batch, indices] of refs) {
    // The list holds head and data of each record in turn; fetch only the span the job needs.
    pipe.lrange(keys.batch(shard, batch), 2 * indices[0]!, 2 * indices[indices.length - 1]! + 1);
  }
  const replies = (await pipe.exec()) ?? [];
  const out: LoadedRecords = { records: [], origin: new Map() };
  refs.forEach(([, , indices], r) => {
    const [err, texts] = replies[r] as [Error | null, string[]];
    if (err) throw err;
    if (!texts.length) return;
    const first = indices[0]!;
    for (const index of indices) {
      const at = 2 * (index - first);
      const head = texts[at];
      const data = texts[at + 1];
      if (head === undefined || data === undefined)
        throw new Error(`inbox batch ${refs[r]![1]} has no record ${index}`);
      const record = loadRecord(head, data);
      out.records.push(record);
      out.origin.set(record, [r, index]);
    }
  });
  return out;
}

/** Narrows refs to the given records (a retry of what is left of a job). */
export function narrowRefs(refs: readonly BatchRef[], loaded: LoadedRecords, keep: readonly AlertRecord[]): BatchRef[] {
  const byRef = new Map<number, number[]>();
  for (const record of keep) {
    const [r, index] = loaded.origin.get(record)!;
    (byRef.get(r) ?? byRef.set(r, []).get(r)!).push(index);
  }
  return [...byRef]
    .sort(([a], [b]) => a - b)
    .map(([r, indices]) => [refs[r]![0], refs[r]![1], indices.sort((a, b) => a - b)]);
}
