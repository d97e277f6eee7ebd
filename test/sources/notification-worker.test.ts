/**
 * The change-notification worker against the simulator and a real Redis stream: which Graph answers end a notified
 * alert (fetched, gone, refused for good) and which keep it pending, how often it is re-fetched, and for how long.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/pipeline/redis.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { RequestBudget } from '../../src/sources/graph/budget.js';
import { GraphClient } from '../../src/sources/graph/client.js';
import { createCredential, trustedCa } from '../../src/entra/credential.js';
import { NotificationWorker } from '../../src/sources/graph/notification-worker.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { captureLogger } from '../helpers/graph.js';
import { cleanup, metricValue, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { redisUrl } from '../helpers/redis.js';
import { simulatorLogin } from '../helpers/simulator.js';
import { waitFor } from '../helpers/wait.js';
import { mintReplicaId } from '../../src/pipeline/replica.js';
import { keysFor } from '../../src/pipeline/keys.js';

const T: TenantCredentials = {
  tenantId: 'dddddddd-0000-4000-8000-0000000000c1',
  clientId: 'app-notify',
  clientSecret: 'secret-notify',
};
const TAKEOVER_MS = 200;

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 17 });
});
afterAll(() => sim.close());

interface Harness {
  tp: TestPipeline;
  sink: RecordingSink;
  worker: NotificationWorker;
  lines: Array<Record<string, unknown>>;
  stream: string;
  cmd: Redis;
  blocking: Redis;
  client: GraphClient;
}
let h: Harness | undefined;
afterEach(async () => {
  if (h) {
    await h.worker.close();
    await h.client.close();
    for (const c of [h.cmd, h.blocking]) await c.quit();
    await cleanup(h.tp);
  }
  h = undefined;
  sim.setFaults({ errorStatus: null });
  sim.clearLog();
});

async function start(opts: { maxAgeMs?: number } = {}): Promise<Harness> {
  const sink = new RecordingSink('out');
  const tp = await startTestPipeline([{ sink }]);
  const { logger, lines } = captureLogger();
  const cmd = connect({ url: redisUrl() });
  const blocking = connect({ url: redisUrl() }, { blocking: true });
  // One attempt per fetch: the worker's own retry schedule is what is under test, not the client's.
  const client = new GraphClient({
    source: 'contoso',
    tenantId: T.tenantId,
    graphUrl: sim.url,
    credential: () => createCredential(simulatorLogin(sim, T)),
    budget: new RequestBudget(cmd, `${tp.prefix}:budget`, 10_000),
    metrics: tp.metrics,
    logger,
    ca: trustedCa(sim.caFile),
    timeoutMs: 10_000,
    maxRetries: 0,
    maxResponseBytes: 1_048_576,
  });
  const stream = keysFor(tp.prefix).notifications;
  const worker = new NotificationWorker({
    redis: blocking,
    streamKey: stream,
    clients: new Map([['contoso', { client, tenantId: T.tenantId }]]),
    emit: (records) => tp.pipeline.emit(records),
    logger,
    metrics: tp.metrics,
    takeoverMs: TAKEOVER_MS,
    replicaId: mintReplicaId(),
    ...opts,
  });
  await worker.start();
  return (h = { tp, sink, worker, lines, stream, cmd, blocking, client });
}

/** What the notification route does: one stream entry per notified alert. */
const notify = (x: Harness, id: string) => x.cmd.xadd(x.stream, '*', 's', 'contoso', 'id', id);
/** Nothing left: every entry acknowledged and deleted. */
const settled = async (x: Harness) =>
  (await x.cmd.xlen(x.stream)) === 0 && ((await x.cmd.xpending(x.stream, 'fetch')) as [number])[0] === 0;
const fetches = (id: string) => sim.requestLog.filter((e) => e.path === `/v1.0/security/alerts/${id}`);
const dropped = (x: Harness, reason: string) =>
  metricValue(x.tp.metrics, 'alertbridge_webhook_dropped_total', { source: 'contoso', reason });

