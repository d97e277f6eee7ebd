/**
 * `alertbridge run` as a child process, the way it is deployed: its own process (so /proc tells its memory and
 * CPU), its own config file, killed with SIGKILL or stopped with SIGTERM.
 *
 * Two runtimes: `dist` (the default for benches) compiles `src/` and `sinks/` once per run with `tsc` into
 * `.cache/bench-dist/` (git-ignored; `dist/` is left alone) and runs plain JavaScript, as production does — no
 * loader thread in the memory figures; `tsx` runs the TypeScript sources through tsx like the tests do (no build
 * step: the chaos runs and their CI slice use it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/util/redis-server.js';
import { ROOT } from './paths.js';
import { sleep } from './stats.js';

export type Runtime = 'dist' | 'tsx';

const DIST = join(ROOT, '.cache', 'bench-dist');
let built: string | undefined;

/** Compiles the daemon into `.cache/bench-dist` (once per process); returns the entry point. */
export function ensureBuild(): string {
  if (built) return built;
  const t = Date.now();
  const res = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', DIST],
    { cwd: ROOT, encoding: 'utf8' },
  );
  const entry = join(DIST, 'src', 'main.js');
  // tsc emits despite type errors (someone else's work in progress); only a missing entry point is fatal.
  if (res.error || !existsSync(entry))
    throw new Error(`building the daemon failed: ${res.error?.message ?? res.stdout}`);
  if (res.status !== 0)
    console.warn(`[bench] tsc reported problems (emitted anyway):\n${res.stdout.split('\n').slice(0, 5).join('\n')}`);
  console.log(`[bench] daemon compiled into .cache/bench-dist in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return (built = entry);
}

/** Node flags every daemon of this run gets (`--daemon-node-options` of the bench), e.g. a heap limit. */
let defaultNodeArgs: string[] = [];
export function setDaemonNodeArgs(args: string[]): void {
  defaultNodeArgs = args;
}

export interface Daemon {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  /** The last ~64 KB of its stdout and stderr (logs), for error messages. */
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** GET on its HTTP server; 0 when it does not answer. */
  get(path: string): Promise<{ status: number; body: string }>;
  /** `kill -9`. */
  kill(): Promise<void>;
  /** SIGTERM: it drains and exits; resolves to the exit code. */
  stop(): Promise<number | null>;
}

export interface DaemonOptions {
  /** YAML config; `${PORT}` is its HTTP port (chosen here). */
  config: string;
  dir: string;
  name?: string;
  runtime?: Runtime;
  env?: NodeJS.ProcessEnv;
  /** Wait for `/readyz` (default) or only for `/healthz` (a sink that is down at start keeps it unready). */
  waitFor?: 'readyz' | 'healthz' | 'nothing';
  readyTimeoutMs?: number;
  /** Extra node flags (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** HTTP port (a restarted daemon keeps its predecessor's). @defaultValue a free one */
  port?: number;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const name = opts.name ?? 'daemon';
  const port = opts.port ?? (await freePort());
  const configPath = join(opts.dir, `${name}.yaml`);
  writeFileSync(configPath, opts.config.replaceAll('${PORT}', String(port)));
  const runtime = opts.runtime ?? 'dist';
  const entry = runtime === 'dist' ? [ensureBuild()] : ['--import', 'tsx', join(ROOT, 'src', 'main.ts')];
  const child = spawn(
    process.execPath,
    [...defaultNodeArgs, ...(opts.nodeArgs ?? []), ...entry, 'run', '--config', configPath],
    {
      cwd: ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 128 * 1024) out = out.slice(-64 * 1024);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  const get = async (path: string) => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
      return { status: res.status, body: await res.text() };
    } catch {
      return { status: 0, body: '' };
    }
  };
  const daemon: Daemon = {
    name,
    port,
    child,
    pid: child.pid,
    exited,
    alive,
    get,
    output: () => out,
    async kill() {
      if (!alive()) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!alive()) return (await exited).code;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const res = await Promise.race([exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), 60_000)))]);
      clearTimeout(timer);
      if (!res) await daemon.kill();
      return (await exited).code;
    },
  };
  const waitFor = opts.waitFor ?? 'readyz';
  if (waitFor !== 'nothing') {
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    for (;;) {
      if (!alive()) throw new Error(`${name} exited before it was ready:\n${out.slice(-3000)}`);
      if ((await get(`/${waitFor}`)).status === 200) break;
      if (Date.now() > deadline) {
        await daemon.kill();
        throw new Error(`${name} was not ready within ${opts.readyTimeoutMs ?? 60_000} ms:\n${out.slice(-3000)}`);
      }
      await sleep(100);
    }
  }
  return daemon;
}

/** The sum of a Prometheus counter over all its series (`alertbridge_records_delivered_total`, …), from /metrics text. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}

/** What a daemon says it delivered (per sink, or all), from its /metrics. */
export async function delivered(d: Daemon, sink?: string): Promise<number> {
  const res = await d.get('/metrics');
  return res.status === 200
    ? metricSum(res.body, 'alertbridge_records_delivered_total', sink ? { sink } : {})
    : Number.NaN;
}
