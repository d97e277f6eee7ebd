/**
 * `alertbridge backfill --source S --since ISO`: a one-off history pull through the poller's cursorless path. The
 * records go through dedup into the queues, so a running daemon delivers them (or the next one started). The
 * source's cursor is left alone. On a terminal a progress line shows records fetched, pages and throttling waits;
 * otherwise plain log lines.
 */
import type { Logger } from 'pino';
import { buildApp } from '../app.js';
import type { Config } from '../config/schema.js';
import { CliExit, EXIT } from './common.js';

export interface BackfillOptions {
  source: string;
  since: string;
  resources?: string[];
}

export async function backfillCommand(config: Readonly<Config>, log: Logger, opts: BackfillOptions): Promise<void> {
  const since = Date.parse(opts.since);
  if (Number.isNaN(since)) throw new CliExit(EXIT.usage, `--since: not an ISO 8601 time: "${opts.since}"`);
  const src = config.sources.find((s) => s.name === opts.source);
  if (!src) throw new CliExit(EXIT.usage, `--source: no source named "${opts.source}" in the config`);
  if (src.type !== 'graph_security') throw new CliExit(EXIT.usage, `--source: "${opts.source}" is a ${src.type} source; backfill reads Graph sources`);
  const app = buildApp(config, { logger: log, consume: false });
  const tty = process.stderr.isTTY;
  try {
    await app.start({ listen: false });
    const source = app.graphSources.find((g) => g.config.name === opts.source)!;
    const pollers = source.pollers.filter((p) => !opts.resources?.length || opts.resources.includes(p.resource));
    if (!pollers.length) throw new CliExit(EXIT.usage, `--resource: the source reads ${source.config.resources.join(', ')}`);
    let failed = false;
    for (const poller of pollers) {
      const started = Date.now();
      const progress = (s: { fetched: number; pages: number; accepted: number }): void => {
        const line = `${poller.resource}: ${s.fetched} fetched, ${s.accepted} new, ${s.pages} pages, ${source.client.stats.throttled} throttling waits (${(source.client.stats.waitedMs / 1000).toFixed(1)} s)`;
        if (tty) process.stderr.write(`\r${line}\x1b[K`);
        else if (s.pages % 10 === 0) log.info({ resource: poller.resource, ...s, throttled: source.client.stats.throttled }, 'backfill progress');
      };
      try {
        const { summary } = await poller.readWindow(since, progress);
        progress(summary);
        if (tty) process.stderr.write('\n');
        log.info({ resource: poller.resource, ...summary, ms: Date.now() - started }, 'backfill finished');
      } catch (err) {
        if (tty) process.stderr.write('\n');
        log.error({ resource: poller.resource, err: (err as Error).message }, 'backfill failed');
        failed = true;
      }
    }
    if (failed) throw new CliExit(EXIT.runtime, `backfill of source '${opts.source}' failed for some resources (see the log)`);
  } finally {
    await app.stop();
  }
}
