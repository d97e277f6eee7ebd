/**
 * `alertbridge cursor list|skip`: the poll cursors of Graph sources. `list` prints each (source, resource) cursor —
 * watermark, failing streak, lagging legacy providers — and the skips made, as JSON lines. `skip` moves a window that
 * keeps failing past its bound (to `--to`, default now) and records who skipped what; the daemon logs it at its next
 * poll. Nothing between the old and the new watermark is read: `alertbridge backfill --since` can try again later.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { connect } from '../pipeline/redis.js';
import { cursorKey, listSkips, readCursor, skipCursor } from '../sources/graph/cursor.js';
import { CliExit, EXIT } from './common.js';

export interface CursorOptions {
  source?: string;
  resource?: string;
  to?: string;
  reason?: string;
  out?: (line: string) => void;
}

export async function cursorCommand(
  action: 'list' | 'skip',
  config: Readonly<Config>,
  log: Logger,
  opts: CursorOptions,
): Promise<void> {
  const graph = config.sources.flatMap((s) => (s.type === 'graph_security' ? [s] : []));
  // `list --source mssp` lists every tenant of a source with tenants; `skip` takes one (`mssp/fabrikam`).
  const sources = opts.source
    ? graph.filter((s) => s.name === opts.source || (action === 'list' && s.tenant_of?.source === opts.source))
    : graph;
  if (opts.source && !sources.length) {
    throw new CliExit(
      EXIT.usage,
      `--source: no graph_security source named "${opts.source}" in the config (${graph.map((s) => s.name).join(', ') || 'none'})`,
    );
  }
  const out = opts.out ?? ((line: string) => process.stdout.write(line + '\n'));
  const prefix = config.redis.key_prefix;
  const redis = connect(config.redis, { name: 'alertbridge-cursor' });
  redis.on('error', () => undefined); // a command failing says why
  try {
    if (action === 'list') {
      for (const s of sources) {
        for (const resource of s.resources.filter((r) => !opts.resource || r === opts.resource)) {
          const cursor = await readCursor(redis, cursorKey(prefix, s.name, resource));
          const failing =
            cursor.failing_since !== undefined
              ? {
                  failing_since: new Date(cursor.failing_since).toISOString(),
                  stuck: Date.now() - cursor.failing_since >= s.stuck_window_alert_ms,
                }
              : {};
          const { failing_since: _f, last_started_at, skipped_at: _s, ...rest } = cursor;
          out(
            JSON.stringify({
              source: s.name,
              resource,
              ...rest,
              ...failing,
              ...(last_started_at ? { last_started_at: new Date(last_started_at).toISOString() } : {}),
              skips: await listSkips(redis, prefix, s.name, resource),
            }),
          );
        }
      }
      return;
    }
    const source = sources[0];
    if (!opts.source || !source) throw new CliExit(EXIT.usage, '--source is required');
    if (!opts.resource || !source.resources.includes(opts.resource as never)) {
      throw new CliExit(EXIT.usage, `--resource: the source reads ${source.resources.join(', ')}`);
    }
    const to = opts.to === undefined ? new Date() : new Date(opts.to);
    if (Number.isNaN(to.getTime())) throw new CliExit(EXIT.usage, `--to: not an ISO 8601 time: "${opts.to}"`);
    if (to.getTime() > Date.now() + 60_000)
      throw new CliExit(
        EXIT.usage,
        `--to: ${opts.to} is in the future; a watermark past now would skip alerts not yet written`,
      );
    let skip;
    try {
      skip = await skipCursor(redis, prefix, source.name, opts.resource, to, opts.reason);
    } catch (err) {
      if (err instanceof RangeError) throw new CliExit(EXIT.usage, err.message);
      throw err;
    }
    log.warn(
      skip,
      `skipped the poll window of ${source.name}/${opts.resource}: alerts updated from ${skip.from ?? 'the initial lookback'} to ${skip.to} are not read`,
    );
    out(JSON.stringify(skip));
  } finally {
    redis.disconnect();
  }
}
