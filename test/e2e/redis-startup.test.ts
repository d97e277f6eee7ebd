/**
 * Redis refusing alertbridge at start — a wrong password, or no Redis at all — is a runtime failure (exit 2) told in
 * one clear line, without the password: ioredis errors carry the AUTH command's arguments, and an unhandled one
 * (a BullMQ queue without an error listener) printed them in Node's crash report.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startRedisServer } from '../../src/util/redis-server.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'ab-redis-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, redis: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `
redis: ${redis}
server: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
sources:
  - { name: feed, type: webhook, token: t }
sinks:
  - { name: out, type: file, path: "${join(dir, 'out.ndjson')}" }
`,
  );
  return path;
}

describe('alertbridge run: Redis refusing at start', () => {
  it('a wrong password: exit 2, one line, the password nowhere', async () => {
    const redis = await startRedisServer({ args: ['--requirepass', 'the-right-one'] });
    try {
      const config = configFile(
        'wrong-password',
        `{ url: "${redis.url}", password: "wrong-secret-4711", key_prefix: pw }`,
      );
      const res = await runCli(['run', '--config', config]);
      expect(res.code, res.stderr).toBe(2);
      expect(res.stdout + res.stderr).not.toContain('wrong-secret-4711');
      const lines = res.stderr.trim().split('\n');
      expect(lines, res.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^starting alertbridge failed: Redis at redis:\/\/127\.0\.0\.1:\d+\/? refused the credentials \(WRONGPASS/,
      );
    } finally {
      await redis.stop();
    }
  }, 120_000);

  it('Redis down: exit 2, one line naming the address', async () => {
    const port = await freePort();
    const config = configFile('down', `{ url: "redis://:secret-in-url@127.0.0.1:${port}", key_prefix: down }`);
    const res = await runCli(['run', '--config', config]);
    expect(res.code, res.stderr).toBe(2);
    expect(res.stdout + res.stderr).not.toContain('secret-in-url');
    const lines = res.stderr.trim().split('\n');
    expect(lines, res.stderr).toHaveLength(1);
    expect(lines[0]).toContain(`starting alertbridge failed: Redis at redis://:***@127.0.0.1:${port}`);
    expect(lines[0]).toContain('ECONNREFUSED');
  }, 120_000);
});
