/**
 * Spawns a local redis-server on a free loopback port: used by `alertbridge demo` and by the tests.
 * Persistence is on (AOF) so that a restarted daemon finds its queues, as in production.
 *
 * The server runs in its own process group, so a Ctrl-C in a terminal (which signals the whole foreground group)
 * does not stop it under a daemon that is still draining into it: its owner stops it, after the daemon. And it is
 * watched: a tiny `sh` holds the read end of a pipe whose write end only this process has; when this process ends
 * in any way (even SIGKILL), the pipe closes, `read` returns and the watcher stops the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export class RedisNotInstalledError extends Error {
  override name = 'RedisNotInstalledError';
}

export const REDIS_INSTALL_HINT = 'sudo apt-get install -y redis-server (macOS: brew install redis)';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface StartRedisOptions {
  port?: number;
  dir?: string;
  /** Extra `--name value` arguments. */
  args?: string[];
  /**
   * Runs `redis-sentinel` with this configuration file (written by the caller, in `dir`: Sentinel rewrites it)
   * instead of a data server. Tests only (test/helpers/redis-topology.ts).
   */
  sentinelConfig?: string;
  /**
   * The data server's binary: `redis-server` on PATH unless ALERTBRIDGE_TEST_REDIS_SERVER names another (a path to
   * `valkey-server`, which takes the same options and speaks the same protocol: `npm run test:valkey`).
   */
  binary?: string;
}

/** Persistence as in production (AOF, fsync every second), nothing evicted. Later `--name value` arguments win. */
const dataArgs = ['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'];

export async function startRedisServer(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  const ownDir = !opts.dir;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'alertbridge-redis-'));
  const sentinel = opts.sentinelConfig !== undefined;
  const args = [
    ...(sentinel ? [opts.sentinelConfig!] : []),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    ...(sentinel ? [] : dataArgs),
    ...(opts.args ?? []),
  ];
  const binary = sentinel
    ? 'redis-sentinel'
    : (opts.binary ?? (process.env.ALERTBRIDGE_TEST_REDIS_SERVER || 'redis-server'));
  const child = spawn(binary, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  // Kept for start-up errors only; afterwards read and dropped (an unread pipe would block the server's logging).
  let keep = true;
  child.stdout?.on('data', (d: Buffer) => {
    if (keep) output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    if (keep) output += d.toString();
  });
  const spawnError = await new Promise<Error | null>((resolve) => {
    child.once('error', (err) => resolve(err));
    child.once('spawn', () => resolve(null));
  });
  if (spawnError) {
    if ((spawnError as NodeJS.ErrnoException).code === 'ENOENT') {
      if (binary !== 'redis-server') throw new RedisNotInstalledError(`${binary} was not found`);
      throw new RedisNotInstalledError(`redis-server is not installed; install it with: ${REDIS_INSTALL_HINT}`);
    }
    throw spawnError;
  }
  const watcher = watch(child.pid!);
  child.once('exit', () => watcher.kill('SIGKILL'));
  const deadline = Date.now() + 10_000;
  const ready = sentinel ? /\+monitor master/ : /Ready to accept connections/;
  while (!ready.test(output)) {
    if (child.exitCode !== null) throw new Error(`${binary} exited (${child.exitCode}): ${output.slice(-500)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      watcher.kill('SIGKILL');
      throw new Error(`${binary} did not become ready: ${output.slice(-500)}`);
    }
    await sleep(20);
  }
  keep = false;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    watcher.kill('SIGKILL');
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  return { url: `redis://127.0.0.1:${port}`, port, dir, process: child, stop };
}

/** The watcher of a spawned server (see the top of this file); killed once the server has stopped. */
function watch(pid: number): ChildProcess {
  const watcher = spawn(
    'sh',
    ['-c', 'read _ignored; kill -TERM "$1" 2>/dev/null', 'alertbridge-redis-watch', String(pid)],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    },
  );
  watcher.on('error', () => undefined); // no sh: the server is then only stopped by its owner
  watcher.stdin?.on('error', () => undefined);
  watcher.unref();
  (watcher.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return watcher;
}
