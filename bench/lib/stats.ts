/** Small numeric and formatting helpers shared by the benches and the chaos runs. */

/** The project's one seeded PRNG (mulberry32), so a run can be repeated (kill moments, fuzz, fault dice). */
export { seededRandom as seeded } from '../../test/helpers/random.js';

/** The p-th percentile (0–100) of `values` by nearest rank; NaN for none. Infinity stands for "never arrived". */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const MiB = 1024 * 1024;

/** 12,345 */
export const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n));
/** 1.23 */
export const fixed = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : String(n));
/** 123 MiB */
export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`;
/** "1.2 s", or "> 60 s" when it never finished. */
export const ms = (v: number): string =>
  !Number.isFinite(v) ? 'never' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;

/** A plain-text table (GitHub-flavoured Markdown, so it pastes into docs as it is). */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const width = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(width[i]!)).join(' | ')} |`;
  return [line(headers), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export const sleep = (msec: number): Promise<void> => new Promise((r) => setTimeout(r, msec));

/** Polls `fn` until it returns truthy or `timeoutMs` passes; returns the last value (falsy on timeout). */
export async function until<T>(fn: () => T | Promise<T>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > deadline) return v;
    await sleep(everyMs);
  }
}
