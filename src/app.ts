/**
 * buildApp(config) wires the pieces — Redis, pipeline, sinks, sources, HTTP server — without starting anything,
 * so tests can drive it (`app.server.inject()`) and the CLI can start and stop it. No process globals here.
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { plaintextSecrets } from './config/plaintext.js';
import type { Config, SourceType } from './config/schema.js';
import { createSink } from '../sinks/registry.js';
import type { Sink } from '../sinks/types.js';
import { sinkFormat } from './record/format.js';
import { Metrics } from './observability/metrics.js';
import { Pipeline, type PipelineSink } from './pipeline/pipeline.js';
import { Durability } from './pipeline/durability.js';
import { keysFor } from './pipeline/keys.js';
import { mintReplicaId } from './pipeline/replica.js';
import { HeartbeatWriter } from './pipeline/heartbeat.js';
import { checkRedis, connect, describeRedisFailure, RedisRequirementError } from './pipeline/redis.js';
import { buildServer, parseListen } from './server/server.js';
import { mountStatusPage } from './server/status-page.js';
import { collectStatus } from './status/collect.js';
import { createSources, findSource, type SourceOfType } from './sources/registry.js';
import type { Source } from './sources/types.js';
import { withTimeout } from './util/timeout.js';
import { HealthReporter } from './health/reporter.js';
import { SinkHealth } from './health/sinks.js';

export interface AppOptions {
  logger: Logger;
  /** Sinks built by the caller instead of the registry (tests, `demo`), keyed by sink name. */
  sinkOverrides?: Record<string, Sink>;
  /** Run the dispatcher and sink workers. False for `dlq` and other inspection commands. @defaultValue true */
  consume?: boolean;
  metrics?: Metrics;
}

export interface App {
  config: Readonly<Config>;
  pipeline: Pipeline;
  server: FastifyInstance;
  metrics: Metrics;
  redis: Redis;
  /** The configured sources, in config order. */
  sources: readonly Source[];
  /** The configured source `name` when it is of `type`, typed as that type's source (`graph_security` → GraphSource). */
  source<K extends SourceType>(type: K, name: string): SourceOfType[K] | undefined;
  /** Connects, checks Redis, starts sinks and workers, and listens (when `server.enabled`). */
  start(opts?: { listen?: boolean }): Promise<void>;
  /**
   * Stops ingest, drains in-flight deliveries, closes everything — all of it within `pipeline.drain_timeout_ms`
   * whatever state Redis and the sinks are in (plus at most QUIT_MS to say goodbye to Redis). Idempotent: every
   * call gets the same outcome. `drained: false` when the bound cut the drain short (unfinished batches stay queued
   * in Redis and are delivered after the next start).
   */
  stop(): Promise<StopResult>;
  /** The address the server listens on, once started. */
  address(): string | undefined;
}

export interface StopResult {
  drained: boolean;
}

/** How long a clean stop waits for Redis to acknowledge QUIT before dropping the connection. */
const QUIT_MS = 1000;
/** The bound of a stop after a start that failed. */
const NOT_STARTED_STOP_MS = 2000;

