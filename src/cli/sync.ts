/**
 * `alertbridge sync`: queue one write-back change from a script or runbook, as `POST /sync/{source}` would (same
 * validation, same queue; the running daemon applies it), and print its id; `--wait` waits for the outcome.
 * `alertbridge sync status --id ID` prints a change and its outcome. Exit codes: 0 queued (with `--wait`: applied or
 * no-op), 1 invalid change or usage, 2 conflict, failed, Redis unreachable, or no outcome within `--timeout`.
 */
import type { Config, GraphSourceConfig } from '../config/schema.js';
import { connect } from '../pipeline/redis.js';
import { SyncQueue, syncKeys } from '../sync/queue.js';
import { queueChanges } from '../sync/route.js';
import { CliExit, EXIT } from './common.js';

export interface SyncCliOptions {
  source: string;
  key?: string;
  resource?: string;
  id?: string;
  status?: string;
  classification?: string;
  determination?: string;
  assignedTo?: string;
  comment?: string;
  tag?: string[];
  expectedRevision?: string;
  changeId?: string;
  wait?: boolean;
  timeout?: number;
  out?: (line: string) => void;
}

function sourceOf(config: Readonly<Config>, name: string): GraphSourceConfig {
  const graph = config.sources.flatMap((s) => (s.type === 'graph_security' ? [s] : []));
  const source = graph.find((s) => s.name === name);
  if (!source)
    throw new CliExit(
      EXIT.usage,
      `--source: no graph_security source named "${name}" in the config (${graph.map((s) => s.name).join(', ') || 'none'})`,
    );
  if (!source.sync.enabled) throw new CliExit(EXIT.usage, `--source: source "${name}" does not have sync.enabled`);
  return source;
}

export async function syncCommand(
  action: 'change' | 'status',
  config: Readonly<Config>,
  opts: SyncCliOptions,
): Promise<void> {
  const source = sourceOf(config, opts.source);
  const out = opts.out ?? ((line: string) => process.stdout.write(line + '\n'));
  const redis = connect(
    { url: config.redis.url, password: config.redis.password, tls: config.redis.tls },
    { name: 'alertbridge-sync-cli' },
  );
  redis.on('error', () => undefined); // a failing command says why
  const queue = new SyncQueue(redis, syncKeys(config.redis.key_prefix, source.name));
  try {
    let id = opts.id;
    if (action === 'change') {
      const item = Object.fromEntries(
        Object.entries({
          key: opts.key,
          resource: opts.resource,
          id: opts.id,
          status: opts.status,
          classification: opts.classification,
          determination: opts.determination,
          assigned_to: opts.assignedTo,
          comment: opts.comment,
          custom_tags: opts.tag,
          expected_revision: opts.expectedRevision,
          change_id: opts.changeId,
        }).filter(([, v]) => v !== undefined),
      );
      const r = await queueChanges(
        { name: source.name, tenantId: source.tenant_id, auth: { hmac_replay_window_ms: 0 }, queue },
        [item],
        'cli',
      );
      if (!r.ok) throw new CliExit(EXIT.usage, r.errors.map((e) => e.error).join('\n'));
      id = r.ids[0]!;
      out(JSON.stringify({ change_id: id, queued: r.accepted === 1 }));
      if (!opts.wait) return;
    } else if (!id) {
      throw new CliExit(EXIT.usage, 'sync status: --id is required');
    }
    const deadline = Date.now() + (opts.timeout ?? 60_000);
    for (;;) {
      const rec = await queue.get(id!);
      if (!rec) throw new CliExit(EXIT.runtime, `no change "${id}" in source "${source.name}" (unknown, or expired)`);
      if (action === 'status' || rec.outcome || Date.now() > deadline) {
        out(
          JSON.stringify({
            change_id: rec.id,
            state: rec.state,
            change: rec.change,
            requested_by: rec.requestedBy,
            requested_at: rec.requestedAt,
            attempts: rec.attempts,
            outcome: rec.outcome ?? null,
          }),
        );
        if (action === 'status') return;
        if (!rec.outcome)
          throw new CliExit(EXIT.runtime, `no outcome yet after ${opts.timeout ?? 60_000} ms (is the daemon running?)`);
        if (rec.outcome.outcome === 'conflict' || rec.outcome.outcome === 'failed')
          throw new CliExit(EXIT.runtime, `${rec.outcome.outcome}: ${rec.outcome.reason ?? ''}`);
        return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    redis.disconnect();
  }
}
