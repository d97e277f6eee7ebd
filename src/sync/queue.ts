/**
 * The durable queue of one source's write-back changes, in Redis:
 *
 * - `{prefix}:sync:{source}:queue`, a stream of change ids read in a consumer group (an entry is acknowledged only
 *   once its change has an outcome, so a crash leaves it pending for the next holder of the source's lease);
 * - `{prefix}:sync:{source}:change:{id}`, one hash per change: the change, who asked and when, its state
 *   (`queued` → `applying` → `applied` | `noop` | `conflict` | `failed`), what was already sent to Graph
 *   (`patch_sent`, `comment_sent`: the idempotency record that lets a restarted worker tell a PATCH that reached
 *   Graph from one that did not), and the outcome once there is one;
 * - `{prefix}:sync:{source}:dead`, the ids of failed changes (newest last), for an operator to inspect.
 *
 * A change and its stream entry are written by one script: a 202 means both exist. A change sent again with the same
 * `change_id` is not queued twice.
 *
 * Reading the stream (`take`), claiming a change and recording a request going out are fenced by the source's lease
 * (`{prefix}:sync:{source}:lease`, in the same slot): only its holder does them, so a replica that lost the lease
 * reads, starts and sends nothing more, and the holder always gets the oldest unfinished entries first.
 */
import type { Redis } from 'ioredis';
import { keysFor } from '../pipeline/keys.js';
import type { SyncChange } from './change.js';

export type SyncState = 'queued' | 'applying' | 'applied' | 'noop' | 'conflict' | 'failed';
export type SyncOutcomeKind = 'applied' | 'noop' | 'conflict' | 'failed';
export const OUTCOMES: readonly SyncOutcomeKind[] = ['applied', 'noop', 'conflict', 'failed'];

/** What a finished change records: returned by `GET /sync/{source}/changes/{id}` and sent to opted-in sinks. */
export interface SyncOutcome {
  schema: 'alertbridge.sync_outcome/v1';
  change_id: string;
  source: string;
  tenant_id: string;
  resource: string;
  id: string;
  key: string | null;
  outcome: SyncOutcomeKind;
  /** Who asked: the route's authenticated caller (`bearer`, `hmac`), `cli`, or `kafka:{topic}`. */
  requested_by: string;
  requested_at: string;
  finished_at: string;
  /** The Graph properties the change set, each with the value before and the value asked for. */
  fields: Array<{ field: string; from: unknown; to: unknown }>;
  comment: string | null;
  expected_revision: string | null;
  /** The object's revision when the change was decided (before the PATCH). */
  revision_before: string | null;
  /** The revision the PATCH produced (`applied`). */
  revision_after: string | null;
  /** HTTP status of Graph's last answer for this change (the PATCH's, else the read's). */
  graph_status: number | null;
  /** Why: a conflict's two revisions, a failure's error. */
  reason: string | null;
  attempts: number;
}

export interface SyncKeys {
  queue: string;
  change(id: string): string;
  dead: string;
  lease: string;
}

export function syncKeys(prefix: string, source: string): SyncKeys {
  const keys = keysFor(prefix);
  return {
    queue: keys.syncQueue(source),
    change: (id) => keys.syncChange(source, id),
    dead: keys.syncDead(source),
    lease: keys.syncLease(source),
  };
}

export const GROUP = 'apply';

// KEYS[1] = stream, KEYS[2..n+1] = change hashes. ARGV: per change id, change json, requested_by, requested_at.
// Returns per change 1 (queued) or 0 (a change with that id exists already).
const ENQUEUE = `
local out = {}
for i = 2, #KEYS do
  local a = (i - 2) * 4
  if redis.call('EXISTS', KEYS[i]) == 1 then
    out[i - 1] = 0
  else
    redis.call('HSET', KEYS[i], 'state', 'queued', 'change', ARGV[a + 2], 'requested_by', ARGV[a + 3],
      'requested_at', ARGV[a + 4], 'attempts', 0)
    redis.call('XADD', KEYS[1], '*', 'c', ARGV[a + 1])
    out[i - 1] = 1
  end
end
return out
`;

