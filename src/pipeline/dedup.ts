/**
 * Dedup and staging as one atomic step.
 *
 * One Lua script per batch compares each record's revision with the last accepted one, marks the accepted ones, and
 * stages them in the inbox (inbox.ts) — in the same script, so no crash can leave a record marked as seen but not
 * queued (the failure Redpanda Connect's dedupe processor warns about). When the script returns, the records are in
 * Redis: that is the moment a source may acknowledge its sender or advance its cursor.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { storeRecord } from '../record/stored.js';
import { revisionOrder } from '../record/revision.js';
import type { AlertRecord } from '../record/types.js';
import { encodeRoute } from './inbox.js';
import type { Keys } from './keys.js';

/** accepted: new key or newer revision; duplicate: same revision; stale: an older revision arriving late. */
export type Verdict = 'accepted' | 'duplicate' | 'stale';

// KEYS[1] = inbox stream, KEYS[2] = the batch list, KEYS[3..n+2] = dedup keys. ARGV[1] = ttl ms, ARGV[2] = batch id,
// ARGV[3..n+2] = revision orders, then per record three texts: route, head, data (ARGV[n+3+3(i-1)] …).
// Accepted records go to the batch list (head, data, head, data, …) and become one inbox entry that names the batch
// and carries each record's route. Orders of timestamps start with a digit and compare lexicographically; hash
// revisions (or a mix) are only compared for equality. A duplicate refreshes the TTL so that an alert re-read on
// every poll never expires into a redelivery.
//
// The first command is a write Redis refuses when it is over maxmemory (SET; then DEL: the batch key is new).
// Redis checks memory once per script, at its first write command (Redis 6.2, and 7 for scripts without a
// #!lua shebang), and only if that command is one it refuses when full: were PEXPIRE (a duplicate) first,
// the writes after it would pass a full Redis. So a full Redis refuses the whole batch, up front, nothing written.
const SCRIPT = `
redis.call('SET', KEYS[2], '', 'PX', 1)
redis.call('DEL', KEYS[2])
local n = #KEYS - 2
local ttl = tonumber(ARGV[1])
local out = {}
local texts = {}
local entry = {'b', ARGV[2]}
for i = 1, n do
  local dk = KEYS[i + 2]
  local order = ARGV[i + 2]
  local prev = redis.call('GET', dk)
  local verdict = 1
  if prev then
    if prev == order then
      verdict = 0
    elseif string.match(prev, '^%d') and string.match(order, '^%d') and order < prev then
      verdict = 2
    end
  end
  if verdict == 1 then
    redis.call('SET', dk, order, 'PX', ttl)
    local at = n + 3 * i
    entry[#entry + 1] = 'm'
    entry[#entry + 1] = ARGV[at]
    texts[#texts + 1] = ARGV[at + 1]
    texts[#texts + 1] = ARGV[at + 2]
  else
    redis.call('PEXPIRE', dk, ttl)
  end
  out[i] = verdict
end
if #texts > 0 then
  redis.call('RPUSH', KEYS[2], unpack(texts))
  redis.call('XADD', KEYS[1], '*', unpack(entry))
end
return out
`;

const VERDICTS: Verdict[] = ['duplicate', 'accepted', 'stale'];

/** Largest batch one script call handles; bigger emits are split (each part is atomic on its own). */
export const DEDUP_CHUNK = 500;

export function dedupOrder(record: AlertRecord): string {
  return revisionOrder(record.revision) ?? `h:${record.revision}`;
}

export class Deduplicator {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlMs: number,
  ) {}

  /**
   * Marks and stages `records` atomically per chunk of DEDUP_CHUNK; returns one verdict per record. The chunks go
   * out together: one connection runs them in order, as if one waited for the other, without the round trips.
   */
  async markAndStage(records: readonly AlertRecord[]): Promise<Verdict[]> {
    const calls: Array<Promise<number[]>> = [];
    for (let start = 0; start < records.length; start += DEDUP_CHUNK) {
      const chunk = records.slice(start, start + DEDUP_CHUNK);
      const batch = randomBytes(9).toString('base64url');
      const keys = [this.keys.inbox, this.keys.batch(batch), ...chunk.map((r) => this.keys.dedup(r.key))];
      const args = [String(this.ttlMs), batch, ...chunk.map(dedupOrder)];
      for (const r of chunk) {
        const { head, data } = storeRecord(r);
        args.push(encodeRoute(r), head, data);
      }
      calls.push(this.redis.eval(SCRIPT, keys.length, ...keys, ...args) as Promise<number[]>);
    }
    const verdicts: Verdict[] = [];
    for (const codes of await Promise.all(calls)) for (const code of codes) verdicts.push(VERDICTS[code] ?? 'accepted');
    return verdicts;
  }
}
