/**
 * `alertbridge run` against a Redis that comes back empty: flushed (`redis-cli FLUSHALL`) or restarted without AOF in
 * the middle of a stream. Delivery must resume by itself (the consumer groups are recreated), and `/readyz` must say
 * 503, with the reason, while the daemon cannot deliver — never 200 while pushes pile up undelivered. The Redis is
 * the test's own: FLUSHALL on the shared test Redis would wipe every other test's keys.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startRedisServer, type RedisServer } from '../../src/util/redis-server.js';
import { spawnCli } from '../helpers/cli.js';
import { alertV2 } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';
import { keysFor } from '../../src/pipeline/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'ab-redis-empty-'));
let redis: RedisServer | undefined;
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const PREFIX = 'empty';
const noAof = (port: number) => ({ port, dir: join(dir, 'redis'), args: ['--appendonly', 'no'] });
const cli = (port: number, ...args: string[]) =>
  execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).trim();

function delivered(path: string): Set<string> {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return new Set();
  }
  return new Set(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { id: string }).id),
  );
}

describe('alertbridge run with a Redis that comes back empty', () => {
  it('resumes delivery by itself after FLUSHALL and after a restart without AOF; /readyz is 503 with the reason meanwhile', async () => {
    const redisPort = await freePort();
    execFileSync('mkdir', ['-p', join(dir, 'redis')]);
    redis = await startRedisServer(noAof(redisPort));
    const port = await freePort();
    const out = join(dir, 'out.ndjson');
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
redis: { url: "${redis.url}", key_prefix: "${PREFIX}" }
server: { listen: "127.0.0.1:${port}" }
pipeline: { takeover_ms: 2000 }
log: { level: info, format: json }
sources:
  - { name: feed, type: webhook, token: empty-test-token }
sinks:
  - { name: out, type: file, path: "${out}", batch: { max_records: 50 }, retry: { max_attempts: 1000, initial_backoff_ms: 100, max_backoff_ms: 1000 } }
`,
    );
    const daemon = spawnCli(['run', '--config', config]);
    type Readiness = { status: number; body: { checks: Record<string, boolean>; reasons?: Record<string, string> } };
    const readyz = async (): Promise<Readiness> => {
      if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.output()}`);
      return fetch(`http://127.0.0.1:${port}/readyz`).then(
        async (r) => ({ status: r.status, body: (await r.json()) as Readiness['body'] }),
        () => ({ status: 0, body: { checks: {} } }),
      );
    };
    const push = async (from: number, n: number) => {
      const alerts = Array.from({ length: n }, (_, i) => alertV2(from + i));
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${port}/ingest/feed`, {
            method: 'POST',
            body: JSON.stringify(alerts),
            headers: { authorization: 'Bearer empty-test-token', 'content-type': 'application/json' },
          }).then(
            (r) => r.status === 202,
            () => false,
          ),
        { timeoutMs: 60_000, what: `push of ${n} accepted` },
      );
      return alerts.map((a) => String(a.id));
    };
    const arrives = (ids: string[], what: string) =>
      waitFor(
        () => {
          const seen = delivered(out);
          return ids.every((id) => seen.has(id));
        },
        { timeoutMs: 60_000, what },
      );

    try {
      await waitFor(async () => (await readyz()).status === 200, { timeoutMs: 60_000, what: 'daemon ready' });
      const before = await push(0, 40);
      await arrives(before, 'records before the flush');
      expect((await readyz()).body.checks).toMatchObject({
        started: true,
        redis: true,
        dispatcher: true,
        'sink:out': true,
      });

      // 1. FLUSHALL: the inbox stream and its consumer group vanish; new pushes are still answered 202.
      expect(cli(redisPort, 'FLUSHALL')).toBe('OK');
      await arrives(await push(100, 40), 'records pushed after FLUSHALL');
      await waitFor(async () => (await readyz()).status === 200, { timeoutMs: 60_000, what: 'ready after the flush' });

      // 2. A dispatcher that cannot recreate its group (the inbox key holds something else) is not ready, and says why.
      cli(redisPort, 'DEL', keysFor(PREFIX).inbox(0));
      cli(redisPort, 'SET', keysFor(PREFIX).inbox(0), 'not a stream');
      const stuck = await waitFor(
        async () => {
          const r = await readyz();
          return r.status === 503 && r.body.reasons?.dispatcher?.includes('WRONGTYPE') ? r : undefined;
        },
        { timeoutMs: 60_000, what: '/readyz 503 for the stuck dispatcher' },
      );
      expect(stuck.body.checks.dispatcher).toBe(false);
      expect(stuck.body.reasons!.dispatcher).toMatch(/^dispatcher failing for \d+ s: .*WRONGTYPE/);
      cli(redisPort, 'DEL', keysFor(PREFIX).inbox(0));
      await waitFor(async () => (await readyz()).status === 200, {
        timeoutMs: 60_000,
        what: 'ready once the inbox can be recreated',
      });
      await arrives(await push(200, 40), 'records pushed after the inbox was repaired');

      // 3. redis-server restarted without AOF: it comes back empty. While it is down, /readyz is 503 and says why.
      await redis.stop();
      const down = await waitFor(
        async () => {
          const r = await readyz();
          return r.status === 503 && r.body.reasons?.redis ? r : undefined;
        },
        { timeoutMs: 60_000, what: '/readyz 503 while Redis is down' },
      );
      expect(down.body.reasons!.redis).toMatch(/^Redis does not answer/);
      redis = await startRedisServer(noAof(redisPort));
      expect(cli(redisPort, 'DBSIZE')).toBe('0');
      await waitFor(async () => (await readyz()).status === 200, {
        timeoutMs: 60_000,
        what: 'ready after the restart',
      });
      const after = await push(300, 40);
      await arrives(after, 'records pushed after the restart');
      expect((await readyz()).status).toBe(200);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
    expect(daemon.output()).toContain('the inbox consumer group was gone');
  }, 400_000);
});
