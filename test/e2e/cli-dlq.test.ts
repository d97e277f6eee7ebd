/**
 * The dead-letter workflow as an operator runs it: a sink that fails permanently fills its DLQ while another sink
 * gets everything; `dlq list` shows the entries, the config is fixed, `dlq replay` re-drives them, and SIGTERM
 * drains and exits 0.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/util/redis-server.js';
import { runCli, spawnCli, type Daemon } from '../helpers/cli.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { alertV2 } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'ab-dlq-'));
const prefix = uniquePrefix('dlq');
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await deletePrefix(prefix);
});

function config(port: number, brokenPath: string): string {
  const path = join(dir, 'config.yaml');
  writeFileSync(
    path,
    `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { listen: "127.0.0.1:${port}" }
log: { format: json }
sources:
  - { name: feed, type: webhook, token: t0ken }
sinks:
  - { name: good, type: file, path: "${join(dir, 'good.ndjson')}" }
  - { name: flaky, type: file, path: "${brokenPath}", retry: { max_attempts: 2, initial_backoff_ms: 10 } }
  - { name: junk, type: file, path: "${join(dir, 'a-folder')}" }
`,
  );
  return path;
}

const lines = (p: string): Array<{ id: string }> => {
  try {
    return readFileSync(p, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string });
  } catch {
    return [];
  }
};

async function startDaemon(cfg: string, port: number): Promise<Daemon> {
  const d = spawnCli(['run', '--config', cfg]);
  await waitFor(
    async () => {
      if (d.child.exitCode !== null) throw new Error(`daemon exited: ${d.output()}`);
      return fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    { timeoutMs: 30_000, what: 'daemon ready' },
  );
  return d;
}

describe('alertbridge dlq', () => {
  it('lists, replays and purges dead letters; the healthy sink is unaffected', async () => {
    mkdirSync(join(dir, 'a-folder'));
    const port = await freePort();
    const broken = config(port, join(dir, 'a-folder'));
    let daemon = await startDaemon(broken, port);
    const alerts = Array.from({ length: 30 }, (_, i) => alertV2(i));
    const res = await fetch(`http://127.0.0.1:${port}/ingest/feed`, {
      method: 'POST',
      headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
    });
    expect(res.status).toBe(202);
    await waitFor(() => lines(join(dir, 'good.ndjson')).length >= 30, { what: 'good sink' });
    await waitFor(
      async () =>
        (await runCli(['dlq', 'list', '--config', broken, '--sink', 'flaky', '--limit', '1000'])).stdout
          .trim()
          .split('\n').length === 30,
    );

    const listed = await runCli(['dlq', 'list', '--config', broken, '--sink', 'flaky', '--limit', '1000']);
    expect(listed.code).toBe(0);
    const entries = listed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { sink: string; error: string; attempts: number; record: { id: string } });
    expect(entries).toHaveLength(30);
    expect(entries[0]!.sink).toBe('flaky');
    expect(entries[0]!.error).toMatch(/^writing batch to file 'flaky' \(.*a-folder\): EISDIR/);
    expect(listed.stderr).toContain("30 of 30 dead letter(s) of sink 'flaky' shown");

    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);

    // The operator fixes the path and re-drives the dead letters.
    const fixed = config(port, join(dir, 'flaky.ndjson'));
    const replay = await runCli(['dlq', 'replay', '--config', fixed, '--sink', 'flaky']);
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout)).toEqual({ sink: 'flaky', replayed: 30 });
    const purge = await runCli(['dlq', 'purge', '--config', fixed, '--sink', 'junk']);
    expect(JSON.parse(purge.stdout)).toEqual({ sink: 'junk', purged: 30 });

    daemon = await startDaemon(fixed, port);
    await waitFor(() => lines(join(dir, 'flaky.ndjson')).length >= 30, { what: 'replayed records' });
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    expect(new Set(lines(join(dir, 'flaky.ndjson')).map((r) => r.id))).toEqual(new Set(alerts.map((a) => a.id)));
    expect(lines(join(dir, 'good.ndjson'))).toHaveLength(30);
    const after = await runCli(['dlq', 'list', '--config', fixed, '--sink', 'flaky']);
    expect(after.stdout).toBe('');
  }, 120_000);

  it('refuses an unknown sink with exit 1', async () => {
    const cfg = config(await freePort(), join(dir, 'x.ndjson'));
    const res = await runCli(['dlq', 'list', '--config', cfg, '--sink', 'nope']);
    expect(res.code).toBe(1);
    expect(res.stderr.trim()).toBe('--sink: no sink named "nope" in the config (sinks: good, flaky, junk)');
  });
});
