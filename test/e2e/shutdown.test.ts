/**
 * Stopping ends the process within the drain bound in every state, and the demo leaves no child behind:
 * Ctrl-C in a terminal signals the whole process group (the demo's redis-server included), closing the terminal
 * sends SIGHUP, and a killed demo must not leave its redis-server running.
 */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startRedisServer } from '../../src/util/redis-server.js';
import { ROOT, spawnCli, type Daemon } from '../helpers/cli.js';
import { startBlackhole } from '../helpers/blackhole.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { alertV2 } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'ab-shutdown-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of the running redis-server children of `ppid` (from /proc: the test does not rely on the demo's logs). */
function redisChildren(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const [state, parent] = stat.slice(close + 2).split(' ');
      if (comm === 'redis-server' && Number(parent) === ppid && state !== 'Z') out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The exit of the daemon, or null if it is still running after `ms` (a hang, not a slow machine: ms is generous). */
async function exitWithin(
  daemon: Daemon,
  ms: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
  return Promise.race([daemon.exited, sleep(ms).then(() => null)]);
}

/** Starts `alertbridge demo` in its own process group; resolves once records flow, with its redis-server's pid. */
async function startDemo(): Promise<{ demo: Daemon; redisPid: number }> {
  const demo = spawnCli(['demo', '--rate', '5'], { REDIS_URL: '', LOG_LEVEL: 'info' }, { detached: true });
  const redisPid = await waitFor(
    () => {
      if (demo.child.exitCode !== null) throw new Error(`demo exited: ${demo.output()}`);
      return redisChildren(demo.child.pid!)[0];
    },
    { timeoutMs: 60_000, what: 'the demo redis-server' },
  );
  await waitFor(
    () => {
      if (demo.child.exitCode !== null) throw new Error(`demo exited: ${demo.output()}`);
      return demo.output().includes('"schema":"alertbridge.record/v1"');
    },
    { timeoutMs: 60_000, what: 'records flowing' },
  );
  return { demo, redisPid };
}

function cleanup(demo: Daemon, redisPid?: number): void {
  if (demo.child.exitCode === null && demo.child.signalCode === null) process.kill(-demo.child.pid!, 'SIGKILL');
  if (redisPid && alive(redisPid)) process.kill(redisPid, 'SIGKILL');
}

describe('alertbridge demo stopping', () => {
  for (const signal of ['SIGINT', 'SIGHUP'] as const) {
    it(`${signal} to the whole process group drains, exits 0 and leaves no redis-server`, async () => {
      const { demo, redisPid } = await startDemo();
      try {
        expect(alive(redisPid)).toBe(true);
        process.kill(-demo.child.pid!, signal);
        // The demo's drain bound is 30 s; a clean drain (exit 0) is much sooner, since its Redis is still there.
        const exit = await exitWithin(demo, 60_000);
        expect(exit, demo.output().slice(-2000)).toEqual({ code: 0, signal: null });
        expect(demo.output()).toContain('"drained":true');
        await waitFor(() => !alive(redisPid), { timeoutMs: 10_000, what: 'redis-server gone' });
      } finally {
        cleanup(demo, redisPid);
      }
    }, 150_000);
  }

  it('a killed demo does not leave its redis-server running', async () => {
    const { demo, redisPid } = await startDemo();
    try {
      process.kill(demo.child.pid!, 'SIGKILL');
      await demo.exited;
      await waitFor(() => !alive(redisPid), { timeoutMs: 20_000, what: 'the watched redis-server to stop' });
    } finally {
      cleanup(demo, redisPid);
    }
  }, 150_000);
});

describe('alertbridge demo in a terminal that closes', () => {
  // `script` gives the demo a real terminal; killing `script` hangs the terminal up, as closing a window or
  // `tmux kill-session` does: the kernel sends SIGHUP to the demo, which stops, and Node must not crash restoring
  // the dead terminal's mode on its way out.
  it.skipIf(spawnSync('script', ['--version']).status !== 0)(
    'stops on the hang-up, leaves no redis-server, and exits without a crash report',
    async () => {
      const log = join(dir, 'terminal.log');
      const cmd = `env -u REDIS_URL LOG_LEVEL=info '${process.execPath}' --import tsx src/main.ts demo --rate 5 2>'${log}'`;
      const term = spawn('script', ['-qfec', cmd, '/dev/null'], {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'ignore'],
        detached: true,
      });
      // On a terminal the demo shows its view and writes its logs to the demo.log the view names.
      let screen = '';
      term.stdout.on('data', (b: Buffer) => (screen += b.toString('utf8')));
      const demoLog = (): string | undefined =>
        /log:\s+(\S+demo\.log)/.exec(
          screen.replaceAll(String.fromCharCode(27), '').replace(/\[[0-9;?]*[A-Za-z]/g, ''),
        )?.[1];
      const logText = (): string => readFileSafe(log) + (demoLog() ? readFileSafe(demoLog()!) : '');
      let demoPid: number | undefined;
      let redisPid: number | undefined;
      try {
        await waitFor(() => logText().includes('demo progress'), {
          timeoutMs: 90_000,
          what: 'the demo running',
        });
        demoPid = nodeChild(term.pid!);
        redisPid = redisChildren(demoPid!)[0];
        expect(redisPid).toBeDefined();
        process.kill(term.pid!, 'SIGKILL');
        await waitFor(() => !alive(demoPid!), { timeoutMs: 60_000, what: 'the demo to stop' });
        await waitFor(() => !alive(redisPid!), { timeoutMs: 10_000, what: 'redis-server gone' });
        const out = logText();
        expect(out).toContain('"signal":"SIGHUP"');
        expect(out).toContain('"drained":true');
        expect(out).not.toContain('Assertion failed');
      } finally {
        if (alive(term.pid!)) process.kill(term.pid!, 'SIGKILL');
        if (demoPid && alive(demoPid)) process.kill(demoPid, 'SIGKILL');
        if (redisPid && alive(redisPid)) process.kill(redisPid, 'SIGKILL');
      }
    },
    150_000,
  );
});

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * The node process under `script` (script → sh → node, or script → node), found by its executable: its `comm` is
 * no help, since Node 24 names its main thread `MainThread` (Node 20 left it `node`).
 */
function nodeChild(pid: number): number | undefined {
  const node = realpathSync(process.execPath);
  const all = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
  const parentOf = (p: number): number => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return -1;
    }
  };
  const isNode = (p: number): boolean => {
    try {
      return readlinkSync(`/proc/${p}/exe`) === node;
    } catch {
      return false;
    }
  };
  const under = (p: number): number[] => all.filter((c) => parentOf(c) === p);
  for (const c of under(pid)) {
    if (isNode(c)) return c;
    for (const g of under(c)) if (isNode(g)) return g;
  }
  return undefined;
}

