/**
 * Write-back applies the changes to one object in the order they were accepted, across takeovers (issue 15), with
 * two or more workers (as replicas) on a real Redis against the simulator:
 *
 * - two changes to one alert, A then B, queued together: the worker applying A stops the moment A's PATCH reaches
 *   Graph; the other worker takes the queue over and finishes A (found in Graph, no second PATCH) before B, so the
 *   alert ends with B's fields and each change sent one PATCH. (Before: the new holder skipped A, whose claim still
 *   ran, applied B, then re-sent A over it.)
 * - a change whose every attempt stops the worker applying it ends `failed` after `max_attempts`, and the change
 *   after it is then applied (it does not wait forever).
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
import type { SyncOutcome } from '../../src/sync/queue.js';
import { queueChanges } from '../../src/sync/route.js';
import { SyncService } from '../../src/sync/service.js';
import { graphSourceConfig } from '../helpers/graph.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-0000000a0d3e',
  clientId: 'app-sync-order',
  clientSecret: 'secret-sync-order',
};
const redis = new Redis(redisUrl());
const conns: Redis[] = [];
let sim: Simulator;
/** Called by the simulator as each request arrives (before it is handled). */
let onRequest: (req: { method: string; path: string; body: string }) => void = () => undefined;

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 31, onRequest: (req) => onRequest(req) });
});
afterAll(async () => {
  for (const c of conns) c.disconnect();
  redis.disconnect();
  await sim?.close();
});

interface Worker {
  owner: string;
  sync: SyncService;
  source: GraphSource;
  stopped?: Promise<void>;
}

/** One replica's write-back worker for source `contoso`: its own Graph client, blocking connection and owner id. */
async function worker(
  prefix: string,
  owner: string,
  o: { takeoverMs: number; maxAttempts: number; outcomes: SyncOutcome[] },
): Promise<Worker> {
  const config = graphSourceConfig(sim, {
    name: 'contoso',
    ...T,
    extra: `    request_timeout_ms: 2000\n    sync: { enabled: true, token: t, max_attempts: ${o.maxAttempts} }`,
  });
  const emit = async (records: AlertRecord[]) => ({
    accepted: records.length,
    duplicates: 0,
    stale: 0,
    verdicts: [],
  });
  const logger = pino({ level: 'silent' });
  const metrics = new Metrics({ defaultMetrics: false });
  const source = new GraphSource(config, {
    redis,
    prefix,
    emit,
    metrics,
    logger,
    takeoverMs: o.takeoverMs,
    replicaId: owner,
  });
  const sync = new SyncService({
    redis,
    connect: (name) => {
      const c = connect({ url: redisUrl() }, { blocking: true, name });
      conns.push(c);
      return c;
    },
    prefix,
    emit,
    emitOutcome: async (outcome) => void o.outcomes.push(outcome),
    metrics,
    logger,
    owner,
    takeoverMs: o.takeoverMs,
  });
  sync.add({ config, client: source.client });
  await sync.start();
  return { owner, sync, source };
}

/** A replica going away in the middle of a change: its requests are abandoned where they are. */
function stop(w: Worker): Promise<void> {
  w.stopped ??= w.sync.stop().then(() => w.source.stop());
  return w.stopped;
}

const alertOf = (id: string) => sim.list(T.tenantId, 'alerts_v2').find((a) => a.id === id)!;

