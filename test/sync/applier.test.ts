/**
 * The write-back worker in-process, against the simulator and a real Redis: Graph's answer to the PATCH is emitted
 * as a `via: sync` record, and a queue whose stream and consumer group vanished (a Redis restarted empty, a
 * FLUSHALL) is made again: changes queued after that are still applied, and readiness recovers.
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observability/metrics.js';
import { connect } from '../../src/pipeline/redis.js';
import type { AlertRecord } from '../../src/record/types.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { GraphSource } from '../../src/sources/graph/source.js';
import { queueChanges } from '../../src/sync/route.js';
import { SyncService } from '../../src/sync/service.js';
import { graphSourceConfig } from '../helpers/graph.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-0000000a9911',
  clientId: 'app-applier',
  clientSecret: 'secret-applier',
};
const prefix = uniquePrefix('sync-applier');
const redis = new Redis(redisUrl());
const conns: Redis[] = [];
let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 5 });
});
afterAll(async () => {
  for (const c of conns) c.disconnect();
  redis.disconnect();
  await sim?.close();
  await deletePrefix(prefix);
});

describe('SyncService', () => {
  it('emits the PATCH answer as via: sync, and keeps applying after its stream vanished', async () => {
    const config = graphSourceConfig(sim, { name: 'contoso', ...T, extra: '    sync: { enabled: true, token: t }' });
    const emitted: AlertRecord[] = [];
    const emit = async (records: AlertRecord[]) => {
      emitted.push(...records);
      return { accepted: records.length, duplicates: 0, stale: 0, verdicts: [] };
    };
    const logger = pino({ level: 'silent' });
    const metrics = new Metrics({ defaultMetrics: false });
    const source = new GraphSource(config, { redis, prefix, emit, metrics, logger, takeoverMs: 2000, replicaId: 'r1' });
    const sync = new SyncService({
      redis,
      connect: (name) => {
        const c = connect({ url: redisUrl() }, { blocking: true, name });
        conns.push(c);
        return c;
      },
      prefix,
      emit,
      metrics,
      logger,
      owner: 'r1',
      takeoverMs: 2000,
    });
    sync.add({ config, client: source.client });
    await sync.start();
    try {
      const [a, b] = [sim.create(T.tenantId, 'alerts_v2'), sim.create(T.tenantId, 'alerts_v2')];
      const route = sync.routeSources[0]!;
      const q1 = await queueChanges(route, [{ resource: 'alerts_v2', id: a.id, status: 'resolved' }], 'test');
      if (!q1.ok) throw new Error('not queued');
      await waitFor(async () => (await route.queue.get(q1.ids[0]!))?.state === 'applied', { what: 'the first change' });
      const record = emitted.find((r) => r.id === a.id)!;
      expect(record).toMatchObject({ via: 'sync', status: 'resolved', source: 'contoso', resource: 'alerts_v2' });
      expect(record.revision).toBe(sim.list(T.tenantId, 'alerts_v2').find((x) => x.id === a.id)!.lastUpdateDateTime);

      await redis.del(route.queue.keys.queue); // the stream and its consumer group are gone
      // The worker makes them again by itself (not only when the next change is queued).
      await waitFor(async () => (await redis.exists(route.queue.keys.queue)) === 1, {
        timeoutMs: 30_000,
        what: 'the queue made again',
      });
      const q2 = await queueChanges(route, [{ resource: 'alerts_v2', id: b.id, status: 'inProgress' }], 'test');
      if (!q2.ok) throw new Error('not queued');
      await waitFor(async () => (await route.queue.get(q2.ids[0]!))?.state === 'applied', {
        timeoutMs: 30_000,
        what: 'the change queued after the stream vanished',
      });
      expect(sim.list(T.tenantId, 'alerts_v2').find((x) => x.id === b.id)!.status).toBe('inProgress');
      await waitFor(() => sync.readiness()['sync:contoso']!.ok, { what: 'the worker ready again' });
    } finally {
      await sync.stop();
      await source.stop();
    }
  }, 60_000);
});
