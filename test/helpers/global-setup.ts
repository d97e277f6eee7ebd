/**
 * Starts one real redis-server for the whole run on a free loopback port (or uses REDIS_URL when set).
 * Each test isolates itself with a unique key prefix (see test/helpers/redis.ts).
 *
 * With ALERTBRIDGE_TEST_REDIS=cluster it also starts a 3-primary / 3-replica Redis Cluster (redis-topology.ts), and
 * the pipelines of test/helpers/pipeline.ts run on it (`npm run test:cluster`).
 */
import type { TestProject } from 'vitest/node';
import 'vitest';
import { startRedisServer, type RedisServer } from '../../src/util/redis-server.js';
import { hostPort, startClusterTopology, type ClusterTopology } from './redis-topology.js';

let server: RedisServer | undefined;
let cluster: ClusterTopology | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.REDIS_URL;
  if (!url) {
    server = await startRedisServer();
    url = server.url;
  }
  project.provide('redisUrl', url);
  if (process.env.ALERTBRIDGE_TEST_REDIS === 'cluster') {
    cluster = await startClusterTopology();
    project.provide('redisCluster', cluster.nodes.map(hostPort));
  } else {
    project.provide('redisCluster', []);
  }
}

export async function teardown(): Promise<void> {
  await server?.stop();
  await cluster?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /** The cluster's nodes (`host:port`) when ALERTBRIDGE_TEST_REDIS=cluster, else empty. */
    redisCluster: string[];
  }
}
