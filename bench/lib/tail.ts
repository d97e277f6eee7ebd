/**
 * Follows NDJSON files a file sink appends to, and hands each record to the caller with the moment it was seen —
 * what "arrived at the sink" means in the latency runs and what the chaos runs count.
 *
 * A `kill -9` can cut a write short; the restarted daemon then appends its next record to the same line. Every
 * envelope starts with `{"schema":"alertbridge.record/v1",` (a sequence no JSON string inside a record can contain
 * unescaped), so a line is split there and only the cut piece is dropped.
 */
import { closeSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';

const START = '{"schema":"alertbridge.record/v1",';

export interface SeenRecord {
  key: string;
  revision: string;
  /** The whole envelope, when the tail was asked to parse it. */
  full?: Record<string, unknown>;
}

export interface TailStats {
  records: number;
  /** Pieces of records cut by a crash (not counted as records). */
  cut: number;
}

/** Splits a chunk of complete lines into envelopes; cut pieces are counted, not returned. */
export function parseLines(text: string, full: boolean, stats: TailStats): SeenRecord[] {
  const out: SeenRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const parts = line.split(START);
    for (let i = 0; i < parts.length; i++) {
      if (i === 0 && parts[0] === '') continue;
      const text = i === 0 ? parts[0]! : START + parts[i]!;
      const rec = parseOne(text, full);
      if (rec) {
        stats.records++;
        out.push(rec);
      } else stats.cut++;
    }
  }
  return out;
}

function parseOne(text: string, full: boolean): SeenRecord | undefined {
  if (!text.endsWith('}')) return undefined;
  try {
    const obj = JSON.parse(text) as Record<string, unknown>;
    return { key: String(obj.key), revision: String(obj.revision), ...(full ? { full: obj } : {}) };
  } catch {
    return undefined;
  }
}

/** Follows one file from its start; `onRecords` gets each new batch of complete records and the time they were seen. */
export class NdjsonTail {
  readonly stats: TailStats = { records: 0, cut: 0 };
  private fd: number | undefined;
  private offset = 0;
  private rest = '';
  private watcher?: FSWatcher;
  private readonly timer: NodeJS.Timeout;
  private reading = false;

  constructor(
    private readonly path: string,
    private readonly onRecords: (recs: SeenRecord[], at: number) => void,
    private readonly opts: { full?: boolean; everyMs?: number } = {},
  ) {
    this.timer = setInterval(() => this.poll(), opts.everyMs ?? 20);
    this.timer.unref();
  }

  /** Reads what was appended since the last call. */
  poll(): void {
    if (this.reading) return;
    this.reading = true;
    try {
      if (this.fd === undefined) {
        try {
          this.fd = openSync(this.path, 'r');
        } catch {
          return;
        }
        try {
          this.watcher = watch(this.path, () => this.poll());
        } catch {
          // polling alone then
        }
      }
      const size = statSync(this.path).size;
      if (size <= this.offset) return;
      const buf = Buffer.allocUnsafe(Math.min(size - this.offset, 64 * 1024 * 1024));
      const n = readSync(this.fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      const text = this.rest + buf.toString('utf8', 0, n);
      const end = text.lastIndexOf('\n');
      if (end < 0) {
        this.rest = text;
        return;
      }
      this.rest = text.slice(end + 1);
      const at = Date.now();
      const recs = parseLines(text.slice(0, end), this.opts.full ?? false, this.stats);
      if (recs.length) this.onRecords(recs, at);
    } finally {
      this.reading = false;
    }
  }

  close(): void {
    this.poll();
    clearInterval(this.timer);
    this.watcher?.close();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Counts distinct and total identities (`key@revision`) seen in a set of files. */
export class DeliveryCounter {
  readonly seen = new Map<string, number>();
  private readonly tails: NdjsonTail[];

  constructor(paths: string[]) {
    this.tails = paths.map(
      (p) =>
        new NdjsonTail(
          p,
          (recs) => {
            for (const r of recs) {
              const id = `${r.key}@${r.revision}`;
              this.seen.set(id, (this.seen.get(id) ?? 0) + 1);
            }
          },
          { everyMs: 100 },
        ),
    );
  }

  get distinct(): number {
    return this.seen.size;
  }

  get total(): number {
    let n = 0;
    for (const c of this.seen.values()) n += c;
    return n;
  }

  get cut(): number {
    return this.tails.reduce((a, t) => a + t.stats.cut, 0);
  }

  poll(): void {
    for (const t of this.tails) t.poll();
  }

  close(): void {
    for (const t of this.tails) t.close();
  }
}
