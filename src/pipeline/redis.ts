/** Redis connections and the start-up check of what alertbridge needs from the server. */
import { readFileSync } from 'node:fs';
import { backoffDelay } from '../util/backoff.js';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { withSystemRoots } from '../util/tls.js';

/** The part of `redis` (src/config/schema.ts) that says how to reach it. */
export interface RedisConnectionConfig {
  url: string;
  username?: string;
  password?: string;
  tls?: { ca_file?: string; reject_unauthorized?: boolean };
  sentinel?: {
    master_name: string;
    nodes: readonly string[];
    username?: string;
    password?: string;
    tls?: boolean;
  };
  cluster?: { nodes: readonly string[]; tls?: boolean };
  connect_timeout_ms?: number;
  command_timeout_ms?: number;
}

/**
 * A connection to the Redis primary: the one at `url`, or the one the sentinels name (`sentinel`), followed after a
 * failover (ioredis asks the sentinels again at each reconnection, and drops the connection when they announce a
 * new primary).
 *
 * `blocking` connections (BullMQ workers, the dispatcher) wait forever for Redis to come back; command connections
 * fail a request after a few retries, or when its reply takes longer than `command_timeout_ms`, so that a webhook
 * can answer 503 and its sender retries.
 */
export function connect(cfg: RedisConnectionConfig, opts: { blocking?: boolean; name?: string } = {}): Redis {
  if (cfg.cluster) return connectCluster(cfg, opts);
  const options = redisOptions(cfg, opts);
  return cfg.sentinel ? new Redis(options) : new Redis(cfg.url, options);
}

/**
 * A Redis Cluster client (`redis.cluster`): ioredis' Cluster learns the slots from the seed nodes, sends each command
 * to the primary of its key's slot, follows MOVED/ASK, and refreshes the slots after a failover. It is handed out
 * typed as a `Redis`: it answers the same commands (those with keys, routed by key; the others to one primary),
 * BullMQ takes it as its connection, and every multi-key script and MULTI of alertbridge keeps its keys in one slot
 * (keys.ts). What differs is said where it matters: `WAIT` (durability.ts), per node.
 */
