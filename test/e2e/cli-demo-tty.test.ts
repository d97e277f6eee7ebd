/**
 * `alertbridge demo` as a person sees it: run in a real terminal (tmux), read back with `capture-pane`. On a terminal,
 * one line per record and one footer redrawn in place; the full records in the file named on screen. With stdout
 * redirected (from the same terminal), NDJSON as before.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux) console.warn('test/e2e/cli-demo-tty.test.ts: skipped, tmux is not installed (apt-get install tmux)');

const RECORD_LINE =
  /^\d\d:\d\d:\d\d (high|medium|low|info|unknown) +(new|updated) +(poll|streaming|webhook|push|sync) /;
const FOOTER = '▌ ingested';
const CLI = `${process.execPath} --import tsx src/main.ts demo`;

/**
 * One tmux server of its own (its socket in a temp folder, removed with it), whose pane stays after the command exits
 * (to read the screen then).
 */
class Terminal {
  readonly dir = mkdtempSync(join(tmpdir(), 'alertbridge-tty-'));
  readonly socket = join(this.dir, 'tmux.sock');

  constructor(
    command: string,
    size: { x: number; y: number },
    env: Record<string, string | undefined> = {},
    cwd = ROOT,
  ) {
    const conf = join(this.dir, 'tmux.conf');
    writeFileSync(conf, 'set -g remain-on-exit on\nset -g history-limit 10000\n');
    // The exit status from the shell (tmux's own #{pane_dead_status} is sometimes left empty); bash, not sh: it goes
    // on after a child that handled Ctrl-C and exited.
    writeFileSync(join(this.dir, 'run.sh'), `${command}\necho $? > ${join(this.dir, 'status')}\n`);
    const childEnv: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: '', LOG_LEVEL: 'info', ...env };
    for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
    delete childEnv.TMUX;
    const session = ['new-session', '-d', '-x', String(size.x), '-y', String(size.y), '-c', cwd];
    this.tmux(['-f', conf, ...session, `bash ${join(this.dir, 'run.sh')}`], childEnv);
  }

  tmux(args: string[], env: NodeJS.ProcessEnv = process.env): string {
    return execFileSync('tmux', ['-S', this.socket, ...args], { env, encoding: 'utf8' });
  }

  /** Everything the pane printed (scrollback included), wrapped lines joined; `escapes`: with its SGR sequences. */
  screen(escapes = false): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-', ...(escapes ? ['-e'] : [])]);
  }

  lines(): string[] {
    return this.screen()
      .split('\n')
      .map((l) => l.trimEnd());
  }

  /** The command's exit status once it has exited. */
  async exited(): Promise<number> {
    const status = join(this.dir, 'status');
    const code = await waitFor(() => (existsSync(status) ? readFileSync(status, 'utf8').trim() : undefined), {
      timeoutMs: 120_000,
      intervalMs: 250,
      what: 'the demo to exit',
    }).catch((err: Error) => {
      throw new Error(`${err.message}; the screen:\n${this.lines().slice(-30).join('\n')}`);
    });
    return Number(code);
  }

  close(): void {
    spawnSync('tmux', ['-S', this.socket, 'kill-server']);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The records file the demo named on screen, parsed. */
function recordsNamedOn(lines: string[]): { path: string; records: Array<Record<string, unknown>> } {
  const path = lines
    .find((l) => l.startsWith('records (NDJSON): '))
    ?.slice('records (NDJSON): '.length)
    .trim();
  expect(path, 'the screen names the records file').toBeTruthy();
  const records = readFileSync(path!, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { path: path!, records };
}

const started: Terminal[] = [];
const terminal = (...args: ConstructorParameters<typeof Terminal>): Terminal => {
  const t = new Terminal(...args);
  started.push(t);
  return t;
};
const outputDirs: string[] = [];

afterEach(() => {
  for (const t of started.splice(0)) t.close();
  for (const d of outputDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!hasTmux)(`alertbridge demo on a terminal${hasTmux ? '' : ' (skipped: tmux is not installed)'}`, () => {
  it('shows one line per record and one footer, and names the file with the full records', async () => {
    const t = terminal(`${CLI} --count 10 --rate 5`, { x: 120, y: 30 }, { NO_COLOR: undefined });
    expect(await t.exited()).toBe(0);
    const lines = t.lines();
    const { path, records } = recordsNamedOn(lines);
    outputDirs.push(join(path, '..'));
    expect(records.length).toBeGreaterThanOrEqual(10);
    for (const r of records) expect(r).toMatchObject({ schema: 'alertbridge.record/v1', source: 'demo-graph' });

    const shown = lines.filter((l) => RECORD_LINE.test(l));
    expect(shown).toHaveLength(records.length);
    for (const r of records) {
      const severity = { informational: 'info' }[String(r.severity)] ?? String(r.severity);
      const title = String(r.title).slice(0, 30);
      expect(
        shown.some((l) => l.startsWith(`${l.slice(0, 9)}${severity} `) && l.includes(title)),
        `a line for ${severity} "${title}"`,
      ).toBe(true);
    }
    expect(t.screen()).not.toContain('{"schema"');
    expect(t.screen()).not.toContain('"level"');
    // Redrawn in place: one footer line in the whole scrollback, the last figures.
    const footers = lines.filter((l) => l.startsWith(FOOTER));
    expect(footers).toHaveLength(1);
    expect(Number(/delivered (\d+)/.exec(footers[0]!)?.[1])).toBe(records.length);
    expect(footers[0]).toMatch(/Graph requests [1-9]\d* · budget \d+\/150 per min/);
    expect(lines).toContain(`${records.length} records (NDJSON) in ${path}`);
    // In colour: severities are.
    // eslint-disable-next-line no-control-regex
    expect(t.screen(true)).toMatch(/\x1b\[3[136]m(?:\x1b\[\d+m)*(?:high|medium|low) /);
  }, 150_000);

  it('NO_COLOR, a warning, a narrow window that narrows further (SIGWINCH), Ctrl-C, --out relative to the working directory', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'alertbridge-tty-cwd-'));
    outputDirs.push(cwd);
    const cli = `${process.execPath} --import ${import.meta.resolve('tsx')} ${join(ROOT, 'src/main.ts')} demo`;
    const t = terminal(`${cli} --rate 5 --out out/records.ndjson`, { x: 60, y: 20 }, { NO_COLOR: '1' }, cwd);
    await waitFor(() => t.lines().filter((l) => RECORD_LINE.test(l)).length, {
      timeoutMs: 90_000,
      intervalMs: 250,
      what: 'a record line',
    });
    // A warning (a push with a wrong token) is printed above the footer as one line; the log file has it in full.
    const logPath = t
      .lines()
      .find((l) => l.startsWith('log: '))!
      .slice('log: '.length)
      .trim();
    outputDirs.push(join(logPath, '..'));
    const listen = await waitFor(() => /"listen":"([^"]+)"/.exec(readFileSync(logPath, 'utf8'))?.[1], {
      what: 'the daemon to listen',
    });
    const refused = await fetch(`http://${listen}/ingest/demo-push`, {
      method: 'POST',
      headers: { authorization: 'Bearer wrong-token', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(refused.status).toBe(401);
    await waitFor(() => t.lines().some((l) => /^\d\d:\d\d:\d\d WARN +\[push\/demo-push\] push refused/.test(l)), {
      what: 'the warning on screen',
    });
    // The file gets it through a write stream: soon, not necessarily before the screen.
    await waitFor(() => readFileSync(logPath, 'utf8').includes('"msg":"push refused: authentication"'), {
      what: 'the warning in demo.log',
    });
    expect(t.screen()).not.toContain('"level"');

    t.tmux(['resize-window', '-x', '45']);
    // The demo has seen the new width once its footer fits it; records keep coming after that. Then Ctrl-C.
    const recordLines = () => t.lines().filter((l) => RECORD_LINE.test(l)).length;
    const afterResize = await waitFor(
      () => {
        const footer = t.lines().find((l) => l.startsWith(FOOTER));
        return footer && [...footer].length <= 45 ? recordLines() + 1 : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, what: 'the footer redrawn at the new width' },
    );
    await waitFor(() => recordLines() > afterResize, {
      timeoutMs: 90_000,
      intervalMs: 250,
      what: 'record lines after the resize',
    });
    t.tmux(['send-keys', 'C-c']);
    expect(await t.exited()).toBe(0);

    const lines = t.lines();
    const { path, records } = recordsNamedOn(lines);
    expect(path).toBe(join(cwd, 'out/records.ndjson'));
    // Paths are printed whole (to be copied); every other line fits the window it was printed in.
    for (const l of lines.filter((x) => !x.includes(path) && !x.includes('demo.log') && !x.startsWith('Pane is dead')))
      expect([...l].length, l).toBeLessThanOrEqual(60);
    const footers = lines.filter((l) => l.startsWith(FOOTER));
    expect(footers, 'the footer was redrawn in place across the resize').toHaveLength(1);
    expect([...footers[0]!].length).toBeLessThanOrEqual(45);
    expect(lines.filter((l) => RECORD_LINE.test(l)).at(-1)!.length).toBeLessThanOrEqual(45);
    expect(lines.filter((l) => RECORD_LINE.test(l))).toHaveLength(records.length);
    // eslint-disable-next-line no-control-regex
    expect(t.screen(true)).not.toMatch(/\x1b\[[0-9;]*m/);
  }, 240_000);

  it('stdout redirected from a terminal: NDJSON records only, as before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alertbridge-tty-out-'));
    outputDirs.push(dir);
    const file = join(dir, 'records.ndjson');
    const t = terminal(`${CLI} --count 10 --rate 5 > ${file}`, { x: 120, y: 30 });
    expect(await t.exited()).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('\x1b');
    const records = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.length).toBeGreaterThanOrEqual(10);
    for (const r of records) expect(r).toMatchObject({ schema: 'alertbridge.record/v1' });
    const screen = t.screen();
    expect(screen).not.toContain(FOOTER);
    expect(screen).not.toContain('records (NDJSON)');
    expect(screen).toContain('started the Graph simulator'); // the logs, on the terminal's stderr
  }, 150_000);
});
