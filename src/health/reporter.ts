/**
 * The one way health conditions become records. Each component that detects a condition hands what it sees now to
 * {@link HealthReporter.observe}; one Lua script per observation keeps the state of the subject's conditions in its
 * Redis hash (`{prefix}:health:{health}:{scope}`) and tells which conditions this observation raised (not active before) and which it cleared
 * (active before, no longer seen). Only those changes become records, so a condition seen on every poll, by every
 * replica, is one record when it starts and one when it ends. The state change happens once, atomically, whichever
 * replica makes it; a repeat of a record anyway (a retried emit) is absorbed by dedup: the key is the condition's
 * stable key and the revision its first sighting (raised) or its end (cleared), both from Redis's clock, and a
 * clearance is always later than the sightings it ends, and a new raise later than the clearance before it.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Keys } from '../pipeline/keys.js';
import { HEALTH, type AlertRecord } from '../record/types.js';
import {
  CONDITION_SEVERITY,
  HEALTH_SCHEMA,
  conditionKey,
  scopeOf,
  type Condition,
  type ConditionKind,
  type Subject,
} from './conditions.js';

/** A condition's state in Redis (times in ms since the epoch, Redis's clock). */
export interface ConditionState {
  key: string;
  kind: ConditionKind;
  source?: string;
  tenant_id?: string;
  resource?: string;
  sink?: string;
  provider?: string;
  message: string;
  first_seen: number;
  last_seen: number;
  /** Sightings so far. */
  observations: number;
  /** Dead letters: the sum of the sightings' counts. */
  count?: number;
  /** What the first and the latest sighting saw. */
  first?: Record<string, unknown>;
  last?: Record<string, unknown>;
  /** Set when it ended; the entry stays as a tombstone so that a new raise is dated after it. */
  cleared_at?: number;
}

