/** `alertbridge dlq list|replay|purge --sink NAME`: inspect and re-drive a sink's dead letters. */
import type { Logger } from 'pino';
import { buildApp } from '../app.js';
import type { Config } from '../config/schema.js';
import { CliExit, EXIT } from './common.js';

export interface DlqOptions {
  sink: string;
  limit?: number;
  offset?: number;
  out?: (line: string) => void;
}

export async function dlqCommand(
  action: 'list' | 'replay' | 'purge',
  config: Readonly<Config>,
  log: Logger,
  opts: DlqOptions,
): Promise<void> {
  if (!config.sinks.some((s) => s.name === opts.sink)) {
    throw new CliExit(
      EXIT.usage,
      `--sink: no sink named "${opts.sink}" in the config (sinks: ${config.sinks.map((s) => s.name).join(', ')})`,
    );
  }
  const out = opts.out ?? ((line: string) => process.stdout.write(line + '\n'));
  // Inspection only: no workers, no dispatcher, no HTTP server.
  const app = buildApp(config, { logger: log, consume: false });
  try {
    await app.start({ listen: false });
    const dlq = app.pipeline.deadLetters;
    if (action === 'list') {
      const entries = await dlq.list(opts.sink, opts.offset ?? 0, opts.limit ?? 100);
      for (const e of entries) out(JSON.stringify(e));
      const total = await dlq.count(opts.sink);
      process.stderr.write(`${entries.length} of ${total} dead letter(s) of sink '${opts.sink}' shown\n`);
    } else if (action === 'replay') {
      const n = await app.pipeline.replay(opts.sink, opts.limit);
      out(JSON.stringify({ sink: opts.sink, replayed: n }));
    } else {
      const n = await dlq.purge(opts.sink);
      out(JSON.stringify({ sink: opts.sink, purged: n }));
    }
  } finally {
    await app.stop();
  }
}
