/**
 * `alertbridge backfill --source S --since ISO`: a one-off history pull through the poller's cursorless path. The
 * records go through dedup into the queues, so a running daemon delivers them (or the next one started). The
 * source's cursor is left alone. On a terminal a progress line shows records fetched, pages and throttling waits;
 * otherwise plain log lines.
 *
 * A backfill that could not read everything exits 2 (runtime failure) and says what is missing: a provider Graph
 * reported as failed (206 Partial Content) in which time windows, with the command to re-run once it answers
 * (re-reading is cheap: what was already queued is deduplicated), or alerts beyond Graph's paging limits. It does
 * not retry by itself: a provider can fail for hours, and a backfill should end.
 */
import type { Logger } from 'pino';
import { buildApp } from '../app.js';
import type { Config } from '../config/schema.js';
import type { PollSummary } from '../sources/graph/poller.js';
import { CliExit, EXIT } from './common.js';

export interface BackfillOptions {
  source: string;
  since: string;
  resources?: string[];
  /** The config file, for the re-run command a partial backfill prints. */
  configPath?: string;
}

export async function backfillCommand(config: Readonly<Config>, log: Logger, opts: BackfillOptions): Promise<void> {
  const since = Date.parse(opts.since);
  if (Number.isNaN(since)) throw new CliExit(EXIT.usage, `--since: not an ISO 8601 time: "${opts.since}"`);
  const src = config.sources.find((s) => s.name === opts.source);
  if (!src) throw new CliExit(EXIT.usage, `--source: no source named "${opts.source}" in the config`);
  if (src.type !== 'graph_security')
    throw new CliExit(EXIT.usage, `--source: "${opts.source}" is a ${src.type} source; backfill reads Graph sources`);
  const app = buildApp(config, { logger: log, consume: false });
  const tty = process.stderr.isTTY;
  try {
    await app.start({ listen: false });
    const source = app.source('graph_security', opts.source)!;
    const pollers = source.pollers.filter((p) => !opts.resources?.length || opts.resources.includes(p.resource));
    if (!pollers.length)
      throw new CliExit(EXIT.usage, `--resource: the source reads ${source.config.resources.join(', ')}`);
    let failed = false;
    const incomplete: Array<{ resource: string; summary: PollSummary }> = [];
    for (const poller of pollers) {
      const started = Date.now();
      const progress = (s: { fetched: number; pages: number; accepted: number }): void => {
        const line = `${poller.resource}: ${s.fetched} fetched, ${s.accepted} new, ${s.pages} pages, ${source.client.stats.throttled} throttling waits (${(source.client.stats.waitedMs / 1000).toFixed(1)} s)`;
        if (tty) process.stderr.write(`\r${line}\x1b[K`);
        else if (s.pages % 10 === 0)
          log.info({ resource: poller.resource, ...s, throttled: source.client.stats.throttled }, 'backfill progress');
      };
      try {
        const { summary } = await poller.readWindow(since, progress);
        progress(summary);
        if (tty) process.stderr.write('\n');
        log.info({ resource: poller.resource, ...summary, ms: Date.now() - started }, 'backfill finished');
        if (summary.gap_windows.length || summary.overflow.length)
          incomplete.push({ resource: poller.resource, summary });
      } catch (err) {
        if (tty) process.stderr.write('\n');
        log.error({ resource: poller.resource, err: (err as Error).message }, 'backfill failed');
        failed = true;
      }
    }
    const problems = [
      ...(failed ? [`backfill of source '${opts.source}' failed for some resources (see the log)`] : []),
      ...(incomplete.length ? incompleteReport(opts, source.config.tenant_id, incomplete) : []),
    ];
    if (problems.length) throw new CliExit(EXIT.runtime, problems.join('\n'));
  } finally {
    await app.stop();
  }
}

/** What a backfill could not read, for the user: providers missing per window, and alerts past Graph's paging. */
function incompleteReport(
  opts: BackfillOptions,
  tenantId: string,
  incomplete: Array<{ resource: string; summary: PollSummary }>,
): string[] {
  const lines = [`backfill of source '${opts.source}' (tenant ${tenantId}) is incomplete:`];
  const gaps = incomplete.flatMap(({ resource, summary }) => summary.gap_windows.map((g) => ({ resource, ...g })));
  for (const g of gaps)
    lines.push(
      `  ${g.resource}: provider '${g.provider}' failed (206 Partial Content), its alerts updated from ${g.from} to ${g.to} were not read`,
    );
  for (const { resource, summary } of incomplete) {
    for (const o of summary.overflow) {
      lines.push(
        o.expected !== undefined
          ? `  ${resource}: Graph counted ${o.expected} objects updated ${o.to === o.at ? `at ${o.at}` : `from ${o.at}`} but its paging returned only ${o.read}`
          : `  ${resource}: provider '${o.provider}' has at least ${o.read} alerts with lastModifiedDateTime ${o.at}; Graph's paging reaches only the first ${o.read} (re-running does not help)`,
      );
    }
  }
  if (gaps.length) {
    const earliest = gaps.map((g) => g.from).sort()[0]!;
    const resources = [...new Set(gaps.map((g) => g.resource))].join(' ');
    lines.push(
      `re-run once the providers answer again: alertbridge backfill --config ${opts.configPath ?? '<file>'} --source ${opts.source} --since ${earliest} --resource ${resources} (records already queued are deduplicated, not delivered twice)`,
    );
  }
  return lines;
}
