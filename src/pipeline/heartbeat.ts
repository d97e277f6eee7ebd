/**
 * Each running daemon says it is alive, and what state its sinks are in, in Redis: a small JSON heartbeat per
 * replica that expires when the replica stops sending it, and a sorted set of the replica ids (by last heartbeat) so
 * that `alertbridge status` and the status page, from any pod, list the live replicas without scanning keys. A sink's
 * pause (a refused token, a missing topic) lives only in the memory of the replica that saw it; this is how another
 * process learns of it.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Keys } from './keys.js';

/** One sink as one replica sees it. */
export interface SinkHeartbeat {
  /** False while the sink is paused (`Sink.ready()` false) or not started yet. */
  ready: boolean;
  /** Why it is not ready, in the sink's words; null when ready. */
  reason: string | null;
}

/** What a replica writes, as JSON, at `keys.replicaHeartbeat(id)`. */
export interface Heartbeat {
  replica: string;
  host: string;
  pid: number;
  /** ISO 8601: when this replica started. */
  started_at: string;
  /** ISO 8601: when this heartbeat was written (the writer's clock). */
  at: string;
  sinks: Record<string, SinkHeartbeat>;
}

/** How often a sink's state is compared (in memory) with the last heartbeat's. */
const CHANGE_CHECK_MS = 1000;
/** Replica ids whose last heartbeat is older than this are dropped from the set by the writers. */
const FORGET_MS = 24 * 3600_000;

export class HeartbeatWriter {
  private timer?: NodeJS.Timeout;
  private readonly startedAt = new Date().toISOString();
  private stopped = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly replicaId: string,
    /** The heartbeat expires after this long without a new one (`pipeline.takeover_ms`, as leases). */
    private readonly ttlMs: number,
    private readonly sinks: () => Record<string, SinkHeartbeat>,
    private readonly log: Logger,
  ) {}

  /**
   * Writes a heartbeat now and then every third of the TTL; and at once when a sink's state changes (checked in
   * memory every second), so that a pause shows in `status` within about a second.
   */
  start(): void {
    void this.beat();
    const everyMs = Math.max(250, Math.floor(this.ttlMs / 3));
    let lastBeat = Date.now();
    this.timer = setInterval(
      () => {
        if (Date.now() - lastBeat >= everyMs || JSON.stringify(this.sinks()) !== this.lastSinks) {
          lastBeat = Date.now();
          void this.beat();
        }
      },
      Math.min(everyMs, CHANGE_CHECK_MS),
    );
    this.timer.unref();
  }

  /** The sinks' state of the last heartbeat written (JSON). */
  private lastSinks = '';

  /** Writes one heartbeat now (a sink's state changed). Errors are logged at debug: the next beat tries again. */
  async beat(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    const hb: Heartbeat = {
      replica: this.replicaId,
      host: hostname(),
      pid: process.pid,
      started_at: this.startedAt,
      at: new Date(now).toISOString(),
      sinks: this.sinks(),
    };
    this.lastSinks = JSON.stringify(hb.sinks);
    try {
      // Separate commands, not MULTI: the two keys need not share a Redis Cluster slot.
      await this.redis.set(this.keys.replicaHeartbeat(this.replicaId), JSON.stringify(hb), 'PX', this.ttlMs);
      await this.redis.zadd(this.keys.replicas, now, this.replicaId);
      await this.redis.zremrangebyscore(this.keys.replicas, '-inf', now - FORGET_MS);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'writing the replica heartbeat failed; retried at the next');
    }
  }

  /** Stops beating and removes this replica's heartbeat (a clean stop: `status` no longer lists it). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.redis.del(this.keys.replicaHeartbeat(this.replicaId)).catch(() => undefined);
    await this.redis.zrem(this.keys.replicas, this.replicaId).catch(() => undefined);
  }
}

/** The heartbeats of the replicas alive now (their heartbeat has not expired), oldest start first. */
export async function readHeartbeats(redis: Redis, keys: Keys): Promise<Heartbeat[]> {
  const ids = await redis.zrange(keys.replicas, '0', '-1');
  const out: Heartbeat[] = [];
  for (const id of ids) {
    const text = await redis.get(keys.replicaHeartbeat(id));
    if (!text) continue;
    try {
      const hb = JSON.parse(text) as Heartbeat;
      if (hb && typeof hb === 'object' && typeof hb.replica === 'string') out.push(hb);
    } catch {
      // not ours (written by hand): left out
    }
  }
  return out.sort((a, b) => String(a.started_at).localeCompare(String(b.started_at)));
}
