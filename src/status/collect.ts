/**
 * What runs now, read from Redis only — so `alertbridge status` and the status page give the same answer from any
 * pod, whichever replica does the work. Read-only: nothing here writes to Redis (the BullMQ queues are opened with
 * `skipMetasUpdate`). The shape is `alertbridge.status/v1`, documented in docs/operations.md; fields are added, never
 * renamed or removed, and absent values are `null`, not missing.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config, DefenderStreamingSourceConfig, GraphSourceConfig } from '../config/schema.js';
import { readHeartbeats, type Heartbeat } from '../pipeline/heartbeat.js';
import { keysFor, type Keys } from '../pipeline/keys.js';
import { readCursor } from '../sources/graph/cursor.js';
import { CONDITION_SEVERITY, type ConditionKind } from '../health/conditions.js';
import { currentConditions } from '../health/reporter.js';

export const STATUS_SCHEMA = 'alertbridge.status/v1';

export interface StatusReport {
  schema: typeof STATUS_SCHEMA;
  /** ISO 8601, Redis's clock: every age and lag below is measured from it. */
  generated_at: string;
  key_prefix: string;
  /** Replicas whose heartbeat has not expired (a clean stop removes it; a crash lets it expire after `takeover_ms`). */
  replicas: ReplicaStatus[];
  sources: SourceStatus[];
  sinks: SinkStatus[];
  /**
   * The health conditions active now (docs/health.md), oldest first: what src/health/ keeps in Redis, the same
   * conditions the `alertbridge.health/v1` records announce. Sources and sinks name theirs in `conditions`.
   */
  active_conditions: ActiveCondition[];
}

/** A health condition that is raised and not yet cleared; the fields are those of the health record's `data`. */
export interface ActiveCondition {
  /** The condition's stable key (`health:{source}/{resource}/{kind}[/{provider}]`, `health:sink:{sink}/{kind}`). */
  key: string;
  kind: ConditionKind;
  severity: (typeof CONDITION_SEVERITY)[ConditionKind];
  /** The subject: a source (its tenant, one resource or `*` for all), or a sink. */
  source: string | null;
  tenant_id: string | null;
  resource: string | null;
  sink: string | null;
  /** A gap's or an overflow's provider. */
  provider: string | null;
  message: string;
  first_seen: string;
  last_seen: string;
  observations: number;
  /** Dead letters: how many so far; null for other kinds. */
  count: number | null;
  /** What the first sighting saw, and the latest. */
  detail: Record<string, unknown> | null;
  last_detail: Record<string, unknown> | null;
}

export interface ReplicaStatus {
  id: string;
  host: string;
  pid: number;
  started_at: string;
  heartbeat_at: string;
  heartbeat_age_seconds: number;
}

export interface SourceStatus {
  name: string;
  type: string;
  /** graph_security: one entry per configured resource; others: empty. */
  resources: ResourceStatus[];
  /** graph_security: Graph requests of the last 60 s against the tenant's budget (shared by sources of one app and tenant). */
  budget: { used_last_minute: number; limit_per_minute: number } | null;
  /** graph_security with `sync.enabled`: write-back changes waiting, and failed ones. */
  write_back: { queued: number; failed: number } | null;
  /** defender_streaming: partition ownership and checkpoints (null for other types). */
  partitions: PartitionStatus[] | null;
  /** The kinds of the active conditions of this source (any resource, or all of them), as in `active_conditions`. */
  conditions: ConditionKind[];
}

export type ResourceState = 'ok' | 'failing' | 'stuck' | 'never_polled';

export interface ResourceStatus {
  resource: string;
  /** `failing`: the last polls failed; `stuck`: for longer than `stuck_window_alert_ms`. */
  state: ResourceState;
  /** When the last poll started. */
  last_poll_at: string | null;
  last_poll_age_seconds: number | null;
  /** Alerts updated up to here were read. */
  watermark: string | null;
  /** Now minus the oldest bound still held (the watermark, or a lagging legacy provider's). */
  lag_seconds: number | null;
  failing_since: string | null;
  last_error: string | null;
  /** Legacy alerts: providers that failed and the bound each was read completely to. */
  lagging_providers: Record<string, string>;
  /** The replica polling it right now (it holds the poll lease while a poll runs); null between polls. */
  polling: string | null;
  /** Windows skipped with `alertbridge cursor skip`. */
  skips: number;
  /** The kinds of the active conditions of this resource, or of all the source's resources (credentials). */
  conditions: ConditionKind[];
}

export interface PartitionStatus {
  partition: string;
  owner: string | null;
  /** Whether the owner is a live replica (its heartbeat has not expired). */
  owner_live: boolean;
  /** When the owner last claimed or renewed it. */
  owned_at: string | null;
  /** The sequence number of the last checkpoint. */
  checkpoint_sequence_number: number | null;
}

export type SinkState = 'ready' | 'paused' | 'no_replica';

