/**
 * `alertbridge doctor`'s Redis checks: the server (Redis or Valkey) answers, is recent enough (6.2), keeps what it
 * holds across a restart (AOF, or at least RDB snapshots) and never evicts keys (`maxmemory-policy noeviction`:
 * BullMQ's queues and the dedup state must not vanish under memory pressure). Also the request budget's headroom,
 * read from its zset.
 */
import type { Redis } from 'ioredis';
import type { ProbeResult } from '../../sinks/types.js';
import { withTimeout } from '../util/timeout.js';

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** @param why the message of a failure to reach Redis (with the connection's own error, never a password) */
export async function redisChecks(
  redis: Redis,
  timeoutMs: number,
  why: (err: unknown) => string,
): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  const ask = <T>(p: Promise<T>, what: string): Promise<T> => withTimeout(p, timeoutMs, what);
  let server: string;
  try {
    server = await ask(redis.info('server'), 'INFO server');
  } catch (err) {
    return [
      {
        check: 'reachable',
        status: 'fail',
        detail: why(err),
        fix: 'check redis.url (host, port, password, rediss:// for TLS) and that Redis runs',
      },
    ];
  }
  // Valkey reports the Redis version it is compatible with (7.2.4) as redis_version, and its own as valkey_version.
  const version = infoField(server, 'redis_version') ?? '0.0.0';
  const valkey = infoField(server, 'valkey_version');
  const [major = 0, minor = 0] = version.split('.').map(Number);
  out.push(
    major > 6 || (major === 6 && minor >= 2)
      ? { check: 'version', status: 'pass', detail: valkey ? `Valkey ${valkey}` : `Redis ${version}` }
      : {
          check: 'version',
          status: 'fail',
          detail: `Redis ${version} is too old (XAUTOCLAIM and LMOVE need 6.2)`,
          fix: 'upgrade Redis to 6.2 or newer (7.x recommended)',
        },
  );
  const persistence = await ask(redis.info('persistence'), 'INFO persistence');
  const aof = infoField(persistence, 'aof_enabled') === '1';
  // `save` says whether RDB snapshots are scheduled; CONFIG may be disabled (managed Redis): then it is unknown.
  const save = await ask(redis.config('GET', 'save') as Promise<string[]>, 'CONFIG GET save').then(
    (r) => r[1] ?? '',
    () => undefined,
  );
  if (aof) out.push({ check: 'persistence', status: 'pass', detail: 'append-only file (AOF) on' });
  else if (save === undefined)
    out.push({
      check: 'persistence',
      status: 'warn',
      detail: 'AOF is off and CONFIG GET is not allowed, so whether RDB snapshots are taken is unknown',
      fix: "enable AOF (appendonly yes) in your Redis service's settings: without it a restart loses what was queued since the last snapshot",
    });
  else if (save.trim())
    out.push({
      check: 'persistence',
      status: 'warn',
      detail: `RDB snapshots only (save ${save}): a crash loses what was queued since the last snapshot`,
      fix: 'CONFIG SET appendonly yes (and appendonly yes in redis.conf)',
    });
  else
    out.push({
      check: 'persistence',
      status: 'fail',
      detail: 'neither AOF nor RDB snapshots: a Redis restart loses every queued record, cursor and dedup key',
      fix: 'CONFIG SET appendonly yes, and appendonly yes in redis.conf (or your managed Redis persistence settings)',
    });
  const memory = await ask(redis.info('memory'), 'INFO memory');
  const policy = infoField(memory, 'maxmemory_policy') ?? 'unknown';
  out.push(
    policy === 'noeviction'
      ? { check: 'maxmemory-policy', status: 'pass', detail: 'noeviction' }
      : {
          check: 'maxmemory-policy',
          status: 'fail',
          detail: `${policy}: under memory pressure Redis deletes keys, i.e. queued records (BullMQ requires noeviction)`,
          fix: 'CONFIG SET maxmemory-policy noeviction, and maxmemory-policy noeviction in redis.conf (managed Redis: its eviction policy setting)',
        },
  );
  return out;
}

/** Requests in the budget's window now (Redis's clock, as the budget script uses), or undefined when unreadable. */
export async function budgetUsed(redis: Redis, key: string, windowMs = 60_000): Promise<number> {
  const [s, us] = await redis.time();
  const now = Number(s) * 1000 + Math.floor(Number(us) / 1000);
  return redis.zcount(key, `(${now - windowMs}`, '+inf');
}
