/**
 * `alertbridge demo` on a terminal: one line per record and a live footer, instead of raw NDJSON interleaved with
 * log blocks. Used only when stdout is a TTY; otherwise the demo prints NDJSON on stdout as before (scripts rely on it).
 *
 * - The file sink writes the full records to a file (`--out`, or `records.ndjson` in a folder of its own under the
 *   temp dir, kept after the demo); the view tails that file, so every line on screen is a record a sink delivered.
 * - The footer (ingested, duplicates, delivered, Graph requests, budget) is read from the daemon's own metrics
 *   registry and, for the budget, from the tenant's request window in Redis; redrawn in place, one line, never wider
 *   than the terminal (it follows SIGWINCH, read through `columns`).
 * - Logs go to `demo.log` beside the records; warnings and errors are also printed above the footer, one line each.
 * - Colour unless NO_COLOR is set (https://no-color.org) or TERM is `dumb`. Text from records is stripped of control
 *   characters: a title carrying escape sequences cannot drive the terminal.
 */
import { createWriteStream, mkdtempSync, statSync, type WriteStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { App } from '../app.js';
import { keysFor } from '../pipeline/keys.js';
import { createLogger } from '../observability/logger.js';
import type { FieldChange } from '../record/changes.js';
import { withTimeout } from '../util/timeout.js';

/** A piece of a line and its SGR style (`31` red, `1;31` bold red, …); styles apply only when colour is on. */
interface Seg {
  text: string;
  style?: string;
}

export interface LineOptions {
  /** Terminal width: a line never takes more than `columns - 1` (the last column would leave the cursor in wrap state). */
  columns: number;
  color: boolean;
}

/** The record fields the view shows (a subset of AlertRecord, read from NDJSON, so everything may be missing). */
export interface ShownRecord {
  resource?: string;
  provider?: string;
  severity?: string;
  title?: string | null;
  via?: string;
  ingested_at?: string;
  changes?: FieldChange[];
}

export interface FooterStats {
  ingested: number;
  byPath: Record<string, number>;
  duplicates: number;
  delivered: number;
  graphRequests: number;
  /** Requests in the tenant's last minute against `request_budget_per_minute`; absent without a Graph source. */
  budget?: { used: number; limit: number };
}

/** Colour unless NO_COLOR is set to anything non-empty or the terminal is `dumb`. */
export function colorWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return !env.NO_COLOR && env.TERM !== 'dumb';
}

const SEVERITY: Record<string, { word: string; style?: string }> = {
  high: { word: 'high', style: '1;31' },
  medium: { word: 'medium', style: '33' },
  low: { word: 'low', style: '36' },
  informational: { word: 'info', style: '2' },
};

/** Short product names for Graph's `serviceSource`/provider values; others are shown as they come. */
const PRODUCTS: Record<string, string> = {
  microsoft365Defender: 'Defender XDR',
  microsoftDefenderForEndpoint: 'Defender Endpoint',
  microsoftDefenderForIdentity: 'Defender Identity',
  microsoftDefenderForOffice365: 'Defender Office365',
  microsoftDefenderForCloudApps: 'Defender Cloud Apps',
  microsoftDefenderForCloud: 'Defender for Cloud',
  microsoftDefenderForServers: 'Defender Servers',
  microsoftDefenderForStorage: 'Defender Storage',
  azureAdIdentityProtection: 'Entra ID Protection',
  microsoftSentinel: 'Sentinel',
};

/** Control characters (C0, DEL, C1) become spaces: record text never reaches the terminal as escape sequences. */
function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

/** Combining marks, zero-width joiner, variation selectors: they take no column of their own. */
const ZERO_WIDTH = /^(?:\p{Mn}|\p{Me}|\u200d|[\ufe00-\ufe0f])$/u;
/** East Asian wide and fullwidth characters, and emoji: two columns (counting a rare narrow one as two only cuts early). */
const WIDE =
  /^(?:[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]|[\u{1f300}-\u{1faff}\u{20000}-\u{3fffd}])$/u;

/** Terminal columns one character takes. */
function cells(ch: string): number {
  return ZERO_WIDTH.test(ch) ? 0 : WIDE.test(ch) ? 2 : 1;
}

function width(text: string): number {
  let w = 0;
  for (const ch of text) w += cells(ch);
  return w;
}

