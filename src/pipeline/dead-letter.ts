/**
 * Dead-letter queues: one Redis list per sink, oldest first. An entry keeps what an operator needs to decide:
 * the record, the sink, the last error, the attempts made, and when. Bounded by `dead_letter.max_entries`; when
 * full, nothing is dropped — the caller keeps the records queued and retries later (loudly).
 */
import type { Redis } from 'ioredis';
import type { AlertRecord } from '../record/types.js';
import type { Keys } from './keys.js';

export interface DeadLetter {
  record: AlertRecord;
  sink: string;
  error: string;
  attempts: number;
  failed_at: string;
}

export class DeadLetterFullError extends Error {
  override name = 'DeadLetterFullError';
}

// KEYS[1] = list; ARGV[1] = max entries; ARGV[2..] = entries. All or nothing, so a batch is never half-written.
const PUSH_BOUNDED = `
local len = redis.call('LLEN', KEYS[1])
if len + #ARGV - 1 > tonumber(ARGV[1]) then return -1 end
for i = 2, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
return len + #ARGV - 1
`;

export class DeadLetterStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** Appends entries atomically; throws DeadLetterFullError when they do not fit under `maxEntries`. */
  async add(sink: string, entries: readonly DeadLetter[], maxEntries: number): Promise<number> {
    if (entries.length === 0) return this.count(sink);
    const res = (await this.redis.eval(PUSH_BOUNDED, 1, this.keys.deadLetters(sink), String(maxEntries),
      ...entries.map((e) => JSON.stringify(e)))) as number;
    if (res < 0) {
      throw new DeadLetterFullError(`dead-letter queue of sink '${sink}' is full (max_entries ${maxEntries}); ` +
        `${entries.length} record(s) stay queued until it is replayed or purged`);
    }
    return res;
  }

  count(sink: string): Promise<number> {
    return this.redis.llen(this.keys.deadLetters(sink));
  }

  async list(sink: string, offset = 0, limit = 100): Promise<DeadLetter[]> {
    const raw = await this.redis.lrange(this.keys.deadLetters(sink), offset, offset + limit - 1);
    return raw.map((s) => JSON.parse(s) as DeadLetter);
  }

  /** Removes the first `n` entries (after they were replayed). */
  async dropHead(sink: string, n: number): Promise<void> {
    if (n > 0) await this.redis.ltrim(this.keys.deadLetters(sink), n, -1);
  }

  async purge(sink: string): Promise<number> {
    const key = this.keys.deadLetters(sink);
    const [[, len]] = (await this.redis.multi().llen(key).del(key).exec()) as [[unknown, number], unknown];
    return len;
  }
}
