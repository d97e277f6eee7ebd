/**
 * The status page: the report as one self-contained HTML page (no script, no external asset; inline style only).
 * Every value is escaped: source names, error messages, provider names and replica ids come from Redis, and some of
 * them from Graph or a peer (untrusted). Cells carry `data-field` so checks can read the figures back.
 */
import type { StatusReport } from './collect.js';
import { duration, subject } from './text.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const td = (field: string, value: unknown, title?: string): string =>
  `<td data-field="${escapeHtml(field)}"${title ? ` title="${escapeHtml(title)}"` : ''}>${escapeHtml(value)}</td>`;

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1b1b;background:#fff}
h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right}.muted{color:#666}
.s-ok,.s-ready{color:#17602a}.s-failing,.s-paused{color:#9a5b00;font-weight:600}.s-stuck,.s-no_replica{color:#a11;font-weight:600}
.warn{color:#a11;font-weight:600}
.err{font-family:ui-monospace,monospace;font-size:.9em;white-space:pre-wrap;word-break:break-word;max-width:40em}
`;

export function renderHtml(r: StatusReport, opts: { refreshSeconds?: number } = {}): string {
  const h: string[] = [];
  h.push('<!doctype html><html lang="en"><head><meta charset="utf-8">');
  h.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  if (opts.refreshSeconds) h.push(`<meta http-equiv="refresh" content="${Math.floor(opts.refreshSeconds)}">`);
  h.push(`<title>alertbridge status</title><style>${STYLE}</style></head><body>`);
  h.push(`<h1>alertbridge status</h1>`);
  h.push(
    `<p class="muted">At <time data-field="generated_at">${escapeHtml(r.generated_at)}</time> (Redis's clock), key prefix <code>${escapeHtml(r.key_prefix)}</code>. The same data as JSON: <a href="status.json">status.json</a>.</p>`,
  );

  h.push(`<h2>Replicas (<span data-field="replica_count">${r.replicas.length}</span> live)</h2>`);
  if (!r.replicas.length)
    h.push('<p>None: no daemon has sent a heartbeat within <code>pipeline.takeover_ms</code>.</p>');
  else {
    h.push('<table id="replicas"><tr><th>Replica</th><th>Host</th><th>PID</th><th>Started</th><th>Heartbeat</th></tr>');
    for (const x of r.replicas) {
      h.push(
        `<tr data-replica="${escapeHtml(x.id)}">${td('id', x.id)}${td('host', x.host)}${td('pid', x.pid)}${td('started_at', x.started_at)}${td('heartbeat_age', `${duration(x.heartbeat_age_seconds)} ago`, x.heartbeat_at)}</tr>`,
      );
    }
    h.push('</table>');
  }

  h.push('<h2>Sources</h2><table id="sources"><tr><th>Source</th><th>Resource</th><th>State</th><th>Last poll</th>');
  h.push('<th>Lag</th><th>Budget used / min</th><th>Polling now</th><th>Health</th><th>Last error</th></tr>');
  for (const s of r.sources) {
    const budget = s.budget ? `${s.budget.used_last_minute} / ${s.budget.limit_per_minute}` : '–';
    const rows = s.resources.length ? s.resources : [undefined];
    for (const res of rows) {
      const cells = res
        ? [
            td('resource', res.resource),
            `<td data-field="state" class="s-${escapeHtml(res.state)}">${escapeHtml(res.state)}</td>`,
            td(
              'last_poll',
              res.last_poll_age_seconds === null ? 'never' : `${duration(res.last_poll_age_seconds)} ago`,
              res.last_poll_at ?? undefined,
            ),
            `<td data-field="lag_seconds" data-value="${res.lag_seconds ?? ''}"${res.watermark ? ` title="watermark ${escapeHtml(res.watermark)}"` : ''}>${escapeHtml(duration(res.lag_seconds))}</td>`,
            td('budget', budget),
            td('polling', res.polling ?? '–'),
            conditionsCell(res.conditions),
            `<td data-field="last_error" class="err">${escapeHtml(res.last_error ?? '')}${
              Object.keys(res.lagging_providers).length
                ? `<br>lagging providers: ${Object.entries(res.lagging_providers)
                    .map(([p, b]) => `${escapeHtml(p)} since ${escapeHtml(b)}`)
                    .join(', ')}`
                : ''
            }</td>`,
          ]
        : [
            td('resource', s.type),
            td('state', '–'),
            td('last_poll', '–'),
            td('lag_seconds', '–'),
            td('budget', budget),
            td('polling', '–'),
            conditionsCell(s.conditions),
            td('last_error', ''),
          ];
      h.push(
        `<tr data-source="${escapeHtml(s.name)}"${res ? ` data-resource="${escapeHtml(res.resource)}"` : ''}>${td('source', s.name)}${cells.join('')}</tr>`,
      );
    }
  }
  h.push('</table>');
  for (const s of r.sources) {
    if (s.write_back)
      h.push(
        `<p data-source="${escapeHtml(s.name)}">Write-back of <b>${escapeHtml(s.name)}</b>: <span data-field="write_back_queued">${s.write_back.queued}</span> queued, <span data-field="write_back_failed">${s.write_back.failed}</span> failed.</p>`,
      );
    if (s.partitions) {
      h.push(`<h2>Partitions of ${escapeHtml(s.name)}</h2>`);
      if (!s.partitions.length) h.push('<p>None claimed yet.</p>');
      else {
        h.push(
          '<table><tr><th>Partition</th><th>Owner</th><th>Owner live</th><th>Owned since</th><th>Checkpoint</th></tr>',
        );
        for (const p of s.partitions)
          h.push(
            `<tr>${td('partition', p.partition)}${td('owner', p.owner ?? 'unowned')}${td('owner_live', p.owner_live ? 'yes' : 'no')}${td('owned_at', p.owned_at ?? '–')}${td('checkpoint', p.checkpoint_sequence_number ?? '–')}</tr>`,
          );
        h.push('</table>');
      }
    }
  }

  h.push('<h2>Sinks</h2><table id="sinks"><tr><th>Sink</th><th>Type</th><th>State</th><th>Queued batches</th>');
  h.push('<th>Oldest queued</th><th>Dead letters</th><th>Health</th><th>Reason</th></tr>');
  for (const s of r.sinks) {
    h.push(
      `<tr data-sink="${escapeHtml(s.name)}">${td('sink', s.name)}${td('type', s.type)}<td data-field="state" class="s-${escapeHtml(s.state)}">${escapeHtml(s.state)}</td>` +
        `<td class="n" data-field="queue_total" title="${escapeHtml(`waiting ${s.queue.waiting}, active ${s.queue.active}, delayed ${s.queue.delayed}, prioritized ${s.queue.prioritized}, failed ${s.queue.failed}`)}">${s.queue.total}</td>` +
        `${td('oldest_queued', duration(s.oldest_queued_age_seconds))}<td class="n" data-field="dead_letters">${s.dead_letters}</td>` +
        `${conditionsCell(s.conditions)}<td data-field="reason" class="err">${escapeHtml(s.reason ?? '')}</td></tr>`,
    );
  }
  h.push('</table>');

  h.push(`<h2>Health conditions (<span data-field="condition_count">${r.active_conditions.length}</span> active)</h2>`);
  if (!r.active_conditions.length) h.push('<p>None active.</p>');
  else {
    h.push('<table id="conditions"><tr><th>Kind</th><th>Severity</th><th>Subject</th><th>Since</th>');
    h.push('<th>Last seen</th><th>Seen</th><th>Detail</th></tr>');
    for (const c of r.active_conditions)
      h.push(
        `<tr data-condition="${escapeHtml(c.key)}">${td('kind', c.kind)}${td('severity', c.severity)}${td('subject', subject(c))}` +
          `${td('first_seen', c.first_seen)}${td('last_seen', c.last_seen)}<td class="n" data-field="observations">${escapeHtml(c.observations)}</td>` +
          `<td data-field="detail" class="err">${escapeHtml(c.message)}${c.last_detail ? `<br>${escapeHtml(JSON.stringify(c.last_detail))}` : ''}</td></tr>`,
      );
    h.push('</table>');
  }
  h.push('</body></html>');
  return h.join('\n');
}

/** The Health cell of a source, resource or sink row: the kinds of its active conditions (see the table below). */
function conditionsCell(kinds: readonly string[]): string {
  return kinds.length
    ? `<td data-field="conditions" class="warn">⚠ ${escapeHtml(kinds.join(', '))}</td>`
    : '<td data-field="conditions">–</td>';
}
