/**
 * `alertbridge run`: the daemon. SIGTERM/SIGINT/SIGHUP stop ingest and drain in-flight deliveries within
 * `pipeline.drain_timeout_ms`: exit 0 after a clean drain, 2 when the bound cut it short.
 */
import type { Logger } from 'pino';
import { buildApp, type App, type StopResult } from '../app.js';
import { retirementWarnings } from '../config/retirement.js';
import type { Config } from '../config/schema.js';
import { CliExit, EXIT } from './common.js';

export async function startDaemon(config: Readonly<Config>, log: Logger): Promise<App> {
  const app = buildApp(config, { logger: log });
  try {
    await app.start();
  } catch (err) {
    await app.stop().catch(() => undefined);
    // One line without secrets: app.start() words Redis failures itself (RedisUnavailableError); any other error is
    // reduced to its message, never its properties (a client error can carry a command's arguments).
    throw new CliExit(
      EXIT.runtime,
      `starting alertbridge failed: ${String((err as Error)?.message ?? err).split('\n')[0]}`,
    );
  }
  log.info(
    { listen: app.address(), sinks: app.pipeline.sinkNames(), sources: config.sources.map((s) => s.name) },
    'alertbridge running',
  );
  for (const line of retirementWarnings(config)) log.warn(line.replace(/^warning: /, ''));
  return app;
}

/** Signals that stop the daemon: SIGHUP too, as a closed terminal or `tmux kill-session` sends it. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
/** Beyond the drain bound, what a stop may still take (closing files, the demo's children) before the process exits anyway. */
const STOP_GRACE_MS = 10_000;

/**
 * Resolves when a stop signal arrives and the app has stopped (drained, or cut short by `pipeline.drain_timeout_ms`).
 * A second signal exits at once; and should anything still hang past the drain bound plus STOP_GRACE_MS, the
 * process exits anyway (EXIT.runtime).
 */
let stoppedBy: NodeJS.Signals | undefined;

/** The signal that stopped the daemon, if one did. */
export function stopSignal(): NodeJS.Signals | undefined {
  return stoppedBy;
}

export function stopOnSignals(app: App, log: Logger): Promise<StopResult> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      stoppedBy ??= signal;
      // A hung-up terminal sends SIGHUP more than once (the kernel, then the shell): only a second Ctrl-C or TERM hurries.
      if (stopping && signal === 'SIGHUP') return;
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without waiting for the drain');
        process.exit(EXIT.runtime);
      }
      stopping = true;
      log.info(
        { signal, drain_timeout_ms: app.config.pipeline.drain_timeout_ms },
        'stopping: draining in-flight deliveries',
      );
      setTimeout(() => {
        log.error({ signal }, 'stopping took longer than the drain timeout: exiting now');
        process.exit(EXIT.runtime);
      }, app.config.pipeline.drain_timeout_ms + STOP_GRACE_MS).unref();
      app.stop().then(
        (res) => {
          log.info({ drained: res.drained }, 'stopped');
          resolve(res);
        },
        (err) => {
          log.error({ err }, 'error while stopping');
          resolve({ drained: false });
        },
      );
    };
    for (const s of STOP_SIGNALS) process.on(s, onSignal);
  });
}

/** Exit code of a stop: 0 after a clean drain, 2 when the drain bound cut it short (the work stays queued). */
export function exitAfterStop(res: StopResult, drainMs: number): void {
  if (!res.drained) {
    throw new CliExit(
      EXIT.runtime,
      `stopped before the drain finished (pipeline.drain_timeout_ms ${drainMs}): unfinished deliveries stay queued in Redis and are sent after the next start`,
    );
  }
}

export async function runCommand(config: Readonly<Config>, log: Logger): Promise<void> {
  const app = await startDaemon(config, log);
  exitAfterStop(await stopOnSignals(app, log), config.pipeline.drain_timeout_ms);
}
