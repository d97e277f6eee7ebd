/**
 * `npm run test:cluster` (ALERTBRIDGE_TEST_REDIS=cluster): the pipeline suites run on a real 3-primary / 3-replica
 * Redis Cluster. This file proves that they do — the pipeline's connections are Cluster clients and its keys land on
 * several primaries — so that the slice cannot pass by silently running on the single server. Skipped otherwise.
 */
import { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { isCluster } from '../../src/pipeline/redis.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { pipelinesPerTest } from '../helpers/pipeline.js';
import { records } from '../helpers/records.js';
import { clusterMode, testRedisConfig } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const start = pipelinesPerTest();

describe.runIf(clusterMode())('pipelines in cluster mode', () => {
  it('run on Cluster clients, spread their keys over the primaries, and deliver every record once', async () => {
    const a = new RecordingSink('a');
    const b = new RecordingSink('b');
    const tp = await start([
      { sink: a, maxRecords: 50 },
      { sink: b, maxRecords: 50 },
    ]);
    expect(isCluster(tp.redis)).toBe(true);
    const batch = records(400);
    expect((await tp.pipeline.emit(batch)).accepted).toBe(400);
    await waitFor(() => a.received.length >= 400 && b.received.length >= 400, {
      what: 'both sinks',
      timeoutMs: 30_000,
    });
    await waitFor(() => tp.pipeline.idle(), { what: 'idle' });
    expect(new Set(a.keys()).size).toBe(400);
    expect(a.received).toHaveLength(400);
    expect(b.received).toHaveLength(400);
    // The dedup states stay (with their TTL): count them per primary.
    const nodes = testRedisConfig().cluster!.nodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) }));
    const cluster = new Cluster(nodes);
    try {
      await new Promise<void>((resolve) => cluster.once('ready', () => resolve()));
      const perPrimary = await Promise.all(
        cluster.nodes('master').map(async (r) => (await r.keys(`${tp.prefix}:dd:*`)).length),
      );
      expect(perPrimary.reduce((x, y) => x + y, 0)).toBe(400);
      expect(perPrimary.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
    } finally {
      cluster.disconnect();
    }
  });
});
