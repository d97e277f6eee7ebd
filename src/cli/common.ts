/** What every command shares: loading the config (exit 1 with every problem), logging, exit codes. */
import type { Logger } from 'pino';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../observability/logger.js';

/** CONTRACT.md exit codes. */
export const EXIT = { ok: 0, usage: 1, runtime: 2 } as const;

export class CliExit extends Error {
  override name = 'CliExit';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export async function loadOrExit(path: string): Promise<Readonly<Config>> {
  const res = await loadConfigFile(path);
  if (!res.ok) throw new CliExit(EXIT.usage, res.errors.join('\n'));
  return res.config;
}

export function loggerFor(config: Readonly<Config>): Logger {
  return createLogger({ level: config.log.level, format: config.log.format });
}
