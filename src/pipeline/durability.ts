/**
 * `redis.durability`: what "durably in Redis" means before alertbridge acknowledges a push (202) or moves a cursor.
 * By default one write to the primary's memory (with `appendfsync everysec` on its disk within about a second).
 * With `replicas: N`, `WAIT N timeout` after the write: acknowledged only once N replicas have it. With
 * `aof_fsync: true`, `WAITAOF 1 0 timeout` (Redis 7.2+): only once the primary fsynced it to its append-only file.
 *
 * WAIT and WAITAOF cover every write made before them on the same connection, so they run on the command
 * connection the dedup script and the cursor moves use — and only count when that connection did not drop between
 * the write and the wait's reply: on a new connection (after a reconnection, e.g. to the replica Sentinel promoted
 * when the primary died) WAIT says nothing about a write made on the old one, which may be lost with it. ioredis
 * would send the wait there on its own (a command queued while reconnecting, or resent after the drop), so the
 * connection's drops are counted (`mark()` before the write, `wait(mark)` after it).
 *
 * **Redis Cluster**: WAIT is per node (each primary counts its own replicas' acknowledgements of the writes made on
 * that connection). The cluster client holds one connection per node, so the wait is sent on the connection of each
 * primary that was written: the primaries owning the slots of the keys given (an emit names one key per inbox shard
 * it staged in), or every primary when none are given (a cursor move). A drop of any node connection in between
 * refuses the acknowledgement, as a drop of the one connection does elsewhere. No Lua, no extra key.
 */
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { clusterSlot } from './keys.js';
import { isCluster } from './redis.js';

export interface DurabilityConfig {
  replicas: number;
  aof_fsync: boolean;
  timeout_ms: number;
}

/** A write that is in Redis but not as durable as `redis.durability` asks: it must not be acknowledged. */
export class DurabilityError extends Error {
  override name = 'DurabilityError';
}

/** What the connected Redis guarantees, as found at start (reported in one log line). */
export interface RedisGuarantees {
  version: string;
  /** `aof`, `rdb`, `aof+rdb` or `none`. */
  persistence: string;
  /** `always`, `everysec`, `no`, or `unknown` when CONFIG GET is refused (managed offerings). */
  appendfsync: string;
  replicas: number;
  waitaof: boolean;
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

async function configValue(redis: Redis, name: string): Promise<string | undefined> {
  try {
    const res = (await redis.config('GET', name)) as string[];
    return res[1];
  } catch {
    return undefined;
  }
}

export class Durability {
  private waitaof = false;
  /** How many times the connection closed: a wait counts only the writes made since the same count. */
  private drops = 0;

  constructor(
    private readonly redis: Redis,
    readonly config: DurabilityConfig,
    private readonly log: Logger,
  ) {
    redis.on('close', () => this.drops++);
    if (isCluster(redis)) {
      const cluster = redis as unknown as Cluster;
      const counted = new WeakSet<Redis>();
      const count = (node: Redis) => {
        if (counted.has(node)) return;
        counted.add(node);
        node.on('close', () => this.drops++);
      };
      cluster.on('+node', count);
      for (const node of cluster.nodes('all')) count(node);
    }
  }

  /** Taken before a write, given to `wait` after it: the wait then refuses when the connection dropped in between. */
  mark(): number {
    return this.drops;
  }

  /** True when acknowledging waits for anything beyond the primary's reply. */
  get active(): boolean {
    return this.config.replicas > 0 || this.config.aof_fsync;
  }

  /** Finds out what the server guarantees, logs it in one line, and warns where the configuration asks for more. */
  async init(): Promise<RedisGuarantees> {
    const [server, persistence, replication] = await Promise.all([
      this.redis.info('server'),
      this.redis.info('persistence'),
      this.redis.info('replication'),
    ]);
    const version = infoField(server, 'redis_version') ?? '0.0.0';
    const [major = 0, minor = 0] = version.split('.').map(Number);
    this.waitaof = major > 7 || (major === 7 && minor >= 2);
    const aof = infoField(persistence, 'aof_enabled') === '1';
    const save = await configValue(this.redis, 'save');
    const rdb = save !== undefined && save.trim() !== ''; // (CONFIG refused: RDB counted as off)
    const appendfsync = aof ? ((await configValue(this.redis, 'appendfsync')) ?? 'unknown') : 'n/a';
    const g: RedisGuarantees = {
      version,
      persistence: aof && rdb ? 'aof+rdb' : aof ? 'aof' : rdb ? 'rdb' : 'none',
      appendfsync,
      replicas: Number(infoField(replication, 'connected_slaves') ?? 0),
      waitaof: this.waitaof,
    };
    this.log.info(
      {
        redis_version: g.version,
        persistence: g.persistence,
        appendfsync: g.appendfsync,
        connected_replicas: g.replicas,
        waitaof: g.waitaof,
        durability: this.config,
      },
      `redis guarantees: ${describe(g, this.config)}`,
    );
    if (this.config.aof_fsync && !aof) {
      this.log.warn(
        'redis.durability.aof_fsync is set but the append-only file is off on this Redis: acknowledged writes are only in memory; enable appendonly yes',
      );
    } else if (this.config.aof_fsync && !this.waitaof) {
      this.log.warn(
        appendfsync === 'always'
          ? `redis.durability.aof_fsync: Redis ${version} has no WAITAOF (7.2+); not needed here: appendfsync always fsyncs every write before Redis answers`
          : `redis.durability.aof_fsync: Redis ${version} has no WAITAOF (7.2+), so alertbridge cannot wait for the fsync: acknowledged writes reach the disk per appendfsync ${appendfsync} (everysec: up to about 1 s can be lost on a machine crash); set appendfsync always, or use Redis 7.2+`,
      );
    }
    if (this.config.replicas > g.replicas) {
      this.log.warn(
        `redis.durability.replicas is ${this.config.replicas} but ${g.replicas} replica(s) are connected: pushes get 503 and polls are retried until enough replicas are connected`,
      );
    }
    return g;
  }