function connectCluster(cfg: RedisConnectionConfig, opts: { blocking?: boolean; name?: string }): Redis {
  const { retryStrategy, reconnectOnError, ...node } = redisOptions({ ...cfg, sentinel: undefined }, opts);
  void retryStrategy; // (a node's reconnection is the cluster's business: clusterRetryStrategy, slot refreshes)
  void reconnectOnError; // (a demoted primary answers MOVED, which the cluster client follows)
  if (!cfg.cluster!.tls) delete node.tls;
  else if (!node.tls) node.tls = { rejectUnauthorized: cfg.tls?.reject_unauthorized ?? true };
  const options: ClusterOptions = {
    redisOptions: node,
    clusterRetryStrategy: (times) => backoffDelay(RECONNECT_BACKOFF, times),
    enableReadyCheck: true,
    // A failover takes the cluster a few seconds (cluster-node-timeout, then the replica's election): commands wait
    // for it (retried every 300 ms, up to the per-request retries) instead of failing at the first CLUSTERDOWN.
    retryDelayOnFailover: 300,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 300,
    slotsRefreshTimeout: cfg.connect_timeout_ms,
    // TLS certificates name the hosts the nodes were reached by, not the addresses CLUSTER SLOTS announces.
    ...(cfg.cluster!.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
  };
  return new Cluster(cfg.cluster!.nodes.map(parseHostPort), options) as unknown as Redis;
}

/** Whether a connection (connect()'s) is a Redis Cluster client. */
export function isCluster(redis: Redis): boolean {
  return (redis as unknown as { isCluster?: boolean }).isCluster === true;
}

/** Reconnection attempts: 0.2 s, doubling, at most 5 s (with jitter, so replicas do not reconnect in step). */
const RECONNECT_BACKOFF = { initialMs: 200, maxMs: 5000 };

/** The ioredis options of a connection. `tls.ca_file` is an extra CA: the system's trusted roots stay trusted. */
export function redisOptions(
  cfg: RedisConnectionConfig,
  opts: { blocking?: boolean; name?: string } = {},
): RedisOptions {
  // (The intersection only lets this compile against ioredis 5's types too, which lack `protocol`.)
  const options: RedisOptions & { protocol?: 2 | 3 } = {
    // ioredis 6 speaks RESP3 by default; BullMQ's scripts and this code were written and are tested against RESP2
    // replies (ioredis's own advice to keep v5 behaviour), and RESP3 brings nothing used here.
    protocol: 2,
    maxRetriesPerRequest: opts.blocking ? null : 3,
    enableReadyCheck: true,
    connectionName: opts.name,
    retryStrategy: (times) => backoffDelay(RECONNECT_BACKOFF, times),
    // A primary turned replica (a failover, a managed service's maintenance) refuses writes: reconnecting reaches
    // the new primary (through the sentinels, or the endpoint's DNS). The failed command fails; its caller retries.
    reconnectOnError: (err) => /^READONLY/.test(err.message),
    lazyConnect: false,
  };
  if (cfg.connect_timeout_ms !== undefined) options.connectTimeout = cfg.connect_timeout_ms;
  // Blocking reads (XREADGROUP BLOCK, BullMQ's) legitimately wait: only command connections are bounded.
  if (!opts.blocking && cfg.command_timeout_ms !== undefined) options.commandTimeout = cfg.command_timeout_ms;
  if (cfg.username) options.username = cfg.username;
  if (cfg.password) options.password = cfg.password;
  const tls = cfg.sentinel ? cfg.sentinel.tls === true : cfg.url.startsWith('rediss://') || !!cfg.tls?.ca_file;
  const tlsOptions = tls
    ? {
        // Node's `ca` replaces its bundled roots: they are passed along so that the file adds to them.
        ca: cfg.tls?.ca_file ? withSystemRoots(readFileSync(cfg.tls.ca_file, 'utf8')) : undefined,
        rejectUnauthorized: cfg.tls?.reject_unauthorized ?? true,
      }
    : undefined;
  if (tlsOptions) options.tls = tlsOptions;
  const s = cfg.sentinel;
  if (s) {
    options.name = s.master_name;
    options.role = 'master';
    options.sentinels = s.nodes.map(parseHostPort);
    if (s.username) options.sentinelUsername = s.username;
    if (s.password) options.sentinelPassword = s.password;
    if (tlsOptions) {
      options.enableTLSForSentinelMode = true;
      options.sentinelTLS = tlsOptions;
    }
    // Not ioredis' failoverDetector: its +switch-master handler, when it arrives while the connection is already
    // reconnecting (the primary died), ends the connection for good ("Connection is closed.", ioredis 5.11). A
    // primary demoted while alive is left anyway: Sentinel kills its clients' connections, and READONLY reconnects.
    options.sentinelRetryStrategy = (times) => backoffDelay(RECONNECT_BACKOFF, times);
    if (cfg.connect_timeout_ms !== undefined) options.sentinelCommandTimeout = cfg.connect_timeout_ms;
  }
  return options;
}

/** `host:port` / `[v6]:port` (validated by the schema) → ioredis' address. */
function parseHostPort(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  return { host: value.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(value.slice(at + 1)) };
}

/** Where alertbridge looks for Redis, for messages (no password). */
export function describeRedisTarget(cfg: string | RedisConnectionConfig): string {
  if (typeof cfg !== 'string' && cfg.cluster) return `the Redis Cluster of ${cfg.cluster.nodes.join(', ')}`;
  if (typeof cfg !== 'string' && cfg.sentinel) {
    return `the Redis primary "${cfg.sentinel.master_name}" of the sentinels ${cfg.sentinel.nodes.join(', ')}`;
  }
  return `Redis at ${maskedUrl(typeof cfg === 'string' ? cfg : cfg.url)}`;
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
export function describeRedisFailure(
  target: string | RedisConnectionConfig,
  err: unknown,
  lastConnectionError?: Error,
): RedisUnavailableError {
  const cause = (err as Error)?.name === 'MaxRetriesPerRequestError' && lastConnectionError ? lastConnectionError : err;
  const message = String((cause as Error)?.message ?? cause).split('\n')[0]!;
  const where = describeRedisTarget(target);
  const sentinel = typeof target !== 'string' && target.sentinel;
  const text = AUTH_REFUSED.test(message)
    ? `${where} refused the credentials (${message}): check redis.password (or password_file) and ${sentinel ? 'redis.username (the sentinels: redis.sentinel.password and username)' : "the user (redis.username or the URL's)"}`
    : sentinel && /^All sentinels are unreachable/.test(message)
      ? // ioredis says "unreachable" also when the sentinels answer but know no primary of that name.
        `${where} cannot be used: no sentinel answered with the address of a primary named "${sentinel.master_name}" (${message}): check redis.sentinel.nodes and master_name`
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
