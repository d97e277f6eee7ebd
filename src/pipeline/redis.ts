/** Redis connections and the start-up check of what alertbridge needs from the server. */
import { readFileSync } from 'node:fs';
import { backoffDelay } from '../util/backoff.js';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { withSystemRoots } from '../util/tls.js';

export interface RedisConnectionConfig {
  url: string;
  password?: string;
  tls?: { ca_file?: string; reject_unauthorized?: boolean };
}

/**
 * `blocking` connections (BullMQ workers, the dispatcher) wait forever for Redis to come back; command connections
 * fail a request after a few retries so that a webhook can answer 503 and its sender retries.
 */
export function connect(cfg: RedisConnectionConfig, opts: { blocking?: boolean; name?: string } = {}): Redis {
  return new Redis(cfg.url, redisOptions(cfg, opts));
}

/** Reconnection attempts: 0.2 s, doubling, at most 5 s (with jitter, so replicas do not reconnect in step). */
const RECONNECT_BACKOFF = { initialMs: 200, maxMs: 5000 };

/** The ioredis options of a connection. `tls.ca_file` is an extra CA: the system's trusted roots stay trusted. */
export function redisOptions(
  cfg: RedisConnectionConfig,
  opts: { blocking?: boolean; name?: string } = {},
): RedisOptions {
  const options: RedisOptions = {
    maxRetriesPerRequest: opts.blocking ? null : 3,
    enableReadyCheck: true,
    connectionName: opts.name,
    retryStrategy: (times) => backoffDelay(RECONNECT_BACKOFF, times),
    lazyConnect: false,
  };
  if (cfg.password) options.password = cfg.password;
  if (cfg.url.startsWith('rediss://') || cfg.tls?.ca_file) {
    options.tls = {
      // Node's `ca` replaces its bundled roots: they are passed along so that the file adds to them.
      ca: cfg.tls?.ca_file ? withSystemRoots(readFileSync(cfg.tls.ca_file, 'utf8')) : undefined,
      rejectUnauthorized: cfg.tls?.reject_unauthorized ?? true,
    };
  }
  return options;
}

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

const AUTH_REFUSED = /WRONGPASS|NOAUTH|NOPERM|invalid password|invalid username-password/i;

/**
 * Why Redis could not be used, as one line. Only the error's message is used: ioredis errors also carry the failed
 * command with its arguments (AUTH's is the password). A request that gave up after its retries
 * (MaxRetriesPerRequestError) says nothing about why: `lastConnectionError`, the connection's own error, does.
 */
export function describeRedisFailure(url: string, err: unknown, lastConnectionError?: Error): RedisUnavailableError {
  const cause = (err as Error)?.name === 'MaxRetriesPerRequestError' && lastConnectionError ? lastConnectionError : err;
  const message = String((cause as Error)?.message ?? cause).split('\n')[0]!;
  const where = `Redis at ${maskedUrl(url)}`;
  const text = AUTH_REFUSED.test(message)
    ? `${where} refused the credentials (${message}): check redis.password (or password_file) and the URL's user`
    : `${where} cannot be used: ${message}`;
  return new RedisUnavailableError(text, { cause: err });
}

/** The URL with any password replaced, for messages. */
export function maskedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

export class RedisRequirementError extends Error {
  override name = 'RedisRequirementError';
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/**
 * Redis ≥ 6.2 is required (XAUTOCLAIM, LMOVE). `maxmemory-policy` must be `noeviction`: any other policy lets
 * Redis silently delete queued alerts under memory pressure — warned loudly, since managed Redis offerings do not
 * always let users change it. Without AOF a Redis restart loses what was queued: warned too.
 */
export async function checkRedis(redis: Redis, log: Logger): Promise<{ version: string; warnings: string[] }> {
  const server = await redis.info('server');
  const version = infoField(server, 'redis_version') ?? '0.0.0';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < 6 || (major === 6 && minor < 2)) {
    throw new RedisRequirementError(`Redis ${version} is too old: alertbridge needs Redis 6.2 or newer`);
  }
  const warnings: string[] = [];
  const memory = await redis.info('memory');
  const policy = infoField(memory, 'maxmemory_policy');
  if (policy && policy !== 'noeviction') {
    warnings.push(
      `Redis maxmemory-policy is "${policy}": queued alerts can be evicted under memory pressure; set it to noeviction`,
    );
  }
  const persistence = await redis.info('persistence');
  if (infoField(persistence, 'aof_enabled') === '0') {
    warnings.push('Redis append-only file (AOF) is off: a Redis restart loses queued alerts; enable appendonly yes');
  }
  for (const w of warnings) log.warn(w);
  return { version, warnings };
}
