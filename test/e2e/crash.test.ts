/**
 * Crash safety: `kill -9` of a running `alertbridge run` in the middle of a stream, then a restart. Every record
 * the daemon acknowledged (HTTP 202 from the push route) must reach the sink; duplicates are allowed and counted.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/util/redis-server.js';
import { spawnCli, type Daemon } from '../helpers/cli.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { alertV2 } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'ab-crash-'));
const prefix = uniquePrefix('crash');
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await deletePrefix(prefix);
});

function writeConfig(port: number, out: string): string {
  const path = join(dir, 'config.yaml');
  writeFileSync(
    path,
    `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { listen: "127.0.0.1:${port}" }
pipeline: { takeover_ms: 2000 }
log: { level: info, format: json }
sources:
  - { name: feed, type: webhook, token: crash-test-token }
sinks:
  - { name: out, type: file, path: "${out}", batch: { max_records: 50 } }
`,
  );
  return path;
}

async function ready(port: number, d: Daemon): Promise<void> {
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
}

function deliveredIds(path: string): string[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  // A kill -9 can cut the last line of a write short; that record is written again after restart.
  return text
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        return [(JSON.parse(l) as { id: string }).id];
      } catch {
        return [];
      }
    });
}

describe('crash safety', () => {
  it('delivers every acknowledged record after kill -9 and restart', async () => {
    const port = await freePort();
    const out = join(dir, 'out.ndjson');
    const config = writeConfig(port, out);
    const env = {};
    let daemon = spawnCli(['run', '--config', config], env);
    await ready(port, daemon);

    const acked = new Set<string>();
    let next = 0;
    let refused = 0;
    const send = async (): Promise<void> => {
      const batch = Array.from({ length: 20 }, () => alertV2(next++));
      try {
        const res = await fetch(`http://127.0.0.1:${port}/ingest/feed`, {
          method: 'POST',
          headers: { authorization: 'Bearer crash-test-token', 'content-type': 'application/json' },
          body: JSON.stringify(batch),
        });
        if (res.status === 202) for (const a of batch) acked.add(a.id as string);
        else refused++;
      } catch {
        refused++; // the daemon is down: not acknowledged, so the sender still owns these
      }
    };

    // Stream, and kill -9 while batches are in flight and others are queued.
    const streaming = (async () => {
      for (let i = 0; i < 150; i++) await send();
    })();
    await waitFor(() => acked.size >= 1000, { what: '1000 acknowledged' });
    daemon.child.kill('SIGKILL');
    const killed = await daemon.exited;
    expect(killed.signal).toBe('SIGKILL');
    await streaming;
    const deliveredBeforeRestart = new Set(deliveredIds(out)).size;

    daemon = spawnCli(['run', '--config', config], env);
    await ready(port, daemon);
    for (let i = 0; i < 30; i++) await send();

    await waitFor(
      () => {
        const got = new Set(deliveredIds(out));
        return [...acked].every((id) => got.has(id));
      },
      { timeoutMs: 60_000, what: 'every acknowledged record delivered' },
    );

    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);

    const lines = deliveredIds(out);
    const unique = new Set(lines);
    const duplicates = lines.length - unique.size;
    // Delivered records are ones that were sent (nothing invented); acknowledged ones are all there.
    for (const id of unique) expect(id).toMatch(/^da\d{8}_test$/);
    expect([...acked].filter((id) => !unique.has(id))).toEqual([]);
    console.log(
      `crash test: sent ${next}, acknowledged ${acked.size}, refused batches ${refused}, ` +
        `delivered before restart ${deliveredBeforeRestart}, delivered ${unique.size}, duplicates ${duplicates}`,
    );
  }, 120_000);
});