describe('alertbridge run stopping', () => {
  // killed: connections are refused; frozen (SIGSTOP): the host accepts connections and never answers, as when the
  // network drops Redis's packets.
  it.each(['killed', 'frozen'] as const)(
    'SIGTERM with Redis %s ends within the drain bound, exit 2 (drain cut short)',
    async (how) => {
      const redis = await startRedisServer();
      const port = await freePort();
      const config = join(dir, 'redis-gone.yaml');
      writeFileSync(
        config,
        `
redis: { url: "${redis.url}", key_prefix: "gone" }
server: { listen: "127.0.0.1:${port}" }
pipeline: { drain_timeout_ms: 3000 }
log: { level: info, format: json }
sources:
  - { name: feed, type: webhook, token: gone-token }
sinks:
  - { name: out, type: file, path: "${join(dir, 'out.ndjson')}" }
`,
      );
      const daemon = spawnCli(['run', '--config', config]);
      try {
        await waitFor(
          async () => {
            if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.output()}`);
            return fetch(`http://127.0.0.1:${port}/readyz`).then(
              (r) => r.ok,
              () => false,
            );
          },
          { timeoutMs: 60_000, what: 'daemon ready' },
        );
        if (how === 'killed') {
          redis.process.kill('SIGKILL');
          await waitFor(() => daemon.output().includes('redis connection error'), {
            timeoutMs: 30_000,
            what: 'Redis gone',
          });
        } else {
          redis.process.kill('SIGSTOP');
          await waitFor(
            () =>
              fetch(`http://127.0.0.1:${port}/readyz`).then(
                (r) => r.status === 503,
                () => false,
              ),
            { timeoutMs: 30_000, what: 'Redis unreachable' },
          );
        }
        daemon.child.kill('SIGTERM');
        // drain bound 3 s: allow ten times that before calling it a hang
        const exit = await exitWithin(daemon, 30_000);
        expect(exit, daemon.output().slice(-2000)).toEqual({ code: 2, signal: null });
        expect(daemon.output()).toContain('drain timed out');
        expect(daemon.output()).toContain('stopped before the drain finished');
      } finally {
        if (daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
        redis.process.kill('SIGCONT');
        await redis.stop();
      }
    },
    150_000,
  );

  it('SIGTERM while a sink never answers ends within the drain bound, exit 2', async () => {
    const sink = await startBlackhole();
    const port = await freePort();
    const prefix = uniquePrefix('sink-down');
    const config = join(dir, 'sink-down.yaml');
    writeFileSync(
      config,
      `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { listen: "127.0.0.1:${port}" }
pipeline: { drain_timeout_ms: 3000 }
log: { level: info, format: json }
sources:
  - { name: feed, type: webhook, token: sink-token }
sinks:
  - { name: hec, type: splunk_hec, url: "${sink.url.replace('redis://', 'http://')}", token: t }
`,
    );
    const daemon = spawnCli(['run', '--config', config]);
    try {
      await waitFor(
        async () => {
          if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.output()}`);
          return fetch(`http://127.0.0.1:${port}/readyz`).then(
            (r) => r.ok,
            () => false,
          );
        },
        { timeoutMs: 60_000, what: 'daemon ready' },
      );
      const res = await fetch(`http://127.0.0.1:${port}/ingest/feed`, {
        method: 'POST',
        headers: { authorization: 'Bearer sink-token', 'content-type': 'application/json' },
        body: JSON.stringify([alertV2(1)]),
      });
      expect(res.status).toBe(202);
      await waitFor(() => sink.connections() > 0, { timeoutMs: 30_000, what: 'a delivery in flight' });
      daemon.child.kill('SIGTERM');
      const exit = await exitWithin(daemon, 30_000);
      expect(exit, daemon.output().slice(-2000)).toEqual({ code: 2, signal: null });
      expect(daemon.output()).toContain('stopped before the drain finished');
    } finally {
      if (daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
      await sink.close();
      await deletePrefix(prefix);
    }
  }, 150_000);
});
