/**
 * Redis state that vanishes under the pipeline (a Redis restarted without AOF, a failover to an empty replica, a
 * FLUSHALL): the consumer groups are recreated and delivery resumes by itself. Each test has its own redis-server,
 * since FLUSHALL would wipe every other test's keys on the shared one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observability/metrics.js';
import { connect } from '../../src/pipeline/redis.js';
import { NotificationWorker } from '../../src/sources/graph/notification-worker.js';
import { startRedisServer, type RedisServer } from '../../src/util/redis-server.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { metricValue, silentLogger, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { records } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';
import { mintReplicaId } from '../../src/pipeline/replica.js';

let server: RedisServer | undefined;
let tp: TestPipeline | undefined;
afterEach(async () => {
  await tp?.close();
  await server?.stop();
  tp = server = undefined;
});

describe('Redis state vanishing under the pipeline', () => {
  it('FLUSHALL mid-stream: the dispatcher recreates its consumer group and delivery resumes by itself', async () => {
    server = await startRedisServer({ args: ['--appendonly', 'no'] });
    const sink = new RecordingSink('s');
    tp = await startTestPipeline([{ sink, maxRecords: 20 }], { redisUrl: server.url });
    await tp.pipeline.emit(records(50));
    await waitFor(() => sink.received.length >= 50, { what: 'first records' });

    await tp.redis.flushall();
    // The group is gone: without recreating it the dispatcher loops on NOGROUP forever.
    await tp.pipeline.emit(records(50, {}, 1000));
    await waitFor(() => sink.received.length >= 100, { timeoutMs: 30_000, what: 'records accepted after the flush' });
    expect(new Set(sink.keys()).size).toBe(100);
    await waitFor(() => tp!.pipeline.health().dispatcher?.ok, { what: 'dispatcher healthy' });
  });

  it('FLUSHALL under the notification worker: it recreates its consumer group and reads new notifications', async () => {
    server = await startRedisServer({ args: ['--appendonly', 'no'] });
    const cmd = connect({ url: server.url });
    const blocking = connect({ url: server.url }, { blocking: true });
    const metrics = new Metrics({ defaultMetrics: false });
    const stream = 'ab:notifications';
    // No Graph source is configured: each entry is read, acknowledged and dropped as `unknown_source`, which is
    // all the stream consumer needs to show.
    const worker = new NotificationWorker({
      redis: blocking,
      streamKey: stream,
      clients: new Map(),
      emit: () => Promise.reject(new Error('nothing to emit')),
      logger: silentLogger,
      metrics,
      takeoverMs: 200,
      replicaId: mintReplicaId(),
    });
    const dropped = () => metricValue(metrics, 'alertbridge_webhook_dropped_total', { reason: 'unknown_source' });
    try {
      await worker.start();
      await cmd.xadd(stream, '*', 's', 'gone', 'id', 'a1');
      await waitFor(async () => (await dropped()) === 1, { what: 'first notification read' });
      await cmd.flushall();
      await cmd.xadd(stream, '*', 's', 'gone', 'id', 'a2');
      await waitFor(async () => (await dropped()) === 2, {
        timeoutMs: 30_000,
        what: 'notification written after the flush read',
      });
      await waitFor(async () => (await cmd.xlen(stream)) === 0, { what: 'entry acknowledged and deleted' });
      expect(worker.status().ok).toBe(true);
    } finally {
      await worker.close();
      for (const c of [cmd, blocking]) await c.quit();
    }
  });
});
