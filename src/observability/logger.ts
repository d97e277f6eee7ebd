/**
 * pino logging: JSON lines, pretty on a terminal. Logs go to stderr so that stdout stays clean for a file sink
 * writing NDJSON to `-`. Secrets are redacted by key name wherever they appear (config sections, errors, headers).
 */
import { pino, type Logger } from 'pino';
import { SECRET_KEYS } from '../config/fields.js';

/** Key names whose values never reach a log line: every secret of the config schema, and those of the wire. */
export const REDACTED_KEYS = [
  ...SECRET_KEYS,
  'authorization',
  'Authorization',
  'access_token',
  'clientState',
  'secret',
  'sasl',
  // ioredis errors carry the failed command with its arguments (`err.command.args`): AUTH's is the Redis password.
  'args',
];

/** Down to six levels: a logged config reaches `config.sources.0.webhook.client_state`. */
const REDACT_PATHS = REDACTED_KEYS.flatMap((k) => Array.from({ length: 7 }, (_, depth) => `${'*.'.repeat(depth)}${k}`));

export interface LogOptions {
  level?: string;
  format?: 'auto' | 'json' | 'pretty';
  /** Where JSON lines go (tests pass a stream); defaults to stderr. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? 'info';
  const pretty = opts.format === 'pretty' || (opts.format !== 'json' && !opts.destination && process.stderr.isTTY);
  const base = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'alertbridge' } };
  if (pretty) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' },
      },
    });
  }
  return pino(base, opts.destination ?? pino.destination({ fd: 2, sync: false }));
}
