/**
 * `redis.durability` against real redis-servers started here: a primary with a replica (`--replicaof`), and a lone
 * primary. A push is acknowledged (202) only once the replicas asked for have it; without them, 503 and a clear error.
 */
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { startRedisServer, type RedisServer } from '../../src/util/redis-server.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { alertV2 } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';
import { Durability } from '../../src/pipeline/durability.js';
import { connect } from '../../src/pipeline/redis.js';
import { GraphSource } from '../../src/sources/graph/source.js';
import { startSimulator } from '../../src/simulator/server.js';
import { captureLogger, graphSourceConfig, pollNow } from '../helpers/graph.js';
import { cleanup, startTestPipeline } from '../helpers/pipeline.js';
import { mintReplicaId } from '../../src/pipeline/replica.js';

let primary: RedisServer;
let replica: RedisServer;
let lone: RedisServer;
beforeAll(async () => {
  [primary, lone] = await Promise.all([startRedisServer(), startRedisServer()]);
  replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  const r = new Redis(replica.url);
  try {
    await waitFor(async () => /master_link_status:up/.test(await r.info('replication')), {
      timeoutMs: 30_000,
      what: 'replica in sync',
    });
  } finally {
    r.disconnect();
  }
}, 60_000);
afterAll(async () => {
  await Promise.all([replica?.stop(), primary?.stop(), lone?.stop()]);
});

let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

async function startApp(url: string, durability: string): Promise<{ app: App; logs: () => string }> {
  let out = '';
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    }),
  );
  const res = parseConfig(
    `
redis: { url: "${url}", key_prefix: "dur", durability: ${durability} }
sources:
  - { name: partner, type: webhook, token: tok }
sinks:
  - { name: out, type: file, path: /dev/null }
`,
    { baseDir: '/', env: {} },
  );
  if (!res.ok) throw new Error(res.errors.join('\n'));
  app = buildApp(res.config, { logger, sinkOverrides: { out: new RecordingSink('out') } });
  await app.start({ listen: false });
  return { app, logs: () => out };
}

function push(a: App, id: number) {
  return a.server.inject({
    method: 'POST',
    url: '/ingest/partner',
    headers: { authorization: 'Bearer tok', 'content-type': 'application/json' },
    payload: JSON.stringify(alertV2(id)),
  });
}

describe('redis.durability', () => {
  it('replicas: 1 with a replica connected: 202 once the replica has the record', async () => {
    const { app: a, logs } = await startApp(primary.url, '{ replicas: 1, timeout_ms: 5000 }');
    expect(logs()).toMatch(
      /redis guarantees: aof, appendfsync everysec; 1 replica\(s\) connected; acknowledging after WAIT for 1 replica\(s\)/,
    );
    const res = await push(a, 1);
    expect(res.statusCode, res.body).toBe(202);
    // WAIT returned: the replica holds the dedup state of the record now, not "soon".
    const r = new Redis(replica.url);
    try {
      expect((await r.keys('dur:*')).length).toBeGreaterThan(0);
    } finally {
      r.disconnect();
    }
  });

  it('replicas: 1 without a replica: warned at start, the push gets 503, emit fails with a clear error', async () => {
    const { app: a, logs } = await startApp(lone.url, '{ replicas: 1, timeout_ms: 300 }');
    expect(logs()).toContain('redis.durability.replicas is 1 but 0 replica(s) are connected');
    expect((await push(a, 2)).statusCode).toBe(503);
    await expect(a.pipeline.emit([])).resolves.toMatchObject({ accepted: 0 });
    const res = await push(a, 3);
    expect(res.statusCode).toBe(503);
    expect(logs()).toContain('only 0 of 1 replica(s) acknowledged it within 300 ms (redis.durability.replicas)');
  });

  it('aof_fsync: says at start whether this Redis can wait for the fsync (WAITAOF, 7.2+)', async () => {
    const { app: a, logs } = await startApp(lone.url, '{ aof_fsync: true }');
    const version = /redis_version:(\d+)\.(\d+)/.exec(await a.redis.info('server'))!;
    if (Number(version[1]) * 100 + Number(version[2]) < 702) {
      expect(logs()).toContain(
        `redis.durability.aof_fsync: Redis ${/redis_version:([^\r\n]+)/.exec(await a.redis.info('server'))![1]} has no WAITAOF (7.2+), so alertbridge cannot wait for the fsync`,
      );
      expect(logs()).toContain('no WAITAOF on this version');
    } else {
      expect(logs()).toContain('acknowledging after WAITAOF on the primary');
    }
    expect((await push(a, 4)).statusCode).toBe(202);
  });
});

