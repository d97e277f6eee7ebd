/** `alertbridge status` for people: the report as one screen of aligned tables. */
import type { ActiveCondition, StatusReport } from './collect.js';

/** `3s`, `4m05s`, `2h10m`, `3d4h`: short enough for a column. */
export function duration(seconds: number | null): string {
  if (seconds === null) return '-';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/** Control characters (a hostile error message could move the cursor or clear the screen) become `?`. */
function clean(text: string, max = 80): string {
  // eslint-disable-next-line no-control-regex
  const one = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function renderText(r: StatusReport): string {
  const out: string[] = [`alertbridge status  ${r.generated_at}  (redis prefix ${clean(r.key_prefix)})`, ''];
  out.push(
    r.replicas.length
      ? `Replicas (${r.replicas.length} live): ${r.replicas.map((x) => `${clean(x.id, 60)} (heartbeat ${duration(x.heartbeat_age_seconds)} ago)`).join(', ')}`
      : 'Replicas: none live (no daemon has sent a heartbeat within pipeline.takeover_ms)',
  );
  out.push('');
  const srcRows: string[][] = [];
  for (const s of r.sources) {
    const budget = s.budget ? `${s.budget.used_last_minute}/${s.budget.limit_per_minute}` : '-';
    if (!s.resources.length) srcRows.push([s.name, s.type, '-', '-', budget, '-', marker(s.conditions), '']);
    for (const res of s.resources) {
      srcRows.push([
        `${s.name}/${res.resource}`,
        res.state,
        res.last_poll_age_seconds === null ? 'never' : `${duration(res.last_poll_age_seconds)} ago`,
        duration(res.lag_seconds),
        budget,
        res.polling ? clean(res.polling, 40) : '-',
        marker(res.conditions),
        res.last_error ? clean(res.last_error) : '',
      ]);
    }
  }
  out.push(
    ...table(['SOURCE', 'STATE', 'LAST POLL', 'LAG', 'BUDGET/MIN', 'POLLING NOW', 'HEALTH', 'LAST ERROR'], srcRows),
  );
  for (const s of r.sources) {
    if (s.write_back) out.push(`  ${s.name} write-back: ${s.write_back.queued} queued, ${s.write_back.failed} failed`);
    for (const res of s.resources) {
      const lagging = Object.entries(res.lagging_providers);
      if (lagging.length)
        out.push(
          `  ${s.name}/${res.resource} lagging providers: ${lagging.map(([p, b]) => `${clean(p, 40)} since ${clean(b, 40)}`).join(', ')}`,
        );
    }
    if (s.partitions) {
      out.push(
        `  ${s.name} partitions: ${
          s.partitions.length
            ? s.partitions
                .map(
                  (p) =>
                    `${clean(p.partition, 10)}→${p.owner ? clean(p.owner, 40) : 'unowned'}${p.owner && !p.owner_live ? ' (not live)' : ''} @${p.checkpoint_sequence_number ?? '-'}`,
                )
                .join(', ')
            : 'none claimed yet'
        }`,
      );
    }
  }
  out.push('');
  out.push(
    ...table(
      ['SINK', 'TYPE', 'STATE', 'QUEUED', 'OLDEST', 'DEAD LETTERS', 'HEALTH', 'REASON'],
      r.sinks.map((s) => [
        s.name,
        s.type,
        s.state,
        String(s.queue.total),
        duration(s.oldest_queued_age_seconds),
        String(s.dead_letters),
        marker(s.conditions),
        s.reason ? clean(s.reason) : '',
      ]),
    ),
  );
  out.push('');
  if (!r.active_conditions.length) out.push('Health conditions: none active');
  else {
    out.push(`Health conditions (${r.active_conditions.length} active, docs/health.md):`);
    out.push(
      ...table(
        ['KIND', 'SEVERITY', 'SUBJECT', 'SINCE', 'LAST SEEN', 'DETAIL'],
        r.active_conditions.map((c) => [
          clean(c.kind, 30),
          clean(c.severity, 15),
          clean(subject(c), 60),
          clean(c.first_seen, 30),
          clean(c.last_seen, 30),
          clean(c.message + (c.last_detail ? ` ${JSON.stringify(c.last_detail)}` : ''), 120),
        ]),
      ),
    );
  }
  return out.join('\n') + '\n';
}

/** The HEALTH column: the kinds of the conditions that apply, `-` when none. */
function marker(kinds: readonly string[]): string {
  return kinds.length ? `! ${kinds.map((k) => clean(k, 30)).join(',')}` : '-';
}

/** `source/resource` (`*`: all its resources), with the provider of a gap; `sink:name`. */
export function subject(c: ActiveCondition): string {
  if (c.sink !== null) return `sink:${c.sink}`;
  return `${c.source ?? '?'}/${c.resource ?? '*'}${c.provider ? ` (${c.provider})` : ''}`;
}