/** Columns a terminal gives a line of `fit`: its SGR sequences take none. */
export function visibleLength(line: string): number {
  // eslint-disable-next-line no-control-regex
  return width(line.replace(/\x1b\[[0-9;]*m/g, ''));
}

/** The start of `text` that fits in `columns`, and its width. */
function cut(text: string, columns: number): { text: string; width: number } {
  let w = 0;
  let out = '';
  for (const ch of text) {
    if (w + cells(ch) > columns) break;
    out += ch;
    w += cells(ch);
  }
  return { text: out, width: w };
}

function pad(text: string, columns: number): string {
  const w = width(text);
  return w >= columns ? cut(text, columns).text : text + ' '.repeat(columns - w);
}

/** Joins segments, cut to `columns - 1` columns (an ellipsis marks the cut), styled when colour is on. */
export function fit(segs: Seg[], opts: LineOptions): string {
  let room = Math.max(1, opts.columns - 1);
  let out = '';
  for (const seg of segs) {
    if (room <= 0) break;
    let text = clean(seg.text);
    let w = width(text);
    if (w > room) {
      const head = cut(text, room - 1);
      text = `${head.text}…`;
      w = head.width + 1;
      room = 0;
    } else {
      room -= w;
    }
    out += opts.color && seg.style ? `\x1b[${seg.style}m${text}\x1b[0m` : text;
  }
  return out;
}

function clock(iso: string | null | undefined): string {
  const d = iso ? new Date(iso) : new Date();
  const t = Number.isNaN(d.getTime()) ? new Date() : d;
  return [t.getHours(), t.getMinutes(), t.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

function value(v: unknown): string {
  if (v === null || v === undefined || v === '') return '–';
  if (Array.isArray(v)) return `${v.length} item${v.length === 1 ? '' : 's'}`;
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/**
 * One record: when alertbridge took it in (the alert's own times are in the file), severity, new/updated, the path that brought it,
 * the product (from 90 columns up), the title, and for updates what changed.
 */
export function recordLine(r: ShownRecord, opts: LineOptions): string {
  const updated = Array.isArray(r.changes);
  const sev = SEVERITY[r.severity ?? ''] ?? { word: r.severity ?? 'unknown' };
  const segs: Seg[] = [
    { text: `${clock(r.ingested_at)} `, style: '2' },
    { text: pad(sev.word, 7), style: sev.style },
    { text: pad(updated ? 'updated' : 'new', 8), style: updated ? '35' : '32' },
    { text: pad(r.via ?? '?', 10), style: '2' },
  ];
  if (opts.columns >= 90) {
    const product = PRODUCTS[r.provider ?? ''] ?? r.provider ?? '?';
    segs.push({ text: pad(product, 20) + ' ', style: '34' });
  }
  const kind =
    r.resource === 'incidents' ? 'incident: ' : r.resource && r.resource !== 'alerts_v2' ? `${r.resource}: ` : '';
  segs.push({ text: `${kind}${r.title ?? '(no title)'}` });
  if (updated) {
    const what = r.changes!.map((c) => `${c.field} ${value(c.from)}→${value(c.to)}`).join(', ');
    segs.push({ text: `  ${what || 'no triage field changed'}`, style: '35' });
  }
  return fit(segs, opts);
}

/** The footer: what the daemon counted so far. */
export function footerLine(s: FooterStats, opts: LineOptions): string {
  const paths = Object.entries(s.byPath)
    .filter(([, n]) => n > 0)
    .map(([via, n]) => `${via} ${n}`)
    .join(', ');
  const parts = [
    `ingested ${s.ingested}${paths ? ` (${paths})` : ''}`,
    `duplicates ${s.duplicates}`,
    `delivered ${s.delivered}`,
    `Graph requests ${s.graphRequests}`,
    ...(s.budget ? [`budget ${s.budget.used}/${s.budget.limit} per min`] : []),
  ];
  // Two columns short of `fit`'s room: the terminal echoes Ctrl-C as `^C` after it, which must not wrap the line.
  return fit([{ text: `▌ ${parts.join(' · ')} `, style: '7' }], { ...opts, columns: opts.columns - 2 });
}

/** A pino JSON line of level warn or above, as one line: time, level, message, the error's first line. */
export function logLine(entry: Record<string, unknown>, opts: LineOptions): string {
  const level = Number(entry.level);
  const word = level >= 50 ? 'ERROR' : 'WARN';
  const err = entry.err as { message?: unknown } | string | undefined;
  const reason = typeof err === 'string' ? err : typeof err?.message === 'string' ? err.message : undefined;
  const where = [entry.component, entry.source, entry.sink].filter((v) => typeof v === 'string').join('/');
  return fit(
    [
      { text: `${clock(new Date(Number(entry.time) || Date.now()).toISOString())} `, style: '2' },
      { text: pad(word, 6), style: level >= 50 ? '1;31' : '33' },
      { text: where ? `[${where}] ` : '', style: '2' },
      { text: `${String(entry.msg ?? '')}${reason ? `: ${reason.split('\n')[0]}` : ''}` },
    ],
    opts,
  );
}

async function sum(app: App, name: string): Promise<number> {
  const m = await app.metrics.registry.getSingleMetric(name)?.get();
  return m ? m.values.reduce((a, v) => a + v.value, 0) : 0;
}

/** Reads the footer's figures from the app's metrics registry, and the budget window from Redis. */
export async function readStats(app: App): Promise<FooterStats> {
  const ingested = await app.metrics.registry.getSingleMetric('alertbridge_records_ingested_total')?.get();
  const byPath: Record<string, number> = {};
  for (const v of ingested?.values ?? []) byPath[String(v.labels.via)] = (byPath[String(v.labels.via)] ?? 0) + v.value;
  const stats: FooterStats = {
    ingested: Object.values(byPath).reduce((a, n) => a + n, 0),
    byPath,
    duplicates: await sum(app, 'alertbridge_records_duplicate_total'),
    delivered: await sum(app, 'alertbridge_records_delivered_total'),
    graphRequests: await sum(app, 'alertbridge_graph_requests_total'),
  };
  const graph = app.config.sources.find((s) => s.type === 'graph_security' && s.tenant_id);
  if (graph && graph.type === 'graph_security' && graph.tenant_id) {
    // The window of budget.ts: a sorted set of request times (ms); those of the last 60 s count.
    const key = keysFor(app.config.redis.key_prefix).budget(graph.tenant_id, graph.client_id ?? 'managed');
    const used = await withTimeout(app.redis.zcount(key, Date.now() - 60_000, '+inf'), 1000, 'the budget').catch(
      () => undefined, // Redis gone (the demo is stopping): the footer keeps the other figures
    );
    if (used !== undefined) stats.budget = { used, limit: graph.request_budget_per_minute };
  }
  return stats;
}

/** The terminal view of one demo run. */
export class DemoView {
  readonly dir: string;
  readonly logPath: string;
  /** The file sink's path: `--out`, else `records.ndjson` in a folder of its own, kept after the demo (unlike its work folder). */
  readonly recordsPath: string;
  readonly log: Logger;
  private readonly logFile: WriteStream;
  private readonly color = colorWanted();
  private app?: App;
  private file?: FileHandle;
  private offset = 0;
  private partial = '';
  private shown = 0;
  private footer = '';
  private stats?: FooterStats;
  private timer?: NodeJS.Timeout;
  private busy = false;
  private closed = false;
  private readonly onResize = (): void => this.redraw(true);
  /** The footer's width in characters, as drawn (to know how many rows a narrower terminal wrapped it into). */
  private footerChars = 0;
  /** The terminal is gone (a write failed): nothing more is drawn; the log file still gets everything. */
  private hungUp = false;
  private write(text: string): void {
    if (!this.hungUp && !this.out.destroyed) this.out.write(text);
  }
  private readonly restoreCursor = (): void => this.write('\x1b[?25h');

  constructor(
    private readonly out: NodeJS.WriteStream,
    opts: { records?: string; level?: string } = {},
  ) {
    // A terminal that hangs up (window closed, `tmux kill-session`) fails the next write with EIO while the demo is
    // still draining on its SIGHUP: stop drawing instead of crashing on an unhandled 'error'.
    this.out.on('error', () => (this.hungUp = true));
    this.dir = mkdtempSync(join(tmpdir(), 'alertbridge-demo-out-'));
    this.recordsPath = opts.records ?? join(this.dir, 'records.ndjson');
    // The file sink appends: what `--out` held before this run is not shown.
    this.offset = statSync(this.recordsPath, { throwIfNoEntry: false })?.size ?? 0;
    this.logPath = join(this.dir, 'demo.log');
    this.logFile = createWriteStream(this.logPath, { flags: 'a' });
    const tee = new Writable({
      write: (chunk: Buffer | string, _enc, done) => {
        this.logFile.write(chunk);
        for (const text of String(chunk).split('\n')) this.warnLine(text);
        done();
      },
    });
    this.log = createLogger({ level: opts.level ?? process.env.LOG_LEVEL ?? 'info', destination: tee });
    const o = this.opts;
    // Paths in full, even on a narrow terminal (they are to be copied): these lines may wrap, the footer never does.
    const head = (label: string, path: string) => `${fit([{ text: label, style: '1' }], o)}${path}`;
    const title = [{ text: 'alertbridge demo', style: '1' }, { text: ': one line per record; Ctrl-C stops.' }];
    this.write(
      `${fit(title, o)}\n${head('records (NDJSON): ', this.recordsPath)}\n${head('log:              ', this.logPath)}\n`,
    );
  }

  private get opts(): LineOptions {
    return { columns: this.out.columns || 80, color: this.color };
  }

  /** Prints `text` above the footer (as a line of its own), then the footer again. */
  private print(line: string): void {
    this.write(`\r\x1b[2K${line}\n${this.footer}`);
  }

  private warnLine(text: string): void {
    if (!text.startsWith('{') || this.closed) return;
    try {
      const entry = JSON.parse(text) as Record<string, unknown>;
      if (Number(entry.level) >= 40) this.print(logLine(entry, this.opts));
    } catch {
      // not a JSON line: it is in the log file all the same
    }
  }

  /** After the daemon started: tails the records and keeps the footer current. */
  watch(app: App): void {
    this.app = app;
    this.write('\x1b[?25l');
    process.on('exit', this.restoreCursor);
    this.out.on('resize', this.onResize);
    this.timer = setInterval(() => void this.tick(), 500);
    void this.tick();
  }

  private redraw(resized = false): void {
    let up = '';
    if (resized) {
      // Terminals that reflow (tmux, VTE, kitty, iTerm2, Windows Terminal) wrapped the old footer into more rows
      // when the window narrowed, leaving the cursor on the last: go up to its first row before clearing.
      const rows = Math.ceil(this.footerChars / Math.max(1, this.opts.columns));
      if (rows > 1) up = `\x1b[${rows - 1}A`;
    }
    if (this.stats) this.footer = footerLine(this.stats, this.opts);
    this.footerChars = visibleLength(this.footer);
    this.write(`\r${up}${resized ? '\x1b[J' : '\x1b[2K'}${this.footer}`);
  }

  private async tick(): Promise<void> {
    if (this.busy || !this.app) return;
    this.busy = true;
    try {
      await this.tail();
      await this.refresh();
      if (!this.closed) this.redraw();
    } finally {
      this.busy = false;
    }
  }

  private async refresh(): Promise<void> {
    const next = await readStats(this.app!).catch(() => undefined);
    // Once Redis has stopped (at the end), the budget stays as last read.
    if (next) this.stats = { ...next, budget: next.budget ?? this.stats?.budget };
  }

  /** Reads what the file sink appended since the last look; whole lines only. */
  private async tail(): Promise<void> {
    this.file ??= await open(this.recordsPath, 'r').catch(() => undefined);
    if (!this.file) return;
    const buf = Buffer.alloc(1 << 16);
    for (;;) {
      const { bytesRead } = await this.file.read(buf, 0, buf.length, this.offset);
      if (bytesRead === 0) break;
      this.offset += bytesRead;
      const lines = (this.partial + buf.subarray(0, bytesRead).toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        try {
          this.print(recordLine(JSON.parse(line) as ShownRecord, this.opts));
          this.shown++;
        } catch {
          this.print(fit([{ text: 'a line of the records file is not JSON', style: '33' }], this.opts));
        }
      }
    }
  }

  /** After the daemon stopped: the last records, the final counts as a plain line, and where the files are. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 20));
    if (this.app) {
      await this.tail().catch(() => undefined);
      await this.refresh();
      this.redraw();
    }
    this.closed = true;
    this.out.off('resize', this.onResize);
    await this.file?.close().catch(() => undefined);
    const o = this.opts;
    const lines = [
      `${fit([{ text: `${this.shown} records (NDJSON) in ` }], o)}${this.recordsPath}`,
      `${fit([{ text: 'log: ' }], o)}${this.logPath}`,
    ];
    this.write(`${this.app ? '\n' : ''}${lines.join('\n')}\n\x1b[?25h`);
    process.off('exit', this.restoreCursor);
    await new Promise<void>((resolve) => this.logFile.end(resolve));
  }
}

/**
 * The view when stdout is a terminal; undefined otherwise (NDJSON on stdout, as scripts expect). `records`: the
 * absolute `--out` path, if given.
 */
export function openDemoView(records?: string, out: NodeJS.WriteStream = process.stdout): DemoView | undefined {
  return out.isTTY ? new DemoView(out, { records }) : undefined;
}