export interface SinkStatus {
  name: string;
  type: string;
  /** `paused` when a live replica reports the sink paused; `no_replica` when no live replica reports it. */
  state: SinkState;
  /** Why it is paused, as the sink says. */
  reason: string | null;
  replicas: Array<{ replica: string; ready: boolean; reason: string | null }>;
  /** BullMQ job counts of the sink's queue (a job is one batch); `total` = waiting + active + delayed + prioritized. */
  queue: { waiting: number; active: number; delayed: number; prioritized: number; failed: number; total: number };
  /** Age of the oldest queued job (waiting or active; among delayed, the 100 due first), null when none. */
  oldest_queued_age_seconds: number | null;
  dead_letters: number;
  /** The kinds of the active conditions of this sink (`sink_paused`, `dead_letters`). */
  conditions: ConditionKind[];
}

/** Delayed jobs inspected for the oldest queued age (a delayed set is ordered by when it is due, not by age). */
const DELAYED_SCAN = 100;

/**
 * Reads the report. `queueConnection` serves the BullMQ queues (it may be the same connection); the queues opened
 * here are closed before returning.
 */
export async function collectStatus(
  config: Readonly<Config>,
  redis: Redis,
  queueConnection = redis,
): Promise<StatusReport> {
  const keys = keysFor(config.redis.key_prefix);
  const now = await redisNow(redis);
  const heartbeats = await readHeartbeats(redis, keys);
  const live = new Set(heartbeats.map((h) => h.replica));
  const active = (await currentConditions(redis, keys)).map(activeCondition);
  const kinds = (match: (c: ActiveCondition) => boolean): ConditionKind[] => [
    ...new Set(active.filter(match).map((c) => c.kind)),
  ];
  const sources: SourceStatus[] = [];
  for (const s of config.sources) {
    const base: SourceStatus = {
      name: s.name,
      type: s.type,
      resources: [],
      budget: null,
      write_back: null,
      partitions: null,
      conditions: kinds((c) => c.source === s.name),
    };
    if (s.type === 'graph_security') Object.assign(base, await graphStatus(s, redis, keys, now));
    if (s.type === 'defender_streaming') base.partitions = await partitionStatus(s, redis, keys, live);
    for (const res of base.resources)
      res.conditions = kinds((c) => c.source === s.name && (c.resource === res.resource || c.resource === '*'));
    sources.push(base);
  }
  const sinks: SinkStatus[] = [];
  for (const s of config.sinks)
    sinks.push({
      ...(await sinkStatus(s.name, s.type, redis, queueConnection, keys, heartbeats, now)),
      conditions: kinds((c) => c.sink === s.name),
    });
  return {
    schema: STATUS_SCHEMA,
    generated_at: new Date(now).toISOString(),
    key_prefix: config.redis.key_prefix,
    replicas: heartbeats.map((h) => ({
      id: h.replica,
      host: String(h.host),
      pid: Number(h.pid),
      started_at: String(h.started_at),
      heartbeat_at: String(h.at),
      heartbeat_age_seconds: ageSeconds(now, Date.parse(h.at)) ?? 0,
    })),
    sources,
    sinks,
    active_conditions: active,
  };
}

function activeCondition(s: Awaited<ReturnType<typeof currentConditions>>[number]): ActiveCondition {
  return {
    key: s.key,
    kind: s.kind,
    severity: CONDITION_SEVERITY[s.kind],
    source: s.source ?? null,
    tenant_id: s.tenant_id ?? null,
    resource: s.resource ?? null,
    sink: s.sink ?? null,
    provider: s.provider ?? null,
    message: s.message,
    first_seen: new Date(s.first_seen).toISOString(),
    last_seen: new Date(s.last_seen).toISOString(),
    observations: s.observations,
    count: s.count ?? null,
    detail: s.first ?? null,
    last_detail: s.last ?? null,
  };
}

async function redisNow(redis: Redis): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

