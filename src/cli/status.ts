/**
 * `alertbridge status --config F [--json]`: what runs now — per source and resource the last poll, lag, budget and
 * last error; per sink ready or paused, queued batches, the oldest one's age and dead letters; the live replicas.
 * Read from Redis only (src/status/collect.ts), so it answers from any pod, with or without a daemon in it; it
 * writes nothing. `--json` prints the `alertbridge.status/v1` document (docs/operations.md).
 */
import type { Config } from '../config/schema.js';
import { connect } from '../pipeline/redis.js';
import { collectStatus } from '../status/collect.js';
import { renderText } from '../status/text.js';
import { CliExit, EXIT } from './common.js';

export interface StatusOptions {
  json?: boolean;
  out?: (text: string) => void;
}

export async function statusCommand(config: Readonly<Config>, opts: StatusOptions): Promise<void> {
  const out = opts.out ?? ((text: string) => process.stdout.write(text));
  const redis = connect(config.redis, { name: 'alertbridge-status' });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err)); // a failing command says why
  try {
    const report = await collectStatus(config, redis).catch((err: Error) => {
      const why = /timed out/i.test(err.message)
        ? ` (no answer within redis.command_timeout_ms, ${config.redis.command_timeout_ms} ms)`
        : lastError && lastError.message !== err.message
          ? ` (${lastError.message})`
          : '';
      throw new CliExit(EXIT.runtime, `alertbridge status: reading Redis failed: ${err.message}${why}`);
    });
    out(opts.json ? JSON.stringify(report, null, 2) + '\n' : renderText(report));
  } finally {
    redis.disconnect();
  }
}