describe('sync order across takeovers', () => {
  it('a new lease holder finishes the change the old one left before it applies the next change to that alert', async () => {
    const prefix = uniquePrefix('sync-order');
    const outcomes: SyncOutcome[] = [];
    const opts = { takeoverMs: 6000, maxAttempts: 5, outcomes };
    const id = String(sim.create(T.tenantId, 'alerts_v2', { status: 'new', assignedTo: null }).id);
    const patches: string[] = [];
    const workers: Worker[] = [];
    try {
      const first = await worker(prefix, 'replica-1', opts);
      workers.push(first);
      const lease = first.sync.routeSources[0]!.queue.keys.lease;
      await waitFor(async () => (await redis.get(lease)) === 'replica-1', { what: 'replica-1 holding the lease' });
      workers.push(await worker(prefix, 'replica-2', opts));

      // replica-1 stops the moment its PATCH of A reaches Graph (which applies it all the same).
      onRequest = (req) => {
        if (req.method !== 'PATCH' || !req.path.endsWith(`/alerts_v2/${id}`)) return;
        patches.push(req.body);
        if (patches.length === 1) void stop(first);
      };
      const route = first.sync.routeSources[0]!;
      const q = await queueChanges(
        route,
        [
          {
            resource: 'alerts_v2',
            id,
            status: 'inProgress',
            classification: 'truePositive',
            assigned_to: 'a@contoso.com',
          },
          {
            resource: 'alerts_v2',
            id,
            status: 'resolved',
            classification: 'falsePositive',
            assigned_to: 'b@contoso.com',
          },
        ],
        'test',
      );
      if (!q.ok) throw new Error('not queued');
      const [a, b] = q.ids as [string, string];
      await waitFor(() => outcomes.length >= 2, { timeoutMs: 120_000, what: 'both changes finished' });

      // Graph ends with the last accepted change, field by field.
      expect(alertOf(id)).toMatchObject({
        status: 'resolved',
        classification: 'falsePositive',
        assignedTo: 'b@contoso.com',
      });
      // Outcomes in the order accepted: A (its PATCH found in Graph by replica-2), then B, decided on A's state.
      expect(outcomes.map((o) => [o.change_id, o.outcome])).toEqual([
        [a, 'applied'],
        [b, 'applied'],
      ]);
      expect(outcomes[0]!.reason).toContain('earlier attempt');
      expect(outcomes[1]!.fields.find((f) => f.field === 'status')).toEqual({
        field: 'status',
        from: 'inProgress',
        to: 'resolved',
      });
      // Exactly one PATCH per change: A's (by replica-1), then B's.
      expect(patches.map((p) => (JSON.parse(p) as { status: string }).status)).toEqual(['inProgress', 'resolved']);
    } finally {
      onRequest = () => undefined;
      for (const w of workers) await stop(w);
      await deletePrefix(prefix);
    }
  }, 180_000);

  it('a change that stops every worker applying it fails after max_attempts, and the next change goes', async () => {
    const prefix = uniquePrefix('sync-order-poison');
    const outcomes: SyncOutcome[] = [];
    const opts = { takeoverMs: 2000, maxAttempts: 2, outcomes };
    const id = String(sim.create(T.tenantId, 'alerts_v2', { status: 'new' }).id);
    const workers: Worker[] = [];
    let kills = 0;
    try {
      workers.push(await worker(prefix, 'w1', opts));
      // Each PATCH of A stops the worker sending it, and never reaches Graph.
      onRequest = (req) => {
        if (req.method !== 'PATCH' || !req.path.endsWith(`/alerts_v2/${id}`)) return;
        if ((JSON.parse(req.body) as { status?: string }).status !== 'inProgress') return;
        kills++;
        void stop(workers.at(-1)!);
        throw new Error('the replica died with this request');
      };
      const route = workers[0]!.sync.routeSources[0]!;
      const q = await queueChanges(
        route,
        [
          { resource: 'alerts_v2', id, status: 'inProgress' },
          { resource: 'alerts_v2', id, status: 'resolved', classification: 'truePositive' },
        ],
        'test',
      );
      if (!q.ok) throw new Error('not queued');
      const [a, b] = q.ids as [string, string];
      // A replica replaces each one that stopped (at most six times: without a bound, A would stop them forever).
      for (let i = 0; i < 6 && outcomes.length < 2; i++) {
        await waitFor(() => kills > i || outcomes.length >= 2, { timeoutMs: 60_000, what: `a PATCH of A (${i + 1})` });
        if (outcomes.length >= 2) break;
        await stop(workers.at(-1)!);
        workers.push(await worker(prefix, `w${i + 2}`, opts));
      }
      await waitFor(() => outcomes.length >= 2, { timeoutMs: 60_000, what: 'both changes finished' });

      expect(kills).toBe(2);
      expect(outcomes.map((o) => [o.change_id, o.outcome])).toEqual([
        [a, 'failed'],
        [b, 'applied'],
      ]);
      expect(outcomes[0]!.reason).toContain('gave up after 2 attempts that ended without an outcome');
      expect(await route.queue.dead()).toEqual([a]);
      expect(alertOf(id)).toMatchObject({ status: 'resolved', classification: 'truePositive' });
    } finally {
      onRequest = () => undefined;
      for (const w of workers) await stop(w);
      await deletePrefix(prefix);
    }
  }, 300_000);
});