// KEYS[1] = the subject's health hash, KEYS[2] = the set of subjects. ARGV[1] = scope (key prefix), ARGV[2] = JSON
// list of the kinds this observation may clear, ARGV[3] = JSON list of the conditions seen now (states without
// times), ARGV[4] = quiet ms (a condition is cleared only once unseen for this long). Returns JSON {raised, cleared,
// undo}: undo = how to put back each change made (field, its previous text or false, its new text).
const OBSERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix = ARGV[1]
local authority = {}
for _, k in ipairs(cjson.decode(ARGV[2])) do authority[k] = true end
local seen = {}
local raised, cleared, undo = {}, {}, {}
for _, c in ipairs(cjson.decode(ARGV[3])) do
  seen[c.key] = true
  local cur = redis.call('HGET', KEYS[1], c.key)
  local s = cur and cjson.decode(cur) or nil
  if s and not s.cleared_at then
    s.last_seen = math.max(now, s.last_seen)
    s.observations = s.observations + 1
    s.last = c.first
    s.message = c.message
    if c.count then s.count = (s.count or 0) + c.count end
  else
    s = c
    s.first_seen = now
    if cur then s.first_seen = math.max(now, cjson.decode(cur).cleared_at + 1) end
    s.last_seen = s.first_seen
    s.observations = 1
    s.last = c.first
    raised[#raised + 1] = s
  end
  local text = cjson.encode(s)
  if s.observations == 1 then undo[#undo + 1] = {f = c.key, prev = cur or false, now = text} end
  redis.call('HSET', KEYS[1], c.key, text)
  redis.call('SADD', KEYS[2], ARGV[1])
end
local quiet = tonumber(ARGV[4])
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if not seen[f] and string.sub(f, 1, #prefix) == prefix then
    local s = cjson.decode(redis.call('HGET', KEYS[1], f))
    if authority[s.kind] and not s.cleared_at and now - s.last_seen >= quiet then
      local prev = redis.call('HGET', KEYS[1], f)
      s.cleared_at = math.max(now, s.last_seen + 1)
      local text = cjson.encode(s)
      undo[#undo + 1] = {f = f, prev = prev, now = text}
      redis.call('HSET', KEYS[1], f, text)
      cleared[#cleared + 1] = s
    end
  end
end
return cjson.encode({raised = raised, cleared = cleared, undo = undo})
`;

// KEYS[1] = the subject's health hash; ARGV[1] = the undo list of OBSERVE. Puts back each change that is still as
// OBSERVE left it (a later observation's change stays).
const UNDO = `
for _, u in ipairs(cjson.decode(ARGV[1])) do
  if redis.call('HGET', KEYS[1], u.f) == u.now then
    if u.prev then redis.call('HSET', KEYS[1], u.f, u.prev) else redis.call('HDEL', KEYS[1], u.f) end
  end
end
return 0
`;

export interface HealthReporterOptions {
  redis: Redis;
  keys: Keys;
  /** Into the pipeline like any record (dedup, then the sinks whose filter names `health`). */
  emit: (records: AlertRecord[]) => Promise<unknown>;
  logger: Logger;
}

export interface ObserveOptions {
  /** The kinds under `subject` this observation speaks for: those of them not seen now are cleared. @defaultValue none */
  clears?: readonly ConditionKind[];
  /** Clear only conditions unseen for this long (dead letters: the report window). @defaultValue 0 */
  quietMs?: number;
}

export class HealthReporter {
  private readonly log: Logger;

  constructor(private readonly opts: HealthReporterOptions) {
    this.log = opts.logger.child({ component: 'health' });
  }

  /**
   * What is seen now under `subject`: the conditions in `seen` (raised when new), and the kinds of `clears` that are
   * not among them (cleared when active). Never throws: a health record must not fail the work that noticed it.
   */
  async observe(subject: Subject, seen: readonly Condition[], opts: ObserveOptions = {}): Promise<void> {
    if (!seen.length && !opts.clears?.length) return;
    const hash = this.opts.keys.health(scopeOf(subject));
    let undo: unknown[] = [];
    try {
      const states = seen.map((c) => initialState(c));
      const out = JSON.parse(
        (await this.opts.redis.eval(
          OBSERVE,
          2,
          hash,
          this.opts.keys.healthScopes,
          scopeOf(subject),
          JSON.stringify(opts.clears ?? []),
          JSON.stringify(states),
          String(opts.quietMs ?? 0),
        )) as string,
      ) as { raised: ConditionState[] | object; cleared: ConditionState[] | object; undo: unknown[] | object };
      // cjson encodes an empty list as {}.
      const raised = Array.isArray(out.raised) ? out.raised : [];
      const cleared = Array.isArray(out.cleared) ? out.cleared : [];
      undo = Array.isArray(out.undo) ? out.undo : [];
      if (!raised.length && !cleared.length) return;
      const now = new Date();
      for (const s of raised) this.log.warn({ key: s.key, ...s.first }, `health condition raised: ${s.message}`);
      for (const s of cleared) this.log.info({ key: s.key }, `health condition cleared: ${s.message}`);
      await this.opts.emit([
        ...raised.map((s) => healthRecord(s, 'raised', now)),
        ...cleared.map((s) => healthRecord(s, 'cleared', now)),
      ]);
    } catch (err) {
      // The change is put back, so the next observation makes it again: a record is never lost to a failed emit.
      if (undo.length) await this.opts.redis.eval(UNDO, 1, hash, JSON.stringify(undo)).catch(() => undefined);
      this.log.warn(
        { err: (err as Error).message },
        'could not record a health condition; tried again at its next sighting',
      );
    }
  }
}

function initialState(c: Condition): Omit<ConditionState, 'first_seen' | 'last_seen' | 'observations'> {
  return {
    key: conditionKey(c),
    kind: c.kind,
    ...c.subject,
    ...(c.provider ? { provider: c.provider } : {}),
    message: c.message,
    ...(c.count !== undefined ? { count: c.count } : {}),
    ...(c.detail ? { first: c.detail } : {}),
  };
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/**
 * A condition change as a record: the envelope's fields (`schema: alertbridge.health/v1`, `resource: health`,
 * `status` raised or cleared) and the condition itself as `data`. docs/health.md lists the fields.
 */
export function healthRecord(s: ConditionState, status: 'raised' | 'cleared', now = new Date()): AlertRecord {
  const at = status === 'raised' ? s.first_seen : (s.cleared_at ?? s.last_seen);
  const data = {
    schema: HEALTH_SCHEMA,
    key: s.key,
    condition: s.kind,
    status,
    severity: CONDITION_SEVERITY[s.kind],
    source: s.source ?? null,
    tenant_id: s.tenant_id ?? null,
    resource: s.resource ?? null,
    sink: s.sink ?? null,
    provider: s.provider ?? null,
    message: s.message,
    first_seen: iso(s.first_seen),
    last_seen: iso(s.last_seen),
    cleared_at: status === 'cleared' ? iso(s.cleared_at) : null,
    observations: s.observations,
    ...(s.count !== undefined ? { count: s.count } : {}),
    detail: s.first ?? null,
    last_detail: s.last ?? null,
  };
  return {
    schema: HEALTH_SCHEMA as AlertRecord['schema'],
    key: s.key,
    revision: new Date(at).toISOString(),
    tenant_id: s.tenant_id ?? '',
    source: s.source ?? `sink:${s.sink ?? ''}`,
    resource: HEALTH as AlertRecord['resource'],
    provider: s.provider ?? 'alertbridge',
    id: s.key.slice('health:'.length),
    incident_id: null,
    severity: status === 'raised' ? CONDITION_SEVERITY[s.kind] : 'informational',
    status,
    title: `${status === 'raised' ? '' : 'cleared: '}${s.message}`,
    created_at: iso(s.first_seen),
    updated_at: new Date(at).toISOString(),
    ingested_at: now.toISOString(),
    via: 'health',
    data,
  };
}

/** The conditions active now (for `alertbridge status` and the like): read from Redis, so any replica sees them. */
export async function currentConditions(redis: Redis, keys: Keys): Promise<ConditionState[]> {
  const scopes = await redis.smembers(keys.healthScopes);
  const hashes = await Promise.all(scopes.map((scope) => redis.hvals(keys.health(scope))));
  return hashes
    .flat()
    .map((v) => JSON.parse(v) as ConditionState)
    .filter((s) => s.cleared_at === undefined)
    .sort((a, b) => a.first_seen - b.first_seen);
}
