/**
 * A redis-server of the bench's own (AOF on, noeviction, as in production), which it may flush, kill and restart on
 * the same port and data folder — the chaos runs need that, and sharing another engineer's Redis would skew both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, startRedisServer, type RedisServer } from '../../src/util/redis-server.js';

export interface BenchRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** The current redis-server process. */
  pid(): number | undefined;
  /** A plain client (commands fail fast while Redis is down). */
  client: Redis;
  /** `kill -9` of redis-server: what reached the AOF survives, nothing else happens. */
  kill(): Promise<void>;
  /** Starts redis-server again on the same port and folder (it replays the AOF). */
  restart(): Promise<void>;
  /** used_memory from INFO memory, in bytes. */
  usedMemory(): Promise<number>;
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export async function startBenchRedis(): Promise<BenchRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-bench-redis-'));
  const port = await freePort();
  let server: RedisServer = await startRedisServer({ port, dir });
  const client = new Redis(server.url, { maxRetriesPerRequest: 2, retryStrategy: (n) => Math.min(n * 100, 1000) });
  client.on('error', () => undefined);
  return {
    url: server.url,
    port,
    dir,
    pid: () => server.process.pid,
    client,
    async kill() {
      const exited = new Promise((r) => server.process.once('exit', r));
      server.process.kill('SIGKILL');
      await exited;
    },
    async restart() {
      server = await startRedisServer({ port, dir });
    },
    async usedMemory() {
      const info = await client.info('memory');
      return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0);
    },
    async flush() {
      await client.flushall();
    },
    async stop() {
      client.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
