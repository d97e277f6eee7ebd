/**
 * A `defender_streaming` source: the Defender XDR Streaming API, read from the customer's Event Hub with the SDK's
 * `EventHubConsumerClient`, as the trigger; Graph as the truth. An AlertInfo/AlertEvidence event queues a read of its
 * alert (`GET /security/alerts_v2/{id}`) for the tenant's `graph_security` source, on the stream the Graph
 * notification worker already serves: one fetch worker, with that source's credentials, request budget, retries and
 * crash safety, emits the alert with `via: streaming`. Dedup makes the overlap with polling invisible.
 *
 * Partition ownership and checkpoints live in Redis (checkpoint-store.ts): replicas share the partitions, and a
 * restart resumes at the last checkpoint. A partition's checkpoint moves only after the reads its events triggered
 * are queued (and, with `redis.durability`, durable): a crash re-reads at most the events since the last checkpoint
 * (one batch per partition, `MAX_BATCH` events), whose triggers coalesce with those already queued.
 *
 * Coalescing: many events name one alert (one AlertInfo row and an AlertEvidence row per entity, written over a few
 * seconds). Within a batch they become one trigger; across batches a marker (`keys.streamingPending`) stands while a
 * read of the alert is queued, and `COALESCE_MS` after the read started, so the rest of the burst adds nothing. An
 * event after that queues a new read. (The stream announces new alerts and their evidence, not status changes, and
 * evidence that Defender adds later is what `late_evidence` re-reads of the poller are for.)
 *
 * Bursts: one incident can bring hundreds of alerts at once, and at Graph's 150 requests a minute single reads serve
 * 2.5 a second. The alerts newly named for a tenant are counted over `POLL_NOW_SECONDS` across every partition and
 * replica (a Redis window, `keys.streamingBurst`): a burst the hub spreads over its partitions is one burst. When the
 * window holds more than single reads serve in that time, and the tenant's source polls alerts_v2, the new alerts are
 * not read by id: the source asks its poller to poll now (the cursor's `poll_requested_at`; every replica's poller
 * sees it at its next tick, the lease holder polls once), and one list request brings them all, with `via: poll`.
 * Their markers are set, so the rest of the burst's events add nothing. At most the window's first alerts (those
 * that did not yet exceed it) are read by id.
 *
 * Raw tables: rows of the tables `tables:` lists become `streaming/<Table>` records (message.ts `rowRecord`), emitted
 * with the batch before its checkpoint moves, their dedup state lasting `tables_dedup_ttl_ms`.
 *
 * A refused credential: see `run` (the SDK's processor does not report it; the source checks, and is unready).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TokenCredential } from '@azure/identity';
import type {
  CheckpointStore,
  EventHubConsumerClient,
  EventHubConsumerClientOptions,
  PartitionContext,
  ReceivedEventData,
  Subscription,
} from '@azure/event-hubs';
import type { Logger } from 'pino';
import type { DefenderStreamingSourceConfig } from '../../config/schema.js';
import { groupOf } from '../../config/tenant-name.js';
import { createCredential } from '../../entra/credential.js';
import { isEntraRefusal } from '../../entra/refusal.js';
import type { Source, SourceCheck, SourceContext, SourceFactory } from '../types.js';
import { graphClientRegistry, type GraphClientRegistry } from '../graph/client-registry.js';
import { graphNotifications, type GraphNotifications } from '../graph/notification-hub.js';
import { RedisCheckpointStore } from './checkpoint-store.js';
import {
  coalesceTriggers,
  parseStreamEvent,
  rowRecord,
  type SkipReason,
  type StreamRow,
  type StreamTrigger,
} from './message.js';

/** Events handed to one processEvents call (and so the most a crash makes the source read again per partition). */
const MAX_BATCH = 100;
/** A queued read's marker outlives a slow fetch queue by this much at most; after it, events queue a read again. */
const PENDING_TTL_MS = 600_000;
/** Events for an alert this long after its read started add no other read (the rest of one burst). */
const COALESCE_MS = 30_000;
/**
 * A poll of the tenant's alerts_v2 starts within a poller tick (at most 5 s) and brings every new alert in one list
 * request; single reads serve `request_budget_per_minute / 60` alerts a second. A batch naming more new alerts than
 * single reads serve in this many seconds asks for a poll instead.
 */
