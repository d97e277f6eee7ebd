/**
 * `alertbridge demo`: the embedded default. The bundled Graph simulator (HTTPS, OAuth, realistic alerts created
 * and updated over time), a bundled Event Hubs endpoint (src/simulator/eventhubs/) into which the simulator
 * publishes the Defender XDR Streaming API's AlertInfo/AlertEvidence events of each new alert, a local redis-server
 * (spawned on a free port when REDIS_URL is unset), and the daemon with config/demo.yaml: a `defender_streaming`
 * source reads the hub and has each new alert read from Graph at once (`via: streaming`), while the `graph_security`
 * source polls the simulator every minute like a real tenant (the backlog at start, incidents, updates). Records flow
 * to stdout as NDJSON; logs and a progress line every 5 s (records in by path) go to stderr. On a terminal
 * (stdout a TTY) the view of demo-view.ts shows one line per record and a live footer instead, the records going to a
 * file it names.
 *
 * Ctrl-C signals the terminal's whole process group: the redis-server child runs in its own group, so that it is
 * still there while the daemon drains into it, and is stopped after the daemon. It is watched too (see
 * util/redis-server.ts): should this process die without stopping it, it stops by itself.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { loadConfigFile } from '../config/load.js';
import type { Metrics } from '../observability/metrics.js';
import { createLogger } from '../observability/logger.js';
import type { EventHubsPeer } from '../simulator/eventhubs/server.js';
import { DEMO_TENANT, type Simulator } from '../simulator/types.js';
import { startSimulatorWithEventHub } from '../simulator/with-event-hub.js';
import { freePort, RedisNotInstalledError, startRedisServer, type RedisServer } from '../util/redis-server.js';
import { CliExit, EXIT } from './common.js';
import { openDemoView } from './demo-view.js';
import type { StopResult } from '../app.js';
import { exitAfterStop, startDaemon, stopOnSignals } from './run.js';

/** config/demo.yaml of this package, found from here whether running from src/ (tsx) or dist/src/ (built). */
export function demoConfigPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'config', 'demo.yaml');
}

export interface DemoOptions {
  /** New alerts per second in the simulator. */
  rate: number;
  /** Stop once this many records were delivered (0 = until interrupted). */
  count: number;
  out?: string;
}

async function delivered(metrics: Metrics): Promise<number> {
  const m = await metrics.registry.getSingleMetric('alertbridge_records_delivered_total')?.get();
  return m ? m.values.reduce((a, v) => a + v.value, 0) : 0;
}

export async function demoCommand(opts: DemoOptions): Promise<void> {
  // On a terminal, one line per record and a live footer (demo-view.ts); elsewhere NDJSON on stdout.
  const out = opts.out ? resolve(opts.out) : undefined;
  const view = openDemoView(out);
  const log = view?.log ?? createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
  let redis: RedisServer | undefined;
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    try {
      redis = await startRedisServer();
    } catch (err) {
      if (err instanceof RedisNotInstalledError)
        throw new CliExit(EXIT.runtime, `alertbridge demo needs redis-server: ${err.message}`);
      throw err;
    }
    redisUrl = redis.url;
    log.info({ redis: redisUrl, pid: redis.process.pid }, 'started a local redis-server for the demo');
  }
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-demo-'));
  let sim: Simulator | undefined;
  let hub: EventHubsPeer | undefined;
  try {
    const started = await startSimulatorWithEventHub({
      dir,
      rate: opts.rate,
      initial: 10,
      seed: Date.now() % 100_000,
      updateRatio: 0.3,
    });
    ({ sim, hub } = started);
    const { hubName, connectionString: streamConnection } = started;
    log.info({ graph: sim.url, ca_file: sim.caFile, rate: opts.rate }, 'started the Graph simulator');
    log.info(
      { event_hub: `127.0.0.1:${hub.port}/${hubName}` },
      'started the Event Hubs endpoint the simulator streams AlertInfo/AlertEvidence events to (Defender XDR Streaming API)',
    );
    const env = {
      ...process.env,
      REDIS_URL: redisUrl,
      ALERTBRIDGE_PORT: String(await freePort()),
      ALERTBRIDGE_DEMO_OUT: view?.recordsPath ?? out ?? '-',
      SIM_URL: sim.url,
      SIM_CA_FILE: sim.caFile,
      SIM_TENANT_ID: DEMO_TENANT.tenantId,
      SIM_CLIENT_ID: DEMO_TENANT.clientId,
      SIM_CLIENT_SECRET: DEMO_TENANT.clientSecret,
      SIM_STREAM_CONNECTION_STRING: streamConnection,
    };
    const loaded = await loadConfigFile(demoConfigPath(), { env });
    if (!loaded.ok) throw new CliExit(EXIT.usage, loaded.errors.join('\n'));
    const app = await startDaemon(loaded.config, log);
    const stopped = stopOnSignals(app, log);
    view?.watch(app);
    const report = setInterval(() => void progress(app.metrics, log), 5000);
    let result: StopResult;
    try {
      if (opts.count > 0) {
        const enough = (async () => {
          while ((await delivered(app.metrics)) < opts.count) await new Promise((r) => setTimeout(r, 200));
        })();
        if (
          (await Promise.race([enough.then(() => 'enough' as const), stopped.then(() => 'stopped' as const)])) ===
          'enough'
        ) {
          await progress(app.metrics, log);
        }
      }
      result = opts.count > 0 ? await app.stop() : await stopped;
    } finally {
      clearInterval(report);
    }
    exitAfterStop(result, loaded.config.pipeline.drain_timeout_ms);
  } finally {
    // The children go last: the daemon has stopped (drained into this Redis) before its Redis and simulator do.
    await sim?.close();
    await hub?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
    await view?.close();
  }
}

/**
 * A counter's values summed by one label: records in by path (`via`: poll, streaming; before dedup), and what the
 * streamed events became (`outcome`: a read queued, coalesced into one, or a poll asked for in a burst).
 */
async function byLabel(metrics: Metrics, name: string, label: string): Promise<Record<string, number>> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  const out: Record<string, number> = {};
  for (const v of m?.values ?? []) out[String(v.labels[label])] = (out[String(v.labels[label])] ?? 0) + v.value;
  return out;
}

async function progress(metrics: Metrics, log: Logger): Promise<void> {
  const value = async (name: string) => {
    const m = await metrics.registry.getSingleMetric(name)?.get();
    return m ? m.values.reduce((a, v) => a + v.value, 0) : 0;
  };
  log.info(
    {
      ingested: await value('alertbridge_records_ingested_total'),
      by_path: await byLabel(metrics, 'alertbridge_records_ingested_total', 'via'),
      stream_triggers: await byLabel(metrics, 'alertbridge_streaming_triggers_total', 'outcome'),
      duplicates: await value('alertbridge_records_duplicate_total'),
      delivered: await delivered(metrics),
      graph_requests: await value('alertbridge_graph_requests_total'),
    },
    'demo progress',
  );
}
