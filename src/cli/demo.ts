/**
 * `alertbridge demo`: the embedded default. A local redis-server (spawned on a free port when REDIS_URL is unset),
 * the daemon with config/demo.yaml, and a feeder pushing realistic Graph alerts (new ones, updates, and repeats
 * that dedup absorbs) through the real partner-push route; records flow to stdout as NDJSON, logs to stderr.
 *
 * Until the Graph simulator lands, the feeder stands in for Graph; the path from HTTP to sink is the production one.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../observability/logger.js';
import { createAlertGenerator, type GraphObject } from '../simulator/generate.js';
import { freePort, RedisNotInstalledError, startRedisServer, type RedisServer } from '../util/redis-server.js';
import { CliExit, EXIT } from './common.js';
import { startDaemon, stopOnSignals } from './run.js';

export const DEMO_CONFIG = fileURLToPath(new URL('../../../config/demo.yaml', import.meta.url));

export interface DemoOptions {
  rate: number;
  count: number;
  out?: string;
}

interface FeedStats {
  sent: number;
  accepted: number;
  duplicates: number;
}

export async function demoCommand(opts: DemoOptions): Promise<void> {
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
  let redis: RedisServer | undefined;
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    try {
      redis = await startRedisServer();
    } catch (err) {
      if (err instanceof RedisNotInstalledError) throw new CliExit(EXIT.runtime, `alertbridge demo needs redis-server: ${err.message}`);
      throw err;
    }
    redisUrl = redis.url;
    log.info({ redis: redisUrl, dir: redis.dir }, 'started a local redis-server for the demo');
  }
  const token = randomBytes(16).toString('hex');
  const port = await freePort();
  const env = { ...process.env, REDIS_URL: redisUrl, ALERTBRIDGE_PORT: String(port), DEMO_PUSH_TOKEN: token, ALERTBRIDGE_DEMO_OUT: opts.out ?? '-' };
  const loaded = await loadConfigFile(DEMO_CONFIG, { env });
  if (!loaded.ok) throw new CliExit(EXIT.usage, loaded.errors.join('\n'));
  const app = await startDaemon(loaded.config, log, { lockMs: 5000 });
  const stats: FeedStats = { sent: 0, accepted: 0, duplicates: 0 };
  const url = `http://127.0.0.1:${port}/ingest/demo-push`;
  const stopped = stopOnSignals(app, log);
  const feeding = feed(url, token, opts, stats, log, () => app.metrics);
  const report = setInterval(() => void logProgress(app.metrics, stats, log), 5000);
  try {
    const finished = await Promise.race([feeding.then(() => 'fed' as const), stopped.then(() => 'stopped' as const)]);
    if (finished === 'fed') {
      // --count given: wait for the last records to reach the sink, then stop like SIGTERM would.
      const deadline = Date.now() + 30_000;
      while (!(await app.pipeline.idle()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await logProgress(app.metrics, stats, log);
      await app.stop();
    }
  } finally {
    clearInterval(report);
    await redis?.stop();
  }
}

async function logProgress(metrics: { registry: { getSingleMetric(n: string): unknown } }, stats: FeedStats, log: Logger): Promise<void> {
  const delivered = metrics.registry.getSingleMetric('alertbridge_records_delivered_total') as { get(): Promise<{ values: Array<{ value: number }> }> } | undefined;
  const total = delivered ? (await delivered.get()).values.reduce((a, v) => a + v.value, 0) : 0;
  log.info({ ...stats, delivered: total }, 'demo progress');
}

/** Pushes alerts at `rate` per second: ~70% new, ~20% updates of earlier ones, ~10% exact repeats. */
async function feed(url: string, token: string, opts: DemoOptions, stats: FeedStats, log: Logger, _m: unknown): Promise<void> {
  const gen = createAlertGenerator({ seed: Date.now() % 1_000_000, clock: () => new Date() });
  const recent: GraphObject[] = [];
  const interval = 1000 / Math.max(1, opts.rate);
  let n = 0;
  while (opts.count === 0 || n < opts.count) {
    const roll = n < 3 ? 0 : (n * 7919) % 10;
    let alert: GraphObject;
    if (roll < 7 || recent.length === 0) {
      alert = n % 4 === 3 ? gen.legacyAlert() : gen.alertV2();
    } else {
      const i = (n * 31) % recent.length;
      alert = roll < 9 ? gen.updated(recent[i]!) : recent[i]!;
    }
    recent.push(alert);
    if (recent.length > 50) recent.shift();
    try {
      const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(alert) });
      const body = (await res.json()) as { accepted?: number; duplicates?: number; error?: string };
      if (res.status === 202) {
        stats.accepted += body.accepted ?? 0;
        stats.duplicates += body.duplicates ?? 0;
      } else if (res.status === 503) {
        log.warn({ status: res.status }, 'demo feeder: server busy, retrying');
        continue;
      } else {
        log.error({ status: res.status, error: body.error }, 'demo feeder: push refused');
      }
    } catch (err) {
      log.debug({ err }, 'demo feeder stopped');
      return;
    }
    stats.sent++;
    n++;
    await new Promise((r) => setTimeout(r, interval));
  }
}
