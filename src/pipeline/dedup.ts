/**
 * Dedup and staging as one atomic step.
 *
 * One Lua script per batch compares each record's revision with the last accepted one, marks the accepted ones, and
 * appends them to the inbox stream — in the same script, so no crash can leave a record marked as seen but not
 * queued (the failure Redpanda Connect's dedupe processor warns about). When the script returns, the records are in
 * Redis: that is the moment a source may acknowledge its sender or advance its cursor.
 */
import type { Redis } from 'ioredis';
import { revisionOrder } from '../record/revision.js';
import type { AlertRecord } from '../record/types.js';
import type { Keys } from './keys.js';

/** accepted: new key or newer revision; duplicate: same revision; stale: an older revision arriving late. */
export type Verdict = 'accepted' | 'duplicate' | 'stale';

// KEYS[1] = inbox stream, KEYS[2..n+1] = dedup keys. ARGV[1] = ttl ms, ARGV[2..n+1] = revision orders,
// ARGV[n+2..2n+1] = record JSON. Accepted records become one stream entry with one `r` field per record (cheaper for
// Redis than one concatenated string: measured 9.6k → 13.7k records/s of 4.6 KB). Orders of timestamps start with a digit and compare lexicographically; hash
// revisions (or a mix) are only compared for equality. A duplicate refreshes the TTL so that an alert re-read on
// every poll never expires into a redelivery.
const SCRIPT = `
local n = #KEYS - 1
local ttl = tonumber(ARGV[1])
local out = {}
local accepted = {}
for i = 1, n do
  local dk = KEYS[i + 1]
  local order = ARGV[i + 1]
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
    accepted[#accepted + 1] = 'r'
    accepted[#accepted + 1] = ARGV[n + 1 + i]
  else
    redis.call('PEXPIRE', dk, ttl)
  end
  out[i] = verdict
end
if #accepted > 0 then
  redis.call('XADD', KEYS[1], '*', unpack(accepted))
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

  /** Marks and stages `records` atomically (per chunk of DEDUP_CHUNK); returns one verdict per record. */
  async markAndStage(records: readonly AlertRecord[]): Promise<Verdict[]> {
    const verdicts: Verdict[] = [];
    for (let start = 0; start < records.length; start += DEDUP_CHUNK) {
      const chunk = records.slice(start, start + DEDUP_CHUNK);
      const keys = [this.keys.inbox, ...chunk.map((r) => this.keys.dedup(r.key))];
      const args = [String(this.ttlMs), ...chunk.map(dedupOrder), ...chunk.map((r) => JSON.stringify(r))];
      const codes = (await this.redis.eval(SCRIPT, keys.length, ...keys, ...args)) as number[];
      for (const code of codes) verdicts.push(VERDICTS[code] ?? 'accepted');
    }
    return verdicts;
  }
}
