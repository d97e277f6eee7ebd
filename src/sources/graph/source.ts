/**
 * A `graph_security` source: one tenant, one app registration, a poller per configured resource. Each source has
 * its own credential, client and pollers, so one tenant's bad credentials or throttling never stalls another.
 * With `webhook.enabled`, it also keeps a Graph subscription alive; the notifications it brings are received and
 * fetched by the shared notification component (notification-hub.ts), which the factory below registers it with;
 * with `sync.enabled`, its write-back is accepted and applied by the shared SyncService (src/sync/).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { GraphSourceConfig } from '../../config/schema.js';
import type { Metrics } from '../../observability/metrics.js';
import type { AlertRecord } from '../../record/types.js';
import type { EmitResult } from '../../pipeline/pipeline.js';
import { keysFor } from '../../pipeline/keys.js';
import type { Source, SourceFactory } from '../types.js';
import { RequestBudget, type BudgetWatch } from './budget.js';
import { GraphClient } from './client.js';
import { createCredential, trustedCa } from '../../entra/credential.js';
import { fetcherFor } from './fetchers.js';
import { graphClientRegistry } from './client-registry.js';
import { graphNotifications } from './notification-hub.js';
import { outcomeRecord } from '../../sync/outcome-record.js';
import { SyncService } from '../../sync/service.js';
import { Poller } from './poller.js';
import { sourceWide } from '../../health/conditions.js';
import type { HealthReporter } from '../../health/reporter.js';
import { SubscriptionManager } from './subscriptions.js';

/** What a Graph source takes from its `SourceContext` (tests build it directly, without an app). */
export interface GraphSourceDeps {
  redis: Redis;
  prefix: string;
  emit: (records: AlertRecord[]) => Promise<EmitResult>;
  metrics: Metrics;
  logger: Logger;
  /** `pipeline.takeover_ms`: how long a dead replica's poll and subscription leases block the others. */
  takeoverMs: number;
  /** This process's replica id (replica.ts): the owner of its leases. */
  replicaId: string;
  /** `redis.durability`'s wait after a cursor move (see Poller). */
  waitDurable?: () => Promise<void>;
  /** Health conditions (src/health/): coverage gaps, refusals, silence, an exhausted budget. */
  health?: HealthReporter;
  /** `server.public_url`: with `webhook.enabled`, the subscription's notification URL is built from it. */
  publicUrl?: string;
}

export class GraphSource implements Source {
  readonly type = 'graph_security';
  readonly name: string;
  readonly client: GraphClient;
  readonly pollers: Poller[];
  readonly subscriptions?: SubscriptionManager;

  constructor(
    readonly config: GraphSourceConfig,
    deps: GraphSourceDeps,
  ) {
    this.name = config.name;
    const log = deps.logger.child({ component: 'graph', source: config.name, tenant: config.tenant_id });
    const budget = new RequestBudget(
      deps.redis,
      keysFor(deps.prefix).budget(config.tenant_id, config.client_id ?? 'managed'),
      config.request_budget_per_minute,
      60_000,
      deps.health && budgetWatch(deps.health, config),
    );
    this.client = new GraphClient({
      source: config.name,
      tenantId: config.tenant_id,
      graphUrl: config.graph_url,
      credential: (dispatcher) => createCredential({ ...config, tenant_id: config.tenant_id }, dispatcher),
      budget,
      metrics: deps.metrics,
      logger: log,
      ca: trustedCa(config.ca_file),
      proxyUrl: config.proxy_url,
      timeoutMs: config.request_timeout_ms,
      maxResponseBytes: config.max_response_bytes,
    });
    this.pollers = config.resources.map(
      (resource) =>
        new Poller({
          source: config.name,
          tenantId: config.tenant_id,
          fetcher: fetcherFor(resource, config.page_size, config.filter),
          client: this.client,
          redis: deps.redis,
          prefix: deps.prefix,
          replicaId: deps.replicaId,
          emit: deps.emit,
          metrics: deps.metrics,
          logger: deps.logger,
          intervalMs: config.poll_interval_ms,
          cron: config.poll_schedule,
          overlapMs: config.overlap_ms,
          initialLookbackMs: config.initial_lookback_ms,
          futureSkewMs: config.future_skew_ms,
          stuckWindowAlertMs: config.stuck_window_alert_ms,
          rereadAfterMs: config.late_evidence.reread_after_ms,
          takeoverMs: deps.takeoverMs,
          afterCursorMove: deps.waitDurable,
          health: deps.health,
          expectAlertsWithinMs: config.expect_alerts_within_ms,
        }),
    );
    if (config.webhook.enabled && deps.publicUrl && config.webhook.client_state) {
      this.subscriptions = new SubscriptionManager({
        source: config.name,
        tenantId: config.tenant_id,
        client: this.client,
        redis: deps.redis,
        prefix: deps.prefix,
        replicaId: deps.replicaId,
        publicUrl: deps.publicUrl,
        clientState: config.webhook.client_state,
        resourceFilter: config.webhook.resource_filter,
        expirationMinutes: config.webhook.expiration_minutes,
        takeoverMs: deps.takeoverMs,
        logger: deps.logger,
      });
    }
  }