// KEYS[1] = change hash, KEYS[2] = the source's lease. ARGV[1] = owner, ARGV[2] = claim ttl ms. Marks it `applying`
// by this owner for the ttl and counts the attempt; returns the state it was in ('' if gone), 'busy' while another
// owner's claim runs, or 'lost' when the lease is not this owner's (a replica that lost it starts nothing more).
const CLAIM = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'lost' end
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return '' end
if state ~= 'queued' and state ~= 'applying' then return state end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local owner = redis.call('HGET', KEYS[1], 'owner')
local claimed = tonumber(redis.call('HGET', KEYS[1], 'claim_until') or '0')
if state == 'applying' and owner and owner ~= ARGV[1] and claimed > now then return 'busy' end
redis.call('HSET', KEYS[1], 'state', 'applying', 'owner', ARGV[1], 'claim_until', now + tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return state
`;

// KEYS[1] = change hash, KEYS[2] = the source's lease. ARGV[1] = owner, ARGV[2] = claim ttl ms, ARGV[3] = field.
// Records that a request is going out, only while both the lease and the claim are still this owner's (and extends
// the claim, so that it outlives the request); 0 when another replica has taken either.
const MARK = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[3], '1', 'claim_until', now + tonumber(ARGV[2]))
return 1
`;

// KEYS[1] = the source's lease, KEYS[2] = stream. ARGV[1] = owner, ARGV[2] = count. Only for the lease's holder
// ({'lost'} otherwise): every pending entry becomes this owner's (a replica that lost the lease may have read some
// and can no longer apply them), then the oldest pending entries, else the next new ones, in stream order — so the
// oldest unfinished change always comes first. Returns {'ok', last, id1, change1, id2, change2, …}: `last` (only
// when there are no entries) is the id after which a new entry is to be waited for; a change '' is an entry whose
// message was deleted.
const TAKE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'lost'} end
local cursor = '0-0'
repeat
  cursor = redis.call('XAUTOCLAIM', KEYS[2], '${GROUP}', ARGV[1], 0, cursor, 'COUNT', 100, 'JUSTID')[1]
until cursor == '0-0'
local r = redis.call('XREADGROUP', 'GROUP', '${GROUP}', ARGV[1], 'COUNT', ARGV[2], 'STREAMS', KEYS[2], '0')
local entries = r and r[1][2] or {}
if #entries == 0 then
  r = redis.call('XREADGROUP', 'GROUP', '${GROUP}', ARGV[1], 'COUNT', ARGV[2], 'STREAMS', KEYS[2], '>')
  entries = r and r[1][2] or {}
end
local out = {'ok', ''}
if #entries == 0 then
  local info = redis.call('XINFO', 'STREAM', KEYS[2])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then out[2] = info[i + 1] end
  end