export function buildApp(config: Readonly<Config>, opts: AppOptions): App {
  const log = opts.logger;
  const metrics = opts.metrics ?? new Metrics();
  const redisCfg = config.redis;
  const takeoverMs = config.pipeline.takeover_ms;
  /** One name for this process wherever Redis tells replicas apart (consumer groups, leases). */
  const replicaId = mintReplicaId();
  const redis = connect(redisCfg, { name: 'alertbridge' });
  const queueRedis = connect(redisCfg, { blocking: true, name: 'alertbridge-queues' });
  const dispatchRedis = connect(redisCfg, { blocking: true, name: 'alertbridge-dispatch' });
  let started = false;
  /** Each connection's current error: logged once (not at every reconnection attempt), and the cause of a failed start. */
  const redisErrors = new Map<string, Error>();
  const watch = (name: string, conn: Redis): void => {
    conn.on('error', (err: Error) => {
      const same = redisErrors.get(name)?.message === err.message;
      redisErrors.set(name, err);
      // Before start, a failing start reports it (one line); only err.message: ioredis errors carry the command's arguments.
      if (started && !same)
        log.warn({ component: 'redis', connection: name, err: err.message }, 'redis connection error; reconnecting');
    });
    conn.on('ready', () => {
      if (redisErrors.delete(name) && started)
        log.info({ component: 'redis', connection: name }, 'redis connection restored');
    });
  };
  watch('commands', redis);
  watch('queues', queueRedis);
  watch('dispatch', dispatchRedis);
  /** Connections sources asked for (`ctx.connect`): the app reports their errors and closes them with its own. */
  const sourceConns: Redis[] = [];

  // security.require_tls refused these at validation; otherwise they are the operator's call, said once at start.
  for (const p of plaintextSecrets(config))
    log.warn({ component: p.component, host: p.host }, `${p.message} (security.require_tls: true refuses this)`);

  const sinks: PipelineSink[] = config.sinks.map((s) => ({
    sink: opts.sinkOverrides?.[s.name] ?? createSink(s, log, sinkFormat(s.format)),
    filter: s.filter,
    maxRecords: s.batch.max_records,
    runtime: {
      retry: s.retry,
      concurrency: s.concurrency,
      deadLetterMax: s.dead_letter.max_entries,
    },
  }));
  // Health conditions become records through the pipeline like any other (dedup, then the sinks that opt in).
  const health = new HealthReporter({
    redis,
    keys: keysFor(config.redis.key_prefix),
    emit: (records): Promise<unknown> => pipeline.emit(records),
    logger: log,
  });
  const reportWindows = new Map(config.sinks.map((s) => [s.name, s.dead_letter.report_window_ms]));
  const sinkHealth = new SinkHealth(health, reportWindows);
  const durability = new Durability(redis, config.redis.durability, log.child({ component: 'redis' }));
  const durable = durability.active ? durability : undefined;
  const pipeline = new Pipeline({
    durability: durable,
    prefix: config.redis.key_prefix,
    dedupTtlMs: config.pipeline.dedup_ttl_ms,
    dispatchBatchMax: config.pipeline.dispatch_batch_max,
    redis,
    queueRedis,
    dispatchRedis,
    sinks,
    metrics,
    logger: log,
    consume: opts.consume,
    takeoverMs,
    replicaId,
    sinkHealth,
  });

  // Sources come from their registry; each mounts its routes and reports readiness and warnings through the contract.
  const sources = createSources(config.sources, {
    emit: (records, opts) => pipeline.emit(records, opts),
    redis,
    connect(name) {
      const conn = connect(redisCfg, { blocking: true, name: `alertbridge-${name}` });
      watch(name, conn);
      sourceConns.push(conn);
      return conn;
    },
    prefix: config.redis.key_prefix,
    keys: keysFor(config.redis.key_prefix),
    metrics,
    logger: log,
    takeoverMs,
    replicaId,
    waitDurable: durable && (() => durable.wait()),
    publicUrl: config.server.public_url,
    health,
  });
  const components = [...sources.configured, ...sources.shared];

  let stopping = false;
  const sinksStarted = new Set<string>();
  const server = buildServer({
    maxBodyBytes: config.server.max_body_bytes,
    requestTimeoutMs: config.server.request_timeout_ms,
    metrics,
    logger: log,
    // Poll windows stuck for longer than their source's stuck_window_alert_ms, and the like.
    warnings: async () => Object.assign({}, ...(await Promise.all(components.map((c) => c.warnings?.() ?? {})))),
    readiness: async () => {
      const ping = await withTimeout(redis.ping(), 2000, 'pinging Redis').then(
        () => true,
        (err: Error) => `Redis does not answer: ${err.message}`,
      );
      const checks: Record<string, boolean | string> = { started: started && !stopping, redis: ping };
      for (const s of sinks) {
        checks[`sink:${s.sink.name}`] =
          sinksStarted.has(s.sink.name) && (s.sink.ready?.() !== false || (s.sink.notReadyReason?.() ?? false));
      }
      // Consumer loops that cannot make progress (Redis state gone and not recreatable, a read stuck): pushes would
      // be accepted and never delivered.
      const loops: Record<string, { ok: boolean; reason?: string }> = { ...pipeline.health() };
      if (started) for (const c of components) Object.assign(loops, c.readiness?.());
      for (const [name, status] of Object.entries(loops)) checks[name] = status.ok || (status.reason ?? false);
      return checks;
    },
  });
  for (const c of components) c.routes?.(server);
  // `GET /status`, `/status.json`: what runs now, read from Redis (the same report as `alertbridge status`).
  mountStatusPage(server, {
    enabled: config.server.status.enabled,
    token: config.server.status.token,
    tokenFile: config.server.status.token_file,
    listenHost: parseListen(config.server.listen).host,
    // The command connection: its commands are bounded by redis.command_timeout_ms, so a silent Redis is a 503.
    collect: () => collectStatus(config, redis),
  });
  // Tells `alertbridge status` (from any pod) that this replica is alive and in what state its sinks are.
  const heartbeat = new HeartbeatWriter(
    redis,
    keysFor(config.redis.key_prefix),
    replicaId,
    takeoverMs,
    () =>
      Object.fromEntries(
        sinks.map((s) => {
          const ready = sinksStarted.has(s.sink.name) && s.sink.ready?.() !== false;
          const reason = ready
            ? null
            : sinksStarted.has(s.sink.name)
              ? (s.sink.notReadyReason?.() ?? 'paused (the sink gives no reason)')
              : 'starting';
          return [s.sink.name, { ready, reason }];
        }),
      ),
    log.child({ component: 'heartbeat' }),
  );

  let stopped: Promise<StopResult> | undefined;
  /**
   * One deadline for the whole stop: a stage that cannot finish (Redis gone, so a blocked read or a BullMQ close
   * waits for a reconnection that never comes; a sink that never answers) is abandoned at the deadline and its
   * connections are dropped, so the process can exit.
   */
  async function stopAll(): Promise<StopResult> {
    stopping = true;
    // Nothing was delivering before a completed start: only clients to close, briefly.
    const drainMs = started
      ? config.pipeline.drain_timeout_ms
      : Math.min(config.pipeline.drain_timeout_ms, NOT_STARTED_STOP_MS);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), drainMs);
    });
    const bounded = async (work: () => Promise<unknown>): Promise<boolean> => {
      const done = work().then(
        () => 'done' as const,
        () => 'done' as const,
      );
      return (await Promise.race([done, deadline])) === 'done';
    };
    // Stop ingesting first: pollers finish or abandon their window (the cursor stays), the server stops accepting.
    const stopEach = (list: Source[]) =>
      Promise.all(list.map((c) => c.stop().catch((err) => log.warn({ err, source: c.name }, 'closing source'))));
    sinkHealth.close();
    let drained = await bounded(async () => {
      // First: a replica on its way out is no longer listed by `alertbridge status`.
      await heartbeat.stop();
      // The shared components (the notification worker, write-back) after the sources that use them.
      await stopEach(sources.configured);
      await stopEach(sources.shared);
      await server.close().catch((err) => log.warn({ err }, 'closing the HTTP server'));
    });
    drained =
      drained &&
      (await bounded(async () => {
        await pipeline.close();
        await Promise.all(
          sinks.map((s) => s.sink.close().catch((err) => log.warn({ err, sink: s.sink.name }, 'closing sink'))),
        );
      }));
    clearTimeout(timer);
    const conns = [redis, queueRedis, dispatchRedis, ...sourceConns];
    if (drained) {
      await Promise.all(
        conns.map((c) => withTimeout(c.quit(), QUIT_MS, 'closing a Redis connection').catch(() => c.disconnect())),
      );
    } else {
      if (started)
        log.warn(
          { drain_timeout_ms: drainMs },
          'drain timed out; unfinished batches stay queued and are retried on restart',
        );
      // Whatever still waits on Redis or a client is given up: its requests fail now instead of keeping the process.
      server.server.closeAllConnections();
      for (const c of conns) c.disconnect();
    }
    return { drained };
  }

  const app: App = {
    config,
    pipeline,
    server,
    metrics,
    redis,
    sources: sources.configured,
    source: (type, name) => findSource(sources.configured, type, name),
    async start(startOpts = {}) {
      await checkRedis(redis, log.child({ component: 'redis' })).catch((err: unknown) => {
        throw err instanceof RedisRequirementError
          ? err
          : describeRedisFailure(config.redis, err, redisErrors.get('commands'));
      });
      await durability.init();
      if (opts.consume !== false) {
        await Promise.all(
          sinks.map(async (s) => {
            await s.sink.start();
            sinksStarted.add(s.sink.name);
            metrics.sinkReady.set({ sink: s.sink.name }, 1);
          }),
        );
      }
      await pipeline.start();
      if (opts.consume !== false) {
        await Promise.all(components.map((c) => c.start()));
        sinkHealth.start(Math.min(15_000, Math.max(500, Math.min(...reportWindows.values()) / 2)));
      }
      started = true;
      if (opts.consume !== false) heartbeat.start();
      if (config.server.enabled && startOpts.listen !== false) {
        const { host, port } = parseListen(config.server.listen);
        await server.listen({ host, port });
      } else {
        await server.ready();
      }
    },
    stop() {
      stopped ??= stopAll();
      return stopped;
    },
    address() {
      const addr = server.server.address();
      if (!addr || typeof addr === 'string') return addr ?? undefined;
      return `${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
    },
  };
  return app;
}
