/**
 * Debian's chromium, headless, for checks of the pages alertbridge serves (the status page): where it is, and the DOM
 * it builds from a URL (`--dump-dom`, after parsing, as a browser sees it). Tests skip, saying so, when it is absent.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** `$CHROMIUM`, or the first `chromium` / `chromium-browser` on PATH; undefined when there is none. */
export function chromiumPath(): string | undefined {
  const candidates = process.env.CHROMIUM
    ? [process.env.CHROMIUM]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .flatMap((d) => (d ? [join(d, 'chromium'), join(d, 'chromium-browser')] : []));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Loads `url` in headless chromium and returns the serialized DOM. */
export function dumpDom(url: string, opts: { timeoutMs?: number } = {}): Promise<string> {
  return chromium(['--dump-dom', url], opts.timeoutMs);
}

/** Loads `url` in headless chromium and saves what it shows as a PNG of `width`×`height`. */
export async function screenshot(url: string, path: string, size = { width: 1280, height: 900 }): Promise<void> {
  await chromium([`--screenshot=${path}`, `--window-size=${size.width},${size.height}`, '--hide-scrollbars', url]);
}

async function chromium(args: string[], timeoutMs = 60_000): Promise<string> {
  const bin = chromiumPath();
  if (!bin) throw new Error('chromium is not installed (apt-get install -y chromium)');
  const profile = mkdtempSync(join(tmpdir(), 'ab-chromium-'));
  try {
    return await new Promise<string>((resolve, reject) => {
      execFile(
        bin,
        [
          '--headless',
          // Root in CI containers: chromium's sandbox refuses to start as root.
          '--no-sandbox',
          '--disable-gpu',
          '--disable-dev-shm-usage',
          '--no-first-run',
          `--user-data-dir=${profile}`,
          ...args,
        ],
        { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`chromium failed: ${err.message}\n${stderr}`)) : resolve(stdout),
      );
    });
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