const POLL_NOW_SECONDS = 5;
/** One log line per skip reason per minute; the metric counts every skip. */
const SKIP_LOG_INTERVAL_MS = 60_000;
/** How often the source asks the hub whether it still accepts the credential, while it reads. */
const PROBE_INTERVAL_MS = 30_000;
/** The probe gives up after this long (an unreachable hub is retried, not a refusal). */
const PROBE_TIMEOUT_MS = 15_000;
/** Backoff of the probe after a failure: from this, doubling, up to `RETRY_MAX_MS`. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 60_000;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * One batch's alerts of one `graph_security` source. KEYS: the notification stream, the source's burst window, then
 * one marker per alert. ARGV: marker TTL, coalescing window, burst window (ms), the alerts single reads serve in
 * that window (-1 when the source cannot poll instead), the graph source, then the alert ids.
 *
 * An alert with a marker is coalesced (0). The others are new: they join the burst window, which holds every alert
 * newly named for the source in the last `POLL_NOW_SECONDS` by any partition of any replica. When the window then
 * holds more than single reads serve, the new ones are a burst's (2: the caller asks for a poll, then marks them);
 * else a read of each is queued and marked (1).
 */
const ENQUEUE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local fresh, out = {}, {}
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    fresh[#fresh + 1] = i
    redis.call('ZADD', KEYS[2], now, ARGV[i + 3])
    out[i - 2] = 1
  else
    out[i - 2] = 0
  end
end
if #fresh == 0 then return out end
redis.call('PEXPIRE', KEYS[2], window)
local limit = tonumber(ARGV[4])
if limit >= 0 and redis.call('ZCARD', KEYS[2]) > limit then
  for _, i in ipairs(fresh) do out[i - 2] = 2 end
  return out
end
for _, i in ipairs(fresh) do
  redis.call('SET', KEYS[i], '1', 'PX', ARGV[1])
  redis.call('XADD', KEYS[1], '*', 's', ARGV[5], 'id', ARGV[i + 3], 'r', 'alerts_v2', 'v', 'streaming', 'm', KEYS[i], 'w', ARGV[2])
end
return out`;

export class DefenderStreamingSource implements Source {
  readonly type = 'defender_streaming';
  readonly name: string;
  private readonly log: Logger;
  private sdk?: typeof import('@azure/event-hubs');
  private credential?: TokenCredential;
  private client?: EventHubConsumerClient;
  private subscription?: Subscription;
  /** Asks the hub whether it accepts the credential (run). */
  private probe?: EventHubConsumerClient;
  private loop?: Promise<void>;
  private readonly abort = new AbortController();
  /** Why the hub refuses the credential, while it does. */
  private refused?: string;
  /** Tenant id (lower-case GUID) → the `graph_security` source that reads its alerts. */
  private readonly tenants = new Map<string, string>();
  private readonly skipLogged = new Map<SkipReason, number>();
  /** When a burst was last logged, by graph source. */
  private readonly burstLogged = new Map<string, number>();
  /** `tables:`, the other streamed tables passed through as records. */
  private readonly tables: ReadonlySet<string>;
  private lastError?: { at: number; message: string };
  private stopped = false;

  constructor(
    readonly config: DefenderStreamingSourceConfig,
    private readonly ctx: SourceContext,
    private readonly graph: GraphClientRegistry,
    private readonly notifications: GraphNotifications,
  ) {
    this.name = config.name;
    this.tables = new Set(config.tables);
    this.log = ctx.logger.child({ component: 'defender-streaming', source: config.name });
  }

  /** Which tenants' events this source acts on, and with which Graph source (every source is created by now). */
  private resolveTenants(): void {
    const { graph_source: wanted } = this.config;
    // `graph_source` may name a source with tenants: each of its tenants (tenants.ts) is a candidate.
    const group = wanted ? [...this.graph.byName].filter(([name]) => groupOf(name) === wanted && name !== wanted) : [];
    const candidates = !wanted
      ? [...this.graph.byName]
      : group.length > 0
        ? group
        : [[wanted, this.graph.byName.get(wanted)] as const];
    for (const [name, entry] of candidates) {
      if (!entry)
        throw new Error(
          `defender_streaming source '${this.name}': graph_source '${name}' is not a graph_security source`,
        );
      if (!GUID.test(entry.tenantId)) {
        if (wanted && group.length === 0)
          throw new Error(
            `defender_streaming source '${this.name}': graph_source '${name}' names its tenant by domain (${entry.tenantId}); the stream's events carry the tenant's GUID: set tenant_id to it`,
          );
        continue;
      }
      const tenant = entry.tenantId.toLowerCase();
      if (!this.tenants.has(tenant)) this.tenants.set(tenant, name);
    }
    if (!this.tenants.size)
      this.log.warn(
        'no graph_security source with a tenant GUID: every streamed event will be skipped (unknown_tenant)',
      );
  }

  async start(): Promise<void> {
    this.resolveTenants();
    // Loaded here: a deployment without this source type does not load the client.
    this.sdk = await import('@azure/event-hubs');
    this.loop = this.run();
  }

  /** A client of the configured hub, with the configured credential. */
  private newClient(options: EventHubConsumerClientOptions, store?: CheckpointStore): EventHubConsumerClient {
    const { EventHubConsumerClient } = this.sdk!;
    const { config } = this;
    if (config.fully_qualified_namespace) {
      this.credential ??= createCredential({ ...config, auth: config.auth!, authority_url: config.authority_url! });
      return store
        ? new EventHubConsumerClient(
            config.consumer_group,
            config.fully_qualified_namespace,
            config.event_hub_name,
            this.credential,
            store,
            options,
          )
        : new EventHubConsumerClient(
            config.consumer_group,
            config.fully_qualified_namespace,
            config.event_hub_name,
            this.credential,
            options,
          );
    }
    const cs = config.connection_string ?? '';
    return store
      ? new EventHubConsumerClient(config.consumer_group, cs, config.event_hub_name, store, options)
      : new EventHubConsumerClient(config.consumer_group, cs, config.event_hub_name, options);
  }

  /**
   * Reads the hub while it accepts the credential. The SDK's processor does not report a refused credential: after
   * the hub answers 401 to its token it retries in silence, never calling `processError`, and reads nothing even
   * once the credential works again. So the source asks the hub itself (the partition ids: one management request,
   * by a client of its own that does not retry) before it subscribes and every `PROBE_INTERVAL_MS` after: a refusal
   * closes the subscription, makes the source unready with the hub's reason and logs it once; the source asks again
   * with backoff (`RETRY_MIN_MS` doubling to `RETRY_MAX_MS`, with fresh clients) and subscribes again once the hub
   * accepts. Other failures (the hub unreachable) are retried the same way but are warnings, not unreadiness.
   */
  private async run(): Promise<void> {
    let backoff = RETRY_MIN_MS;
    while (!this.stopped) {
      let wait = PROBE_INTERVAL_MS;
      try {
        this.probe ??= this.newClient({
          retryOptions: { maxRetries: 0, timeoutInMs: PROBE_TIMEOUT_MS },
          userAgent: 'alertbridge',
        });
        await this.probe.getPartitionIds({ abortSignal: this.abort.signal });
        this.credentialAccepted();
        backoff = RETRY_MIN_MS;
        this.subscription ??= this.subscribe();
      } catch (err) {
        if (this.stopped) break;
        const probe = this.probe;
        this.probe = undefined;
        await probe?.close().catch(() => undefined);
        const why = `${rootCause(err).message} [${errorCode(err)}]`;
        if (isRefusal(err)) {
          this.credentialRefused(why, backoff);
          await this.unsubscribe();
        } else {
          this.lastError = { at: Date.now(), message: why };
          this.log.warn({ err: why, retryInMs: backoff }, 'reaching the Event Hub failed; trying again');
        }
        wait = backoff;
        backoff = Math.min(backoff * 2, RETRY_MAX_MS);
      }
      await sleep(wait, undefined, { signal: this.abort.signal }).catch(() => undefined);
    }
  }

  private credentialRefused(why: string, retryInMs: number): void {
    this.ctx.metrics.streamingReady.set({ source: this.name }, 0);
    if (this.refused) return;
    this.refused = why;
    const what = this.config.fully_qualified_namespace
      ? `the app's Entra credential (tenant_id, client_id and its secret or certificate, and the role Azure Event Hubs Data Receiver on hub ${this.config.event_hub_name})`
      : `connection_string (its SharedAccessKeyName and SharedAccessKey: a policy with Listen on hub ${this.config.event_hub_name})`;
    this.log.error(
      { reason: why, retryInMs },
      `defender_streaming source '${this.name}': the Event Hub refuses its credential (${why}); nothing is read until it is accepted (asked again with backoff up to ${RETRY_MAX_MS / 1000} s). Check ${what}`,
    );
  }

  private credentialAccepted(): void {
    this.ctx.metrics.streamingReady.set({ source: this.name }, 1);
    if (this.refused === undefined) return;
    this.refused = undefined;
    this.log.info(`defender_streaming source '${this.name}': the Event Hub accepts its credential again; reading`);
  }

  private subscribe(): Subscription {
    const { config, sdk } = this;
    const { earliestEventPosition, latestEventPosition } = sdk!;
    const options = {
      retryOptions: { maxRetries: 5, retryDelayInMs: 1000 },
      userAgent: 'alertbridge',
      // The processor's id is the owner in the ownership records: this replica's, as in every other lease.
      identifier: this.ctx.replicaId,
      // A replica that died (kill -9) holds its partitions for `pipeline.takeover_ms`, like its leases; the live
      // ones renew theirs three times in that span. Greedy: a replica claims its whole fair share at once, instead
      // of one partition per interval (with `balanced`, a 4-partition hub took three intervals, ~30 s, to be read).
      loadBalancingOptions: {
        strategy: 'greedy' as const,
        partitionOwnershipExpirationIntervalInMs: this.ctx.takeoverMs,
        updateIntervalInMs: Math.max(250, Math.floor(this.ctx.takeoverMs / 3)),
      },
    };
    this.client = this.newClient(options, new RedisCheckpointStore(this.ctx.redis, this.ctx.keys));
    return this.client.subscribe(
      {
        processEvents: (events, context) => this.processEvents(events, context),
        processError: async (err, context) => {
          if (this.stopped) return;
          this.lastError = { at: Date.now(), message: err.message };
          this.log.warn(
            { err: err.message, partition: context.partitionId },
            'reading the Event Hub failed; the client retries',
          );
        },
      },
      {
        startPosition: config.start_position === 'earliest' ? earliestEventPosition : latestEventPosition,
        maxBatchSize: MAX_BATCH,
        // A partial batch goes on after 200 ms: the stream is the fast path, and a quiet partition should not hold
        // an alert back for a second.
        maxWaitTimeInSeconds: 0.2,
        skipParsingBodyAsJson: true,
      },
    );
  }

  /** Closes the subscription and its client (their partitions' ownership expires for the other replicas). */
  private async unsubscribe(): Promise<void> {
    const { subscription, client } = this;
    this.subscription = undefined;
    this.client = undefined;
    await subscription?.close().catch(() => undefined);
    await client?.close().catch(() => undefined);
  }

  /**
   * One batch of one partition: parse, queue the coalesced reads, wait for durability, then move the checkpoint. A
   * throw (Redis unreachable) leaves the checkpoint where it was; the SDK reports it and reads the events again.
   */
  private async processEvents(events: ReceivedEventData[], context: PartitionContext): Promise<void> {
    if (!events.length) return;
    const triggers: StreamTrigger[] = [];
    const rows: StreamRow[] = [];
    const tenants = new Set(this.tenants.keys());
    for (const event of events) {
      const parsed = parseStreamEvent(event.body, {
        tenants,
        tables: this.tables,
        maxBytes: this.config.max_event_bytes,
      });
      triggers.push(...parsed.triggers);
      rows.push(...parsed.rows);
      for (const skip of parsed.skipped) this.skipped(skip.reason, skip.detail, context, event);
    }
    // Rows of allow-listed tables go through dedup to the sinks that opt in; emit resolves once they are durable.
    if (rows.length) {
      const now = new Date();
      await this.ctx.emit(
        rows.map((row) => rowRecord(row, this.name, now)),
        { dedupTtlMs: this.config.tables_dedup_ttl_ms },
      );
    }
    await this.enqueue(coalesceTriggers(triggers));
    await this.ctx.waitDurable?.();
    await context.updateCheckpoint(events[events.length - 1]!);
  }

  private async enqueue(triggers: StreamTrigger[]): Promise<void> {
    const bySource = new Map<string, string[]>();
    for (const t of triggers) {
      const source = this.tenants.get(t.tenantId);
      if (source) bySource.set(source, [...(bySource.get(source) ?? []), t.alertId]);
    }
    for (const [source, ids] of bySource) {
      const graph = this.graph.byName.get(source);
      // The budget's default is the schema's (request_budget_per_minute); without alerts_v2 polling there is no poll.
      const singleReads = graph?.resources.includes('alerts_v2')
        ? (graph.requestBudgetPerMinute / 60) * POLL_NOW_SECONDS
        : -1;
      const keys = [
        this.notifications.stream,
        this.ctx.keys.streamingBurst(source),
        ...ids.map((id) => this.ctx.keys.streamingPending(source, id)),
      ];
      const args = [PENDING_TTL_MS, COALESCE_MS, POLL_NOW_SECONDS * 1000, singleReads, source, ...ids];
      const outcome = (await this.ctx.redis.eval(ENQUEUE, keys.length, ...keys, ...args)) as number[];
      const count = (o: number) => outcome.filter((x) => x === o).length;
      if (count(1)) this.ctx.metrics.streamingTriggers.inc({ source: this.name, outcome: 'queued' }, count(1));
      if (count(0)) this.ctx.metrics.streamingTriggers.inc({ source: this.name, outcome: 'coalesced' }, count(0));
      const burst = ids.filter((_, i) => outcome[i] === 2);
      if (burst.length) await this.pollNow(source, burst);
    }
  }

  /** Asks the source's alerts_v2 poller for a poll now, and marks the alerts as on their way. */
  private async pollNow(source: string, ids: string[]): Promise<void> {
    // Two steps, not one MULTI: the cursor and the markers live in different Redis Cluster slots (keys.ts). The poll
    // request first: a crash in between leaves no marker, and later events for these alerts are read again (deduped).
    await this.ctx.redis.hset(this.ctx.keys.cursor(source, 'alerts_v2'), 'poll_requested_at', Date.now());
    const multi = this.ctx.redis.multi();
    for (const id of ids) multi.set(this.ctx.keys.streamingPending(source, id), '1', 'PX', COALESCE_MS);
    await multi.exec();
    this.ctx.metrics.streamingTriggers.inc({ source: this.name, outcome: 'polled' }, ids.length);
    // One line per burst, not per batch of it (every partition's batches of one burst end here).
    const now = Date.now();
    if (now - (this.burstLogged.get(source) ?? 0) < POLL_NOW_SECONDS * 1000) return;
    this.burstLogged.set(source, now);
    this.log.info(
      { graphSource: source, alerts: ids.length },
      `a burst of new alerts (more than reads by id serve in ${POLL_NOW_SECONDS} s, over every partition): asked source '${source}' to poll alerts_v2 now instead of reading them one by one`,
    );
  }

  private skipped(reason: SkipReason, detail: string, context: PartitionContext, event: ReceivedEventData): void {
    this.ctx.metrics.streamingSkipped.inc({ source: this.name, reason });
    const now = Date.now();
    if (now - (this.skipLogged.get(reason) ?? 0) < SKIP_LOG_INTERVAL_MS) return;
    this.skipLogged.set(reason, now);
    this.log.warn(
      { reason, partition: context.partitionId, sequenceNumber: event.sequenceNumber },
      `skipped a streamed event: ${detail} (logged once a minute per reason; alertbridge_streaming_skipped_total counts them)`,
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop;
    await this.unsubscribe();
    await this.probe?.close().catch(() => undefined);
    this.probe = undefined;
  }

  /** Unready while the hub refuses the credential: nothing is read, and only an operator can fix it. */
  readiness(): Record<string, SourceCheck> {
    const why = this.refused;
    return {
      [`streaming:${this.name}`]:
        why === undefined ? { ok: true } : { ok: false, reason: `the Event Hub refuses its credential: ${why}` },
    };
  }

  /** The last read failure of the past five minutes (the client retries on its own). */
  async warnings(): Promise<Record<string, unknown>> {
    const e = this.lastError;
    return e && Date.now() - e.at < 300_000
      ? { [`streaming:${this.name}`]: { error: e.message, at: new Date(e.at).toISOString() } }
      : {};
  }
}

export const defenderStreamingSource: SourceFactory<DefenderStreamingSourceConfig, DefenderStreamingSource> = {
  type: 'defender_streaming',
  create(config, ctx) {
    return new DefenderStreamingSource(config, ctx, graphClientRegistry(ctx), graphNotifications(ctx));
  },
};

type SdkError = Error & { code?: string };

/** The innermost error (the SDK wraps some in AggregateError). */
function rootCause(err: unknown): SdkError {
  let e = err as SdkError;
  while (e instanceof AggregateError && e.errors.length > 0) e = e.errors[e.errors.length - 1] as SdkError;
  return e instanceof Error ? e : new Error(String(err));
}

const errorCode = (err: unknown): string => rootCause(err).code ?? rootCause(err).name;

/** The hub refuses the key or token (a wrong or revoked SAS key, no Listen claim), or Entra ID refuses the app. */
const isRefusal = (err: unknown): boolean => errorCode(err) === 'UnauthorizedError' || isEntraRefusal(rootCause(err));
