/**
 * Dedup and staging as one atomic step.
 *
 * One Lua script per batch compares each record's revision with the last accepted one, marks the accepted ones, and
 * stages them in the inbox (inbox.ts) — in the same script, so no crash can leave a record marked as seen but not
 * queued (the failure Redpanda Connect's dedupe processor warns about). When the script returns, the records are in
 * Redis: that is the moment a source may acknowledge its sender or advance its cursor.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { summaryOf } from '../record/changes.js';
import { storeRecord } from '../record/stored.js';
import { revisionOrder } from '../record/revision.js';
import type { AlertRecord } from '../record/types.js';
import { encodeRoute } from './inbox.js';
import type { Keys } from './keys.js';

/** accepted: new key, newer revision, or new content at the same revision; duplicate: seen; stale: older. */
export type Verdict = 'accepted' | 'duplicate' | 'stale';

/**
 * Late evidence: Defender adds evidence (entities, files, devices) to an alert after it was first read, sometimes
 * without moving `lastUpdateDateTime`. So a timestamp revision is not the whole identity of what was delivered:
 * the dedup state of a key is the order of its last accepted revision plus digests of the contents delivered at
 * that revision (`{order}#{d1},{d2},…`, the newest DIGESTS_KEPT). A record at the same revision passes as an update
 * when its content is new, and is a duplicate when it is one of those already delivered — so an alert re-read on
 * every poll is delivered once, and one flapping between two contents (a lagging Graph replica) at most once per
 * content. An older revision stays stale whatever its content; a newer one is an update and starts a new list.
 * State written before digests existed (`{order}` alone) takes the first content seen at that revision as the one
 * delivered, so an upgrade does not deliver every alert again. Hash revisions (`sha256:`) are content already.
 */
export const DIGESTS_KEPT = 8;
const DIGEST_HEX = 16;