  /**
   * Waits until the writes made on the connection since `since` (a `mark()`; default: now) are as durable as
   * configured; throws DurabilityError if not, or if the connection dropped since then.
   */
  async wait(since: number = this.drops, keys: readonly string[] = []): Promise<void> {
    if (isCluster(this.redis)) {
      const nodes = this.primariesOf(keys);
      sameConnectionOr(this.drops, since);
      await Promise.all(nodes.map((node) => this.waitOn(node, since)));
      return;
    }
    await this.waitOn(this.redis, since);
  }

  /** Redis Cluster: the primaries owning these keys' slots (every primary when no key is given). */
  private primariesOf(keys: readonly string[]): Redis[] {
    const cluster = this.redis as unknown as Cluster;
    const masters = cluster.nodes('master');
    if (!keys.length) return masters;
    const byAddress = new Map(masters.map((n) => [`${n.options.host}:${n.options.port}`, n]));
    const out = new Set<Redis>();
    for (const key of keys) {
      const owner = cluster.slots[clusterSlot(key)]?.[0];
      const node = owner === undefined ? undefined : byAddress.get(owner);
      // A slot whose owner is not known right now (a failover under way): the wait cannot be confirmed.
      if (!node) {
        throw new DurabilityError(
          'written to Redis, but the Redis Cluster primary of a written slot is not known right now (a failover?): not acknowledged',
        );
      }
      out.add(node);
    }
    return [...out];
  }

  private async waitOn(redis: Redis, since: number): Promise<void> {
    const { replicas, timeout_ms: timeout } = this.config;
    const sameConnection = () => {
      if (this.drops !== since) {
        throw new DurabilityError(
          'written to Redis, but the connection dropped before the replicas and the fsync could be confirmed (a failover?): not acknowledged',
        );
      }
    };
    sameConnection();
    if (replicas > 0) {
      const acked = Number(await redis.call('WAIT', replicas, timeout));
      sameConnection();
      if (acked < replicas) {
        throw new DurabilityError(
          `written to Redis, but only ${acked} of ${replicas} replica(s) acknowledged it within ${timeout} ms (redis.durability.replicas)`,
        );
      }
    }
    if (this.config.aof_fsync && this.waitaof) {
      const [local] = (await redis.call('WAITAOF', 1, 0, timeout)) as number[];
      sameConnection();
      if (Number(local) < 1) {
        throw new DurabilityError(
          `written to Redis, but not fsynced to its append-only file within ${timeout} ms (redis.durability.aof_fsync)`,
        );
      }
    }
  }
}

function describe(g: RedisGuarantees, c: DurabilityConfig): string {
  const disk =
    g.persistence === 'none'
      ? 'no persistence (a Redis restart loses everything)'
      : `${g.persistence}${g.persistence.includes('aof') ? `, appendfsync ${g.appendfsync}` : ''}`;
  const wait = [
    c.replicas > 0 ? `WAIT for ${c.replicas} replica(s)` : '',
    c.aof_fsync ? (g.waitaof ? 'WAITAOF on the primary' : 'no WAITAOF on this version') : '',
  ]
    .filter(Boolean)
    .join(' and ');
  return `${disk}; ${g.replicas} replica(s) connected; acknowledging after ${wait || "the primary's reply"}`;
}

function sameConnectionOr(drops: number, since: number): void {
  if (drops !== since) {
    throw new DurabilityError(
      'written to Redis, but a connection dropped before the replicas and the fsync could be confirmed (a failover?): not acknowledged',
    );
  }
}
