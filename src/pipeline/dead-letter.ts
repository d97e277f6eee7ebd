/**
 * Dead-letter queues: one Redis list per sink, oldest first. An entry keeps what an operator needs to decide:
 * the record, the sink, the last error, the attempts made, and when. Bounded by `dead_letter.max_entries`; when
 * full, nothing is dropped — the caller keeps the records queued and retries later (loudly).
 */
import { randomBytes } from 'node:crypto';
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

// KEYS[1] = dead letters, KEYS[2] = replaying list, KEYS[3] = its job id, KEYS[4] = lock. ARGV[1] = token,
// ARGV[2] = most entries, ARGV[3] = job id, ARGV[4] = lock ms. Moves the oldest entries into the replaying list
// (empty: the previous chunk must be done first) and returns them; -1 when the lock is no longer the caller's.
const TAKE = `
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return -1 end
redis.call('PEXPIRE', KEYS[4], ARGV[4])
if redis.call('LLEN', KEYS[2]) > 0 then return -2 end
local entries = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if #entries == 0 then return {} end
redis.call('LTRIM', KEYS[1], #entries, -1)
for i = 1, #entries, 1000 do redis.call('RPUSH', KEYS[2], unpack(entries, i, math.min(i + 999, #entries))) end
redis.call('SET', KEYS[3], ARGV[3])
return entries
`;

// KEYS[1] = replaying list, KEYS[2] = its job id, KEYS[3] = lock; ARGV[1] = token. The taken entries are queued.
const DONE = `
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return -1 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`;

const UNLOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** How long a replay's lock outlives its last step: a replay that died frees the sink after this. */
const REPLAY_LOCK_MS = 30_000;

export class ReplayLockLostError extends Error {
  override name = 'ReplayLockLostError';
}

/**
 * One replay of a sink's dead letters, holding the sink's replay lock. `take` moves a chunk into the replaying list
 * atomically; once it is queued, `done` deletes it. A replay that dies between the two leaves the chunk (and the id
 * of its job) in the list: `pending` hands it to the next replay, which queues it under the same job id (BullMQ
 * ignores a second add of a job it still has) before taking more.
 */
export class DeadLetterReplay {
  private readonly token = randomBytes(8).toString('hex');
  private chunk = 0;

  private constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    readonly sink: string,
  ) {}

  /**
   * Takes the sink's replay lock: at once, or after the replay holding it finishes (or dies and its lock expires).
   * Undefined when `wait` is false and another replay holds it.
   */
  static async lock(redis: Redis, keys: Keys, sink: string, wait = true): Promise<DeadLetterReplay | undefined> {
    const replay = new DeadLetterReplay(redis, keys, sink);
    const lock = keys.replayLock(sink);
    while ((await redis.set(lock, replay.token, 'PX', REPLAY_LOCK_MS, 'NX')) !== 'OK') {
      if (!wait) return undefined;
      await new Promise((r) => setTimeout(r, 200));
    }
    return replay;
  }

  /** What a replay that died had taken and not marked done: its records and the job id they go under. */
  async pending(): Promise<{ jobId: string; entries: DeadLetter[] } | undefined> {
    const list = this.keys.replaying(this.sink);
    const [[, raw], [, jobId]] = (await this.redis
      .multi()
      .lrange(list, 0, -1)
      .get(this.keys.replayJob(this.sink))
      .exec()) as [[unknown, string[]], [unknown, string | null]];
    if (!raw.length) return undefined;
    return { jobId: jobId ?? `replay-recovered-${this.token}`, entries: raw.map((s) => JSON.parse(s) as DeadLetter) };
  }

  /** Moves up to `max` of the oldest dead letters into the replaying list; returns them and their job id. */
  async take(max: number): Promise<{ jobId: string; entries: DeadLetter[] }> {
    const list = this.keys.replaying(this.sink);
    const jobId = `replay-${this.token}-${this.chunk++}`;
    const res = (await this.redis.eval(
      TAKE,
      4,
      this.keys.deadLetters(this.sink),
      list,
      this.keys.replayJob(this.sink),
      this.keys.replayLock(this.sink),
      this.token,
      String(max),
      jobId,
      String(REPLAY_LOCK_MS),
    )) as string[] | number;
    if (res === -1)
      throw new ReplayLockLostError(
        `replaying dead letters of sink '${this.sink}': the replay lock expired (this replay stalled for ${REPLAY_LOCK_MS / 1000} s); run it again`,
      );
    if (res === -2) throw new Error(`replaying dead letters of sink '${this.sink}': the previous chunk is not done`);
    return { jobId, entries: (res as string[]).map((s) => JSON.parse(s) as DeadLetter) };
  }

  /** The taken entries are queued: deletes them from the replaying list. */
  async done(): Promise<void> {
    const list = this.keys.replaying(this.sink);
    const res = await this.redis.eval(
      DONE,
      3,
      list,
      this.keys.replayJob(this.sink),
      this.keys.replayLock(this.sink),
      this.token,
    );
    if (res === -1)
      throw new ReplayLockLostError(
        `replaying dead letters of sink '${this.sink}': the replay lock expired before a queued chunk was marked done; run it again`,
      );
  }

  async unlock(): Promise<void> {
    await this.redis.eval(UNLOCK, 1, this.keys.replayLock(this.sink), this.token);
  }
}

export class DeadLetterStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** Appends entries atomically; throws DeadLetterFullError when they do not fit under `maxEntries`. */
  async add(sink: string, entries: readonly DeadLetter[], maxEntries: number): Promise<number> {
    if (entries.length === 0) return this.count(sink);
    const res = (await this.redis.eval(
      PUSH_BOUNDED,
      1,
      this.keys.deadLetters(sink),
      String(maxEntries),
      ...entries.map((e) => JSON.stringify(e)),
    )) as number;
    if (res < 0) {
      throw new DeadLetterFullError(
        `dead-letter queue of sink '${sink}' is full (max_entries ${maxEntries}); ` +
          `${entries.length} record(s) stay queued until it is replayed or purged`,
      );
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

  /** Takes the sink's replay lock (see DeadLetterReplay). */
  replay(sink: string, opts: { wait?: boolean } = {}): Promise<DeadLetterReplay | undefined> {
    return DeadLetterReplay.lock(this.redis, this.keys, sink, opts.wait ?? true);
  }

  async purge(sink: string): Promise<number> {
    const key = this.keys.deadLetters(sink);
    const [[, len]] = (await this.redis.multi().llen(key).del(key).exec()) as [[unknown, number], unknown];
    return len;
  }
}