describe('notification worker', () => {
  it('acknowledges and drops what Graph refuses for good (400, 403, 404, 410), once each, with a warn log and a metric', async () => {
    const x = await start();
    const alert = sim.create(T.tenantId, 'alerts');
    await notify(x, String(alert.id));
    await notify(x, 'gone-0001');
    await waitFor(() => x.sink.received.some((r) => r.id === alert.id && r.via === 'webhook'), {
      what: 'notified alert delivered',
    });
    await waitFor(() => settled(x), { what: 'both entries acknowledged' });

    const refused = new Map<number, string>();
    for (const status of [400, 403, 410]) {
      sim.setFaults({ errorStatus: status });
      const a = sim.create(T.tenantId, 'alerts');
      refused.set(status, String(a.id));
      await notify(x, String(a.id));
      await waitFor(() => settled(x), { what: `the ${status} entry acknowledged` });
    }
    sim.setFaults({ errorStatus: null });
    for (const id of refused.values()) expect(fetches(id)).toHaveLength(1); // never re-fetched
    expect(fetches('gone-0001')).toHaveLength(1);
    for (const reason of ['http_400', 'http_403', 'http_404', 'http_410']) expect(await dropped(x, reason)).toBe(1);
    const warned = x.lines.filter((l) => l.level === 40 && String(l.msg).includes('dropped'));
    expect(warned.map((l) => l.id).sort()).toEqual([...refused.values(), 'gone-0001'].sort());
    expect(String(warned.find((l) => l.id === refused.get(403))!.msg)).toBe(
      `notified alert ${refused.get(403)} of source 'contoso' (tenant ${T.tenantId}): Graph answered 403, which a retry will not change: dropped (polling of legacy alerts is the safety net)`,
    );
  });

  it('keeps a notification pending on retryable answers (503), re-fetching with a doubling delay, and delivers it once Graph answers', async () => {
    const x = await start();
    const alert = sim.create(T.tenantId, 'alerts');
    sim.setFaults({ errorStatus: 503 });
    await notify(x, String(alert.id));
    await waitFor(() => fetches(String(alert.id)).length >= 5, { what: 'five attempts', timeoutMs: 30_000 });
    const at = fetches(String(alert.id)).map((e) => Date.parse(e.at));
    // takeover_ms after the first attempt, then twice as long each time (lower bounds: a busy machine only adds)
    for (let k = 0; k < 4; k++) expect(at[k + 1]! - at[k]!).toBeGreaterThanOrEqual(TAKEOVER_MS * 2 ** k - 20);
    expect(await settled(x)).toBe(false);
    sim.setFaults({ errorStatus: null });
    await waitFor(() => x.sink.received.some((r) => r.id === alert.id), {
      what: 'delivered once Graph answers',
      timeoutMs: 30_000,
    });
    await waitFor(() => settled(x));
    expect(await dropped(x, 'expired')).toBe(0);
  }, 60_000);

  it('takes over what a replica that died had read, after takeover_ms', async () => {
    const x = await start();
    const alert = sim.create(T.tenantId, 'alerts');
    await x.worker.close(); // this replica stops; another reads the entry and dies before fetching it
    await notify(x, String(alert.id));
    const read = (await x.cmd.xreadgroup(
      'GROUP',
      'fetch',
      'dead-replica',
      'COUNT',
      10,
      'STREAMS',
      x.stream,
      '>',
    )) as Array<[string, unknown[]]>;
    expect(read[0]![1]).toHaveLength(1);
    const next = new NotificationWorker({
      redis: x.blocking,
      streamKey: x.stream,
      clients: new Map([['contoso', { client: x.client, tenantId: T.tenantId }]]),
      emit: (records) => x.tp.pipeline.emit(records),
      logger: captureLogger().logger,
      metrics: x.tp.metrics,
      takeoverMs: TAKEOVER_MS,
      replicaId: mintReplicaId(),
    });
    x.worker = next;
    await next.start();
    await waitFor(() => x.sink.received.some((r) => r.id === alert.id), { what: 'taken over and delivered' });
    await waitFor(() => settled(x));
    expect(fetches(String(alert.id))).toHaveLength(1);
  });

  it('drops loudly a notification still failing past its maximum age', async () => {
    const x = await start({ maxAgeMs: 1500 });
    const alert = sim.create(T.tenantId, 'alerts');
    sim.setFaults({ errorStatus: 500 });
    await notify(x, String(alert.id));
    await waitFor(() => settled(x), { what: 'the entry given up on', timeoutMs: 30_000 });
    expect(fetches(String(alert.id)).length).toBeGreaterThanOrEqual(2);
    expect(await dropped(x, 'expired')).toBe(1);
    const err = x.lines.find((l) => l.level === 50)!;
    expect(err).toMatchObject({ source: 'contoso', tenant: T.tenantId, id: alert.id });
    expect(String(err.msg)).toMatch(
      new RegExp(
        `^notified alert ${String(alert.id)} of source 'contoso' \\(tenant ${T.tenantId}\\): still not fetched after [\\d.]+ s \\(max 1.5 s\\): dropped \\(polling of legacy alerts is the safety net\\); last error: GET alerts for source 'contoso' .* HTTP 500`,
      ),
    );
  }, 60_000);
});