describe('redis.durability when the connection drops between the write and the wait', () => {
  it("does not acknowledge: WAIT on the new connection would count none of the old one's writes", async () => {
    const conn = connect({ url: primary.url });
    conn.on('error', () => undefined);
    const { logger } = captureLogger();
    const durability = new Durability(conn, { replicas: 1, aof_fsync: false, timeout_ms: 2000 }, logger);
    const admin = new Redis(primary.url);
    try {
      const id = Number(await conn.client('ID'));
      const mark = durability.mark();
      await conn.set('dur:dropped-write', '1');
      // What the primary's death does (there, the write may never reach a replica): the connection drops, ioredis
      // reconnects — to the promoted replica, in production — and a wait goes out on the new connection.
      await admin.client('KILL', 'ID', String(id));
      await waitFor(async () => conn.status === 'ready' && Number(await conn.client('ID')) !== id, {
        what: 'the reconnection',
      });
      // WAIT on the new connection returns at once with the replica's count: it proves nothing about the write.
      expect(Number(await conn.call('WAIT', 1, 2000))).toBe(1);
      await expect(durability.wait(mark)).rejects.toThrow(
        'written to Redis, but the connection dropped before the replicas and the fsync could be confirmed (a failover?): not acknowledged',
      );
      // A write made on the new connection is acknowledged as usual.
      const again = durability.mark();
      await conn.set('dur:dropped-write', '2');
      await expect(durability.wait(again)).resolves.toBeUndefined();
    } finally {
      admin.disconnect();
      conn.disconnect();
    }
  });
});

describe('redis.durability on a cursor move', () => {
  const T = { tenantId: 'cccccccc-0000-4000-8000-000000000201', clientId: 'app-dur', clientSecret: 'secret-dur' };

  it.each(['with the replica', 'without a replica'] as const)(
    '%s',
    async (which) => {
      const sim = await startSimulator({ tenants: [T], seed: 5 });
      const server = which === 'with the replica' ? primary : lone;
      const tp = await startTestPipeline([{ sink: new RecordingSink('out') }], { redisUrl: server.url });
      const { logger, lines } = captureLogger();
      const durability = new Durability(tp.redis, { replicas: 1, aof_fsync: false, timeout_ms: 500 }, logger);
      const source = new GraphSource(graphSourceConfig(sim, { name: 'dur', ...T }), {
        redis: tp.redis,
        prefix: tp.prefix,
        emit: (r) => tp.pipeline.emit(r),
        metrics: tp.metrics,
        logger,
        takeoverMs: 5000,
        replicaId: mintReplicaId(),
        waitDurable: () => durability.wait(),
      });
      try {
        sim.create(T.tenantId, 'alerts_v2');
        const poller = source.pollers[0]!;
        const summary = await pollNow(poller);
        if (which === 'with the replica') {
          expect(summary).toMatchObject({ fetched: 1, accepted: 1 });
          // WAIT returned: the replica has the cursor the poll moved.
          const r = new Redis(replica.url);
          try {
            const keys = await r.keys(`${tp.prefix}:cursor:*`);
            expect(keys.length).toBeGreaterThan(0);
            expect(await r.hget(keys[0]!, 'watermark')).toBe((await poller.cursor()).watermark);
          } finally {
            r.disconnect();
          }
        } else {
          expect(summary).toBeNull(); // the poll failed: logged, retried at the next poll
          const failed = lines.find((l) => l.level === 50 && String(l.msg).includes('failed; cursor unchanged'));
          expect(JSON.stringify(failed)).toContain('only 0 of 1 replica(s) acknowledged it within 500 ms');
        }
      } finally {
        await source.stop();
        await cleanup(tp);
        await sim.close();
      }
    },
    60_000,
  );
});