  async start(): Promise<void> {
    for (const p of this.pollers) p.start();
    this.subscriptions?.start();
  }

  async stop(): Promise<void> {
    await this.subscriptions?.close();
    await Promise.all(this.pollers.map((p) => p.close()));
    await this.client.close();
  }

  /** Poll windows failing for longer than `stuck_window_alert_ms` (read from the shared cursors, so any replica sees them). */
  async warnings(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const p of this.pollers) {
      const stuck = await p.stuck();
      if (stuck) out[`poll:${this.name}/${p.resource}`] = { stuck: true, ...stuck };
    }
    return out;
  }
}

/**
 * `budget_exhausted`: raised once the tenant's requests have all waited for a slot for `budget_exhausted_alert_ms`
 * (told at most every 10 s), cleared when one finds a slot at once.
 */
export function budgetWatch(
  health: HealthReporter,
  config: Pick<GraphSourceConfig, 'name' | 'tenant_id' | 'budget_exhausted_alert_ms' | 'request_budget_per_minute'>,
): BudgetWatch {
  const subject = sourceWide(config.name, config.tenant_id);
  let toldAt = 0;
  return {
    exhausted(ms) {
      if (ms < config.budget_exhausted_alert_ms || Date.now() - toldAt < 10_000) return;
      toldAt = Date.now();
      void health.observe(subject, [
        {
          kind: 'budget_exhausted',
          subject,
          message: `source '${config.name}' (tenant ${config.tenant_id}): the request budget (${config.request_budget_per_minute}/min) has been exhausted for ${Math.round(ms / 60_000)} min; polls fall behind`,
          detail: { request_budget_per_minute: config.request_budget_per_minute, exhausted_ms: ms },
        },
      ]);
    },
    available() {
      toldAt = 0;
      void health.observe(subject, [], { clears: ['budget_exhausted'] });
    },
  };
}

export const graphSecuritySource: SourceFactory<GraphSourceConfig, GraphSource> = {
  type: 'graph_security',
  create(config, ctx) {
    const source = new GraphSource(config, ctx);
    // Other sources (the Defender stream) read alerts of this tenant with this source's client and budget.
    graphClientRegistry(ctx).byName.set(source.name, {
      client: source.client,
      tenantId: config.tenant_id,
      resources: config.resources,
      requestBudgetPerMinute: config.request_budget_per_minute,
    });
    // Notifications need the clientState to tell Graph's from forged ones; the schema requires it with `enabled`.
    const { enabled, client_state: clientState } = config.webhook;
    if (enabled && clientState) {
      graphNotifications(ctx).add({
        name: source.name,
        tenantId: config.tenant_id,
        clientState,
        client: source.client,
        onLifecycle: (event, id) => source.subscriptions?.lifecycle(event, id),
      });
    }
    // Write-back of SIEM triage (`POST /sync/{source}`): one component for every sync-enabled source.
    if (config.sync.enabled) {
      const sync = ctx.shared(
        'graph-sync',
        () =>
          new SyncService({
            redis: ctx.redis,
            connect: (name) => ctx.connect(name),
            prefix: ctx.prefix,
            emit: (records) => ctx.emit(records),
            emitOutcome: async (outcome) => void (await ctx.emit([outcomeRecord(outcome)])),
            metrics: ctx.metrics,
            logger: ctx.logger,
            owner: ctx.replicaId,
            takeoverMs: ctx.takeoverMs,
            waitDurable: ctx.waitDurable,
          }),
      );
      sync.add({ config, client: source.client });
    }
    return source;
  },
};