end
for _, e in ipairs(entries) do
  local c = ''
  if e[2] then
    for i = 1, #e[2], 2 do
      if e[2][i] == 'c' then c = e[2][i + 1] end
    end
  end
  out[#out + 1] = e[1]
  out[#out + 1] = c
end
return out
`;

// KEYS[1] = change hash, KEYS[2] = stream, KEYS[3] = dead list. ARGV: state, outcome json, ttl ms, entry id, dead (1/0),
// change id. The outcome and the acknowledgement are one step: a crash leaves either both or neither.
const FINISH = `
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'outcome', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if ARGV[4] ~= '' then
  redis.call('XACK', KEYS[2], '${GROUP}', ARGV[4])
  redis.call('XDEL', KEYS[2], ARGV[4])
end
if ARGV[5] == '1' then
  redis.call('RPUSH', KEYS[3], ARGV[6])
  redis.call('LTRIM', KEYS[3], -10000, -1)
end
return 1
`;

export interface QueuedChange {
  change: SyncChange;
  requestedBy: string;
  requestedAt: string;
}

export interface ChangeRecord extends QueuedChange {
  id: string;
  state: SyncState;
  attempts: number;
  patchSent: boolean;
  commentSent: boolean;
  outcome?: SyncOutcome;
}

export class SyncQueue {
  constructor(
    private readonly redis: Redis,
    readonly keys: SyncKeys,
  ) {}

  async ensureGroup(): Promise<void> {
    await this.redis.xgroup('CREATE', this.keys.queue, GROUP, '0', 'MKSTREAM').catch((err: Error) => {
      if (!/BUSYGROUP/.test(err.message)) throw err;
    });
  }

  /** Writes each change and its queue entry; per change, true when queued, false when its id was queued before. */
  async enqueue(items: Array<QueuedChange & { id: string }>): Promise<boolean[]> {
    if (items.length === 0) return [];
    await this.ensureGroup();
    const keys = [this.keys.queue, ...items.map((i) => this.keys.change(i.id))];
    const args = items.flatMap((i) => [i.id, JSON.stringify(i.change), i.requestedBy, i.requestedAt]);
    const out = (await this.redis.eval(ENQUEUE, keys.length, ...keys, ...args)) as number[];
    return out.map((n) => n === 1);
  }

  async get(id: string): Promise<ChangeRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.change(id));
    if (!h.state || !h.change) return undefined;
    return {
      id,
      state: h.state as SyncState,
      change: JSON.parse(h.change) as SyncChange,
      requestedBy: h.requested_by ?? '',
      requestedAt: h.requested_at ?? '',
      attempts: Number(h.attempts ?? 0),
      patchSent: h.patch_sent === '1',
      commentSent: h.comment_sent === '1',
      outcome: h.outcome ? (JSON.parse(h.outcome) as SyncOutcome) : undefined,
    };
  }

  /**
   * For the holder of the source's lease: the oldest unfinished entries (every pending one is taken over first, from
   * whichever replica read it), else the next new ones, at most `count`, in stream order; `lost` when the lease is not
   * `owner`'s. With no entries, `last` is the id to wait after for a new one.
   */
  async take(
    owner: string,
    count: number,
  ): Promise<'lost' | { entries: Array<{ entryId: string; changeId: string }>; last: string }> {
    const out = (await this.redis.eval(TAKE, 2, this.keys.lease, this.keys.queue, owner, count)) as string[];
    if (out[0] === 'lost') return 'lost';
    const entries: Array<{ entryId: string; changeId: string }> = [];
    for (let i = 2; i + 1 < out.length; i += 2) entries.push({ entryId: out[i]!, changeId: out[i + 1]! });
    return { entries, last: out[1]! };
  }

  /**
   * Claims the change for `owner` for `ttlMs`: the state it was in before ('' when the change no longer exists),
   * `busy` while another replica's claim on it runs, or `lost` when `owner` does not hold the source's lease.
   */
  async claim(id: string, owner: string, ttlMs: number): Promise<SyncState | '' | 'busy' | 'lost'> {
    return (await this.redis.eval(CLAIM, 2, this.keys.change(id), this.keys.lease, owner, ttlMs)) as
      SyncState | '' | 'busy' | 'lost';
  }

  /**
   * Written right before a request goes out, so that after a crash the next attempt knows Graph may have it already;
   * only while the source's lease and the change's claim are still `owner`'s (the claim then lasts `ttlMs`): false
   * when another replica took either over (nothing must be sent then).
   */
  async mark(id: string, what: 'patch_sent' | 'comment_sent', owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.eval(MARK, 2, this.keys.change(id), this.keys.lease, owner, ttlMs, what)) === 1;
  }

  async finish(id: string, entryId: string, outcome: SyncOutcome, ttlMs: number): Promise<void> {
    await this.redis.eval(
      FINISH,
      3,
      this.keys.change(id),
      this.keys.queue,
      this.keys.dead,
      outcome.outcome,
      JSON.stringify(outcome),
      ttlMs,
      entryId,
      outcome.outcome === 'failed' ? '1' : '0',
      id,
    );
  }

  /** Acknowledges an entry whose change is gone or already finished (a duplicate delivery). */
  async ack(entryId: string): Promise<void> {
    await this.redis.multi().xack(this.keys.queue, GROUP, entryId).xdel(this.keys.queue, entryId).exec();
  }

  /** Changes waiting (queued, not yet finished). */
  async depth(): Promise<number> {
    return this.redis.xlen(this.keys.queue);
  }

  async dead(limit = 100): Promise<string[]> {
    return this.redis.lrange(this.keys.dead, -limit, -1);
  }
}