function ageSeconds(now: number, then: number | undefined): number | null {
  return then === undefined || Number.isNaN(then) ? null : Math.max(0, Math.round((now - then) / 1000));
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

async function graphStatus(
  s: GraphSourceConfig,
  redis: Redis,
  keys: Keys,
  now: number,
): Promise<Pick<SourceStatus, 'resources' | 'budget' | 'write_back'>> {
  const resources: ResourceStatus[] = [];
  for (const resource of s.resources) {
    const c = await readCursor(redis, keys.cursor(s.name, resource));
    const lagging = c.lagging ?? {};
    const oldest = [c.watermark, ...Object.values(lagging)].filter((w): w is string => !!w).sort()[0];
    const failingMs = c.failing_since === undefined ? undefined : now - c.failing_since;
    const state: ResourceState =
      failingMs !== undefined
        ? failingMs >= s.stuck_window_alert_ms
          ? 'stuck'
          : 'failing'
        : c.last_started_at === undefined && !c.watermark
          ? 'never_polled'
          : 'ok';
    resources.push({
      resource,
      state,
      last_poll_at: iso(c.last_started_at),
      last_poll_age_seconds: ageSeconds(now, c.last_started_at),
      watermark: c.watermark ?? null,
      lag_seconds: oldest ? ageSeconds(now, Date.parse(oldest)) : null,
      failing_since: iso(c.failing_since),
      last_error: c.last_error ?? null,
      lagging_providers: lagging,
      polling: await redis.get(keys.pollLease(s.name, resource)),
      skips: await redis.llen(keys.cursorSkips(s.name, resource)),
      conditions: [],
    });
  }
  // The budget window as budget.ts keeps it: request times (Redis's clock) in a sorted set, trimmed when taken.
  const used = await redis.zcount(keys.budget(s.tenant_id, s.client_id ?? 'managed'), `(${now - 60_000}`, '+inf');
  const write_back = s.sync.enabled
    ? { queued: await redis.xlen(keys.syncQueue(s.name)), failed: await redis.llen(keys.syncDead(s.name)) }
    : null;
  return { resources, budget: { used_last_minute: used, limit_per_minute: s.request_budget_per_minute }, write_back };
}

async function partitionStatus(
  s: DefenderStreamingSourceConfig,
  redis: Redis,
  keys: Keys,
  live: Set<string>,
): Promise<PartitionStatus[]> {
  let namespace: string | undefined = s.fully_qualified_namespace;
  let hub: string | undefined = s.event_hub_name;
  if (s.connection_string) {
    const { parseEventHubConnectionString } = await import('@azure/event-hubs');
    try {
      const parsed = parseEventHubConnectionString(s.connection_string);
      // The host the consumer client hands the checkpoint store: the endpoint's host without its port (the SDK's
      // connection config; `parsed.fullyQualifiedNamespace` keeps a port, as the emulator's endpoints have one).
      namespace ??= /^[^:]*:\/\/([^/:]*)/.exec(parsed.endpoint)?.[1] ?? parsed.fullyQualifiedNamespace;
      hub ??= parsed.eventHubName;
    } catch {
      return [];
    }
  }
  if (!namespace || !hub) return [];
  const owners = await redis.hgetall(keys.eventHubOwnership(namespace, hub, s.consumer_group));
  const checkpoints = await redis.hgetall(keys.eventHubCheckpoints(namespace, hub, s.consumer_group));
  const ids = [...new Set([...Object.keys(owners), ...Object.keys(checkpoints)])].sort(
    (a, b) => Number(a) - Number(b) || a.localeCompare(b),
  );
  return ids.map((partition) => {
    const o = parseJson<{ ownerId?: string; lastModifiedTimeInMs?: number }>(owners[partition]);
    const c = parseJson<{ sequenceNumber?: number }>(checkpoints[partition]);
    const owner = typeof o?.ownerId === 'string' && o.ownerId ? o.ownerId : null;
    return {
      partition,
      owner,
      owner_live: owner !== null && live.has(owner),
      owned_at: typeof o?.lastModifiedTimeInMs === 'number' ? iso(o.lastModifiedTimeInMs) : null,
      checkpoint_sequence_number: typeof c?.sequenceNumber === 'number' ? c.sequenceNumber : null,
    };
  });
}

async function sinkStatus(
  name: string,
  type: string,
  redis: Redis,
  queueConnection: Redis,
  keys: Keys,
  heartbeats: Heartbeat[],
  now: number,
): Promise<Omit<SinkStatus, 'conditions'>> {
  const replicas = heartbeats.flatMap((h) => {
    const s = h.sinks?.[name];
    return s ? [{ replica: h.replica, ready: s.ready === true, reason: s.reason ? String(s.reason) : null }] : [];
  });
  const paused = replicas.find((r) => !r.ready);
  const queue = new Queue(keys.sinkQueue(name), {
    connection: queueConnection,
    prefix: keys.prefix,
    skipMetasUpdate: true,
  });
  queue.on('error', () => undefined); // a failing read says why
  try {
    const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed');
    const counts = {
      waiting: c.waiting ?? 0,
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      prioritized: c.prioritized ?? 0,
      failed: c.failed ?? 0,
      total: 0,
    };
    counts.total = counts.waiting + counts.active + counts.delayed + counts.prioritized;
    // Lists are oldest-last (asc reverses them); the delayed and prioritized sets are ordered otherwise: a bounded look.
    const candidates = [
      ...(await queue.getJobs(['waiting'], 0, 0, true)),
      ...(await queue.getJobs(['active'], 0, 0, true)),
      ...(await queue.getJobs(['delayed', 'prioritized'], 0, DELAYED_SCAN - 1, true)),
    ];
    const oldest = Math.min(...candidates.map((j) => j?.timestamp ?? Number.POSITIVE_INFINITY));
    return {
      name,
      type,
      state: paused ? 'paused' : replicas.length ? 'ready' : 'no_replica',
      reason: paused?.reason ?? null,
      replicas,
      queue: counts,
      oldest_queued_age_seconds: Number.isFinite(oldest) ? ageSeconds(now, oldest) : null,
      dead_letters: await redis.llen(keys.deadLetters(name)),
    };
  } finally {
    await queue.close().catch(() => undefined);
  }
}

function parseJson<T>(text: string | undefined): T | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
