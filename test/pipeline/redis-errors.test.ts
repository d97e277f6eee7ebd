/** Redis errors reach logs and messages without secrets (real redis-server with requirepass). */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { connect, describeRedisFailure } from '../../src/pipeline/redis.js';
import { startRedisServer, type RedisServer } from '../../src/util/redis-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer({ args: ['--requirepass', 'the-right-one'] });
});
afterAll(async () => {
  await server.stop();
});

async function authError(password: string): Promise<Error> {
  const client = connect({ url: server.url, password });
  try {
    return await new Promise<Error>((resolve) => client.once('error', resolve));
  } finally {
    client.disconnect();
  }
}

describe('Redis errors', () => {
  it('an AUTH error logged whole does not show the password (ioredis puts it in err.command.args)', async () => {
    const err = await authError('wrong-pw-9921');
    expect(JSON.stringify((err as Error & { command?: unknown }).command)).toContain('wrong-pw-9921');
    let out = '';
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    createLogger({ level: 'info', format: 'json', destination }).error({ err }, 'sink worker error');
    await new Promise((r) => setImmediate(r));
    expect(out).toContain('WRONGPASS');
    expect(out).not.toContain('wrong-pw-9921');
  });

  it('describes a refused login in one line, naming the server with its password masked', async () => {
    const err = await authError('wrong-pw-9921');
    const url = server.url.replace('redis://', 'redis://:in-url-secret@');
    const described = describeRedisFailure(url, err);
    expect(described.message).toBe(
      `Redis at redis://:***@127.0.0.1:${server.port} refused the credentials (WRONGPASS invalid username-password pair or user is disabled.): check redis.password (or password_file) and the user (redis.username or the URL's)`,
    );
  });
});