// KEYS[1] = inbox stream, KEYS[2] = the batch list, KEYS[3..n+2] = dedup keys, KEYS[n+3..2n+2] = their change
// summaries (record/changes.ts). ARGV[1] = ttl ms, ARGV[2] = batch id, ARGV[3] = digests kept; then per record six
// texts from ARGV[4 + 6(i-1)]: revision order, content digest ('' for hash revisions), route, head, data, summary.
// An accepted record whose key has a previous summary gets `changes` (the tracked fields whose JSON text differs)
// spliced into its head, and leaves its own summary for the next revision. Accepted records go to the batch list (head, data, head, data, …) and become
// one inbox entry that names the batch and carries each record's route. Orders of timestamps start with a digit
// and compare lexicographically; hash revisions (or a mix) are only compared for equality. A duplicate refreshes
// the TTL so that an alert re-read on every poll never expires into a redelivery.
//
// The first command is a write Redis refuses when it is over maxmemory (SET; then DEL: the batch key is new).
// Redis checks memory once per script, at its first write command (Redis 6.2, and 7 for scripts without a
// #!lua shebang), and only if that command is one it refuses when full: were PEXPIRE (a duplicate) first,
// the writes after it would pass a full Redis. So a full Redis refuses the whole batch, up front, nothing written.
const SCRIPT = `
redis.call('SET', KEYS[2], '', 'PX', 1)
redis.call('DEL', KEYS[2])
local n = (#KEYS - 2) / 2
local ttl = tonumber(ARGV[1])
local function fields(text)
  local map, order = {}, {}
  for part in string.gmatch(text, '[^\\30]+') do
    local cut = string.find(part, '\\31', 1, true)
    if cut then
      local f = string.sub(part, 1, cut - 1)
      map[f] = string.sub(part, cut + 1)
      order[#order + 1] = f
    end
  end
  return map, order
end
local function withChanges(head, prevText, nextText)
  local prev = fields(prevText)
  local nextMap, order = fields(nextText)
  local items = {}
  for _, f in ipairs(order) do
    local before = prev[f]
    if before ~= nil and before ~= nextMap[f] then
      items[#items + 1] = '{"field":' .. cjson.encode(f) .. ',"from":' .. before .. ',"to":' .. nextMap[f] .. '}'
    end
  end
  return string.sub(head, 1, -2) .. ',"changes":[' .. table.concat(items, ',') .. ']}'
end
local keepLen = tonumber(ARGV[3]) * ${DIGEST_HEX + 1} - 1
local out = {}
local texts = {}
local entry = {'b', ARGV[2]}
for i = 1, n do
  local dk = KEYS[i + 2]
  local ck = KEYS[i + 2 + n]
  local at = 4 + 6 * (i - 1)
  local order = ARGV[at]
  local digest = ARGV[at + 1]
  local prev = redis.call('GET', dk)
  local verdict = 1
  local state = order
  if digest ~= '' then state = order .. '#' .. digest end
  if prev then
    local cut = string.find(prev, '#', 1, true)
    local pOrder = prev
    local pDigests = nil
    if cut then
      pOrder = string.sub(prev, 1, cut - 1)
      pDigests = string.sub(prev, cut + 1)
    end
    if pOrder == order then
      if digest == '' then
        verdict = 0
        state = nil
      elseif not pDigests then
        verdict = 0
      elseif string.find(',' .. pDigests .. ',', ',' .. digest .. ',', 1, true) then
        verdict = 0
        state = nil
      else
        local list = pDigests .. ',' .. digest
        if #list > keepLen then list = string.sub(list, -keepLen) end
        state = order .. '#' .. list
      end
    elseif string.match(pOrder, '^%d') and string.match(order, '^%d') and order < pOrder then
      verdict = 2
      state = nil
    end
  end
  if state then
    redis.call('SET', dk, state, 'PX', ttl)
  else
    redis.call('PEXPIRE', dk, ttl)
  end
  if verdict == 1 then
    local head = ARGV[at + 3]
    local summary = ARGV[at + 5]
    if summary ~= '' then
      local prevSummary = redis.call('GET', ck)
      if prevSummary then head = withChanges(head, prevSummary, summary) end
      redis.call('SET', ck, summary, 'PX', ttl)
    end
    entry[#entry + 1] = 'm'
    entry[#entry + 1] = ARGV[at + 2]
    texts[#texts + 1] = head
    texts[#texts + 1] = ARGV[at + 4]
  elseif verdict == 0 then
    redis.call('PEXPIRE', ck, ttl)
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

/**
 * Most records in one staged batch (one script call, one inbox entry); bigger emits are split (each part is atomic on
 * its own).
 */
export const STAGED_BATCH_MAX = 500;

export function dedupOrder(record: AlertRecord): string {
  return revisionOrder(record.revision) ?? `h:${record.revision}`;
}

/**
 * A short digest of a record's content for the dedup state (see DIGESTS_KEPT): the first 64 bits of the SHA-256 of
 * its stored data text; '' for hash revisions, which are a content digest already. The text is JSON.stringify's,
 * in Graph's own key order, which Graph keeps from one read to the next (a canonical form would cost three times
 * the serialization on every record); a response annotation (`@odata.context`, present when an alert is fetched
 * by id, absent from lists) is left out, so an alert read both ways is one content.
 */
export function contentDigest(record: AlertRecord, dataText: string): string {
  if (revisionOrder(record.revision) === null) return '';
  const data = record.data;
  let text = dataText;
  if (Object.keys(data).some(isAnnotation)) {
    text = JSON.stringify(Object.fromEntries(Object.entries(data).filter(([k]) => !isAnnotation(k))));
  }
  return createHash('sha256').update(text).digest('hex').slice(0, DIGEST_HEX);
}

/** Response annotations, not content; `@odata.type` is content (it tells alert kinds apart). */
function isAnnotation(key: string): boolean {
  return key.startsWith('@odata.') && key !== '@odata.type';
}

export class Deduplicator {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlMs: number,
  ) {}

  /**
   * Marks and stages `records` atomically per staged batch (the records of one inbox shard, at most STAGED_BATCH_MAX);
   * returns one verdict per record, in order. The batches go out together: one connection (per Redis node) runs them
   * in order, as if one waited for the other, without the round trips. `ttlMs`: how long their dedup state lasts
   * (default `pipeline.dedup_ttl_ms`).
   */
  async markAndStage(records: readonly AlertRecord[], ttlMs = this.ttlMs): Promise<Verdict[]> {
    // Per inbox shard (keys.ts): a script's keys all carry its shard's hash tag, so it runs on one Redis Cluster slot.
    const byShard = new Map<number, number[]>();
    records.forEach((r, i) => {
      const shard = this.keys.shardOf(r.key);
      (byShard.get(shard) ?? byShard.set(shard, []).get(shard)!).push(i);
    });
    const calls: Array<Promise<void>> = [];
    const verdicts: Verdict[] = new Array<Verdict>(records.length);
    for (const [shard, positions] of byShard) {
      for (let start = 0; start < positions.length; start += STAGED_BATCH_MAX) {
        const at = positions.slice(start, start + STAGED_BATCH_MAX);
        const chunk = at.map((i) => records[i]!);
        const batch = randomBytes(9).toString('base64url');
        const keys = [
          this.keys.inbox(shard),
          this.keys.batch(shard, batch),
          ...chunk.map((r) => this.keys.dedup(r.key)),
          ...chunk.map((r) => this.keys.changeSummary(r.key)),
        ];
        const args = [String(ttlMs), batch, String(DIGESTS_KEPT)];
        for (const r of chunk) {
          const { head, data } = storeRecord(r);
          args.push(dedupOrder(r), contentDigest(r, data), encodeRoute(r), head, data, summaryOf(r));
        }
        calls.push(
          (this.redis.eval(SCRIPT, keys.length, ...keys, ...args) as Promise<number[]>).then((codes) => {
            codes.forEach((code, j) => (verdicts[at[j]!] = VERDICTS[code] ?? 'accepted'));
          }),
        );
      }
    }
    await Promise.all(calls);
    return verdicts;
  }
}
