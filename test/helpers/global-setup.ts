/**
 * Starts one real redis-server for the whole run on a free loopback port (or uses REDIS_URL when set).
 * Each test isolates itself with a unique key prefix (see test/helpers/redis.ts).
 */
import type { TestProject } from 'vitest/node';
import 'vitest';
import { startRedisServer, type RedisServer } from '../../src/util/redis-server.js';

let server: RedisServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.REDIS_URL;
  if (!url) {
    server = await startRedisServer();
    url = server.url;
  }
  project.provide('redisUrl', url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
