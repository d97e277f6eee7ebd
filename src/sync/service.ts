/**
 * Write-back of SIEM triage for every `graph_security` source with `sync.enabled`: the `/sync/{source}` routes and,
 * per source, its durable queue and the worker that applies it with the source's own Graph client (so the writes
 * spend the same per-tenant budget as the polls). A component shared by those sources (src/sources/types.ts): the
 * graph_security factory creates it with the first sync-enabled source and adds each one; the app runs it as a source.
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { GraphSourceConfig } from '../config/schema.js';
import type { Metrics } from '../observability/metrics.js';
import type { EmitResult } from '../pipeline/pipeline.js';
import type { AlertRecord } from '../record/types.js';
import type { GraphClient } from '../sources/graph/client.js';
import type { Source, SourceCheck } from '../sources/types.js';
import { SyncApplier } from './applier.js';
import { SyncKafkaInput } from './kafka-input.js';
import { SyncQueue, syncKeys, type SyncOutcome } from './queue.js';
import { registerSyncRoutes, type SyncRouteSource } from './route.js';

export interface SyncServiceOptions {
  redis: Redis;
  /** A new dedicated connection for blocking reads (one per source's worker). */
  connect: (name: string) => Redis;
  prefix: string;
  emit: (records: AlertRecord[]) => Promise<EmitResult>;
  emitOutcome?: (outcome: SyncOutcome) => Promise<void>;
  metrics: Metrics;
  logger: Logger;
  owner: string;
  takeoverMs: number;
  waitDurable?: () => Promise<void>;
}

export class SyncService implements Source {
  readonly name = 'sync';
  readonly type = 'sync';
  readonly routeSources: SyncRouteSource[] = [];
  private readonly appliers: SyncApplier[] = [];
  private readonly inputs: SyncKafkaInput[] = [];

  constructor(private readonly opts: SyncServiceOptions) {
    opts.metrics.addQueueDepthReader(() => this.depths());
  }

  /** Accepts and applies the write-back of a `sync.enabled` source (called before the routes are mounted). */
  add({ config, client }: { config: GraphSourceConfig; client: GraphClient }): void {
    const queue = new SyncQueue(this.opts.redis, syncKeys(this.opts.prefix, config.name));
    const routeSource: SyncRouteSource = {
      name: config.name,
      tenantId: config.tenant_id,
      auth: {
        token: config.sync.token,
        hmac_secret: config.sync.hmac_secret,
        hmac_replay_window_ms: config.sync.hmac_replay_window_ms,
      },
      queue,
    };
    this.routeSources.push(routeSource);
    if (config.sync.kafka) {
      this.inputs.push(
        new SyncKafkaInput({
          config: config.sync.kafka,
          source: routeSource,
          waitDurable: this.opts.waitDurable,
          metrics: this.opts.metrics,
          logger: this.opts.logger,
        }),
      );
    }
    this.appliers.push(
      new SyncApplier({
        source: config.name,
        tenantId: config.tenant_id,
        client,
        redis: this.opts.redis,
        blockingRedis: this.opts.connect(`sync-${config.name}`),
        prefix: this.opts.prefix,
        queue,
        emit: this.opts.emit,
        emitOutcome: this.opts.emitOutcome,
        metrics: this.opts.metrics,
        logger: this.opts.logger,
        owner: this.opts.owner,
        takeoverMs: this.opts.takeoverMs,
        maxAttempts: config.sync.max_attempts,
        requestTimeoutMs: config.request_timeout_ms,
        outcomeTtlMs: config.sync.outcome_ttl_ms,
      }),
    );
  }

  get active(): boolean {
    return this.appliers.length > 0;
  }

  routes(server: FastifyInstance): void {
    if (!this.active) return;
    registerSyncRoutes(server, {
      sources: this.routeSources,
      logger: this.opts.logger,
      waitDurable: this.opts.waitDurable,
      onRejected: (source, reason) => this.opts.metrics.syncRejected.inc({ source, reason }),
    });
  }

  /** One check per source's worker: a loop that cannot make progress makes the replica unready. */
  readiness(): Record<string, SourceCheck> {
    const out: Record<string, SourceCheck> = {};
    this.appliers.forEach((a, i) => {
      const { ok, reason } = a.status();
      out[`sync:${this.routeSources[i]!.name}`] = reason ? { ok, reason } : { ok };
    });
    return out;
  }

  async start(): Promise<void> {
    for (const a of this.appliers) a.start();
    // A broker that cannot be reached yet is retried in the background; it does not fail the app's start.
    for (const input of this.inputs) await input.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.inputs.map((i) => i.stop()));
    await Promise.all(this.appliers.map((a) => a.close()));
  }

  /** Changes waiting per source, for `alertbridge_queue_depth{queue="sync:{source}"}`. */
  async depths(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const s of this.routeSources) out[`sync:${s.name}`] = await s.queue.depth();
    return out;
  }
}
