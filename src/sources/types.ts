/**
 * The source contract: what the app knows of a source, whatever it reads (a Graph poll, a partner push, a stream).
 *
 * Modelled on the OpenTelemetry Collector's receivers: a factory per config `type` (src/sources/registry.ts) builds
 * one source per configured entry, handing it a {@link SourceContext}; the app then only calls the lifecycle below.
 * A source never reaches into the app, and the app never reaches into a source: routes, readiness and warnings are
 * collected through this interface, Redis connections through the context.
 */
import type { HealthReporter } from '../health/reporter.js';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { Keys } from '../pipeline/keys.js';
import type { EmitOptions, EmitResult } from '../pipeline/pipeline.js';
import type { AlertRecord } from '../record/types.js';

/** One readiness check of a source: `ok: false` makes the replica unready, and `reason` says why in `/readyz`. */
export interface SourceCheck {
  ok: boolean;
  reason?: string;
}

export interface Source {
  /** The configured name (`sources[].name`); for a shared component, what it is called in logs. */
  readonly name: string;
  /** The config `type` it was built for (`graph_security`, `webhook`, …). */
  readonly type: string;
  /**
   * Starts reading. Returns quickly: long-running work (poll loops, stream consumers) runs in the background, and a
   * failure to reach a peer is retried and reported through {@link readiness}, not thrown. A throw fails the start
   * of the whole app (use it for what a retry cannot fix).
   */
  start(): Promise<void>;
  /**
   * Stops reading: in-flight work finishes or is abandoned so that it is read again later (a poll window's cursor
   * stays where it was, an unacknowledged stream entry stays pending). Idempotent, safe without {@link start}, and
   * bounded: the app gives all sources together a share of `pipeline.drain_timeout_ms` and drops their Redis
   * connections at the deadline, so a stop that waits on Redis returns once they are dropped.
   */
  stop(): Promise<void>;
  /**
   * Mounts the HTTP routes this source answers, under the paths CONTRACT.md fixes. Called once, after every source
   * was created and before the server listens. A route family shared by several sources (one `/ingest/:source` for
   * all push sources) is mounted by a shared component (see {@link SourceContext.shared}), not by each source.
   */
  routes?(server: FastifyInstance): void;
  /**
   * Readiness checks, by check name (shown in `/readyz`): loops that cannot make progress (a consumer whose Redis
   * state is gone, a read stuck on a dead connection). Asked only once the app has started.
   */
  readiness?(): Record<string, SourceCheck>;
  /**
   * Conditions an operator must see that do not make the replica unready (a poll window failing for an hour while
   * everything else works), by name; shown as `warnings` in `/readyz`.
   */
  warnings?(): Promise<Record<string, unknown>>;
}

/** What the app hands every source it creates. Everything a source needs from outside itself comes from here. */
export interface SourceContext {
  /** Dedups and queues records for the sinks; resolves once they are durably in Redis. */
  emit(records: AlertRecord[], opts?: EmitOptions): Promise<EmitResult>;
  /** The shared command connection (no blocking commands on it: every component's commands queue behind them). */
  redis: Redis;
  /**
   * A dedicated connection for blocking reads (XREADGROUP BLOCK, BRPOP), named `alertbridge-<name>` in CLIENT LIST.
   * The app owns it: it reports its errors, and quits it (or drops it at the stop deadline) after the source stopped.
   * Call it when the source is created, not on every start.
   */
  connect(name: string): Redis;
  /** `redis.key_prefix`: every key a source writes starts with `<prefix>:`. */
  prefix: string;
  /** Every key under `prefix` (src/pipeline/keys.ts): a source builds none by hand. */
  keys: Keys;
  metrics: Metrics;
  logger: Logger;
  /** `pipeline.takeover_ms`: how long a silent replica's leases and pending work block the others. */
  takeoverMs: number;
  /** This process among the replicas (lease owner, consumer name). */
  replicaId: string;
  /**
   * `redis.durability`: resolves once what this replica wrote is on replicas or disk as configured; undefined when
   * durability is off. A source that moves a checkpoint past emitted records waits for it first.
   */
  waitDurable?: () => Promise<void>;
  /** `server.public_url`, when set: the URL peers reach this deployment at (Graph subscriptions' notification URL). */
  publicUrl?: string;
  /** Health conditions as records for the sinks that opt in (src/health/). */
  health?: HealthReporter;
  /**
   * One component shared by several sources, created on first use under `key` and returned to every later caller
   * (the OpenTelemetry Collector's sharedcomponent): the route family all push sources answer on, the Graph
   * notification stream and its fetch worker. The app starts, stops and asks it like a source — after the sources
   * that use it when stopping.
   */
  shared<T extends Source>(key: string, create: () => T): T;
}

/** Builds the source of one configured entry of its `type`; registered in src/sources/registry.ts. */
export interface SourceFactory<C extends { type: string; name: string }, S extends Source = Source> {
  readonly type: C['type'];
  create(config: C, ctx: SourceContext): S;
}
