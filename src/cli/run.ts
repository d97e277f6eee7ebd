/** `alertbridge run`: the daemon. SIGTERM/SIGINT stop ingest, drain in-flight deliveries, and exit 0. */
import type { Logger } from 'pino';
import { buildApp, type App } from '../app.js';
import type { Config } from '../config/schema.js';
import { CliExit, EXIT, safeUrl } from './common.js';

export async function startDaemon(config: Readonly<Config>, log: Logger, extra: { lockMs?: number } = {}): Promise<App> {
  const app = buildApp(config, { logger: log, lockMs: extra.lockMs });
  try {
    await app.start();
  } catch (err) {
    await app.stop().catch(() => undefined);
    throw new CliExit(EXIT.runtime, `starting alertbridge failed (redis ${safeUrl(config.redis.url)}): ${(err as Error).message}`);
  }
  log.info({ listen: app.address(), sinks: app.pipeline.sinkNames(), sources: config.sources.map((s) => s.name) }, 'alertbridge running');
  return app;
}

/** Resolves when a stop signal arrives and the app has drained. A second signal exits at once. */
export function stopOnSignals(app: App, log: Logger): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without waiting for the drain');
        process.exit(EXIT.runtime);
      }
      stopping = true;
      log.info({ signal }, 'stopping: draining in-flight deliveries');
      app.stop().then(() => {
        log.info('stopped');
        resolve();
      }, (err) => {
        log.error({ err }, 'error while stopping');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

export async function runCommand(config: Readonly<Config>, log: Logger): Promise<void> {
  const app = await startDaemon(config, log);
  await stopOnSignals(app, log);
}
