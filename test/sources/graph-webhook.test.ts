/**
 * Graph change notifications end to end: the simulator creates the subscription through the real validation
 * handshake, notifies the daemon's HTTP server, and the notified alerts reach the sink with `via: webhook`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { subscriptionsCommand } from '../../src/cli/subscriptions.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { freePort, startRedisServer, type RedisServer } from '../../src/util/redis-server.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { graphSourceYaml } from '../helpers/e2e.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'cccccccc-0000-4000-8000-000000000003',
  clientId: 'app-c',
  clientSecret: 'secret-c',
};
const STATE = 'client-state-value-123';
let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({
    tenants: [T],
    seed: 3,
    subscriptions: { batchMs: 50, retryBaseMs: 300, validationTimeoutMs: 5000 },
  });
});
afterAll(() => sim.close());

interface Running {
  config: Config;
  app: App;
  sink: RecordingSink;
  prefix: string;
  port: number;
}
let running: Running[] = [];
afterEach(async () => {
  for (const r of running) {
    await r.app.stop();
    await deletePrefix(r.prefix);
  }
  running = [];
  sim.setFaults({ partialProvider: null });
});

async function start(opts: { redis?: string; expirationMinutes?: number } = {}): Promise<Running> {
  const port = await freePort();
  const prefix = uniquePrefix('webhook');
  const res = parseConfig(
    `
redis: { url: "${opts.redis ?? redisUrl()}", key_prefix: "${prefix}" }
server: { listen: "127.0.0.1:${port}", public_url: "http://127.0.0.1:${port}" }
pipeline: { takeover_ms: 2000 }
sources:
${graphSourceYaml(sim, T, {
  name: 'contoso',
  resources: ['alerts'],
  extra: `    poll_interval_ms: 3600000
    webhook: { enabled: true, client_state: "${STATE}", expiration_minutes: ${opts.expirationMinutes ?? 60} }
`,
})}sinks:
  - { name: out, type: file, path: /dev/null }
`,
    { baseDir: '/', env: {} },
  );
  if (!res.ok) throw new Error(res.errors.join('\n'));
  const sink = new RecordingSink('out');
  const app = buildApp(res.config, {
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    sinkOverrides: { out: sink },
  });
  await app.start();
  const r = { config: res.config, app, sink, prefix, port };
  running.push(r);
  return r;
}

const ipc = () =>
  sim.create(T.tenantId, 'alerts', {
    vendorInformation: { provider: 'IPC', vendor: 'Microsoft', providerVersion: '2.0', subProvider: null },
  });

describe('Graph change notifications', () => {
  it('subscribes through the handshake, delivers notified alerts, renews, and reauthorizes on a lifecycle event', async () => {
    const r = await start();
    const manager = r.app.source('graph_security', 'contoso')!.subscriptions!;
    const sub = await waitFor(() => manager.stored(), { what: 'subscription created' });
    expect(sim.deliveryLog.some((d) => d.kind === 'validation' && d.status === 200)).toBe(true);
    expect(sub.notificationUrl).toBe(`http://127.0.0.1:${r.port}/webhooks/graph/contoso`);

    const created = [ipc(), ipc(), ipc()];
    const viaWebhook = () => r.sink.received.filter((x) => x.via === 'webhook');
    await waitFor(() => viaWebhook().length >= 3, { what: 'notified alerts delivered' });
    expect(
      viaWebhook()
        .map((x) => x.id)
        .sort(),
    ).toEqual(created.map((a) => String(a.id)).sort());
    expect(viaWebhook().every((x) => x.resource === 'alerts')).toBe(true);
    // an update is notified and delivered as a new revision
    sim.update(T.tenantId, 'alerts', String(created[0]!.id));
    await waitFor(() => viaWebhook().length >= 4, { what: 'update delivered' });

    // renewal: pretend half the lifetime has passed
    await r.app.redis.set(
      `${r.prefix}:subscription:contoso`,
      JSON.stringify({ ...sub, expirationDateTime: new Date(Date.now() + 60_000).toISOString() }),
    );
    const renewed = await manager.ensure();
    expect(renewed.id).toBe(sub.id);
    expect(Date.parse(renewed.expirationDateTime)).toBeGreaterThan(Date.now() + 30 * 60_000);
    ipc();
    await waitFor(() => viaWebhook().length >= 5, { what: 'delivery after renewal' });

    // a lifecycle event makes the manager reauthorize and renew at once
    expect(await sim.lifecycle(sub.id, 'reauthorizationRequired')).toBe(202);
    await waitFor(async () => (await manager.stored())?.renewed_at !== renewed.renewed_at, { what: 'reauthorized' });
    expect(
      sim.requestLog.some((e) => e.method === 'POST' && e.path.endsWith(`/subscriptions/${sub.id}/reauthorize`)),
    ).toBe(true);
  });

  it('keeps a short-lived subscription alive on its own schedule, past its first expiry', async () => {
    // One-minute lifetime (the schema's least): the manager renews once half of it is left, on its real timer.
    const r = await start({ expirationMinutes: 1 });
    const manager = r.app.source('graph_security', 'contoso')!.subscriptions!;
    const sub = await waitFor(() => manager.stored(), { what: 'subscription created' });
    const firstExpiry = Date.parse(sub.expirationDateTime);
    const renewals = () =>
      sim.requestLog.filter(
        (e) => e.method === 'PATCH' && e.path.endsWith(`/subscriptions/${sub.id}`) && e.status === 200,
      );
    await waitFor(() => renewals().length >= 1, { what: 'renewed by the manager', timeoutMs: 60_000, intervalMs: 500 });
    // Past the first expiry the simulator (like Graph) would have deleted an unrenewed subscription.
    await new Promise((res) => setTimeout(res, Math.max(0, firstExpiry - Date.now() + 1000)));
    const now = await manager.stored();
    expect(now!.id).toBe(sub.id);
    expect(Date.parse(now!.expirationDateTime)).toBeGreaterThan(Date.now());
    const alert = ipc();
    await waitFor(() => r.sink.received.some((x) => x.via === 'webhook' && x.id === String(alert.id)), {
      what: 'notified after the first expiry',
    });
    expect(sim.deliveryLog.filter((d) => d.kind === 'validation').length).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('lists and deletes the subscription with `alertbridge subscriptions`', async () => {
    const r = await start();
    const sub = await waitFor(() => r.app.source('graph_security', 'contoso')!.subscriptions!.stored());
    const lines: string[] = [];
    const quiet = pino({ level: 'silent' });
    await subscriptionsCommand('list', r.config, quiet, { source: 'contoso', out: (l) => lines.push(l) });
    const listed = lines.map((l) => JSON.parse(l) as { id: string; this_source: boolean; managed: boolean });
    expect(listed).toContainEqual(expect.objectContaining({ id: sub.id, this_source: true, managed: true }));
    lines.length = 0;
    await subscriptionsCommand('delete', r.config, quiet, { source: 'contoso', out: (l) => lines.push(l) });
    expect(JSON.parse(lines[0]!)).toEqual({ source: 'contoso', deleted: sub.id });
    expect(
      sim.requestLog.some(
        (e) => e.method === 'DELETE' && e.path.endsWith(`/subscriptions/${sub.id}`) && e.status === 204,
      ),
    ).toBe(true);
    await expect(subscriptionsCommand('list', r.config, quiet, { source: 'nope' })).rejects.toThrow(
      '--source: no source named "nope" in the config',
    );
  });

  it('recreates a subscription Graph no longer knows', async () => {
    const r = await start();
    const manager = r.app.source('graph_security', 'contoso')!.subscriptions!;
    const sub = await waitFor(() => manager.stored());
    await r.app.redis.set(
      `${r.prefix}:subscription:contoso`,
      JSON.stringify({ ...sub, id: 'gone-0000', expirationDateTime: new Date(Date.now() + 1000).toISOString() }),
    );
    const again = await manager.ensure();
    expect(again.id).not.toBe('gone-0000');
    const fresh = ipc();
    await waitFor(() => r.sink.received.some((x) => x.via === 'webhook' && x.id === fresh.id));
  });

  it('answers 503 while Redis is down and loses nothing once Graph retries', async () => {
    const port = (await import('../../src/util/redis-server.js')).freePort;
    const redisPort = await port();
    let redis: RedisServer = await startRedisServer({ port: redisPort });
    const dir = redis.dir;
    try {
      const r = await start({ redis: redis.url });
      await waitFor(() => r.app.source('graph_security', 'contoso')!.subscriptions!.stored());
      // Redis goes away (AOF keeps what it had), notifications arrive meanwhile
      await stopKeepingData(redis);
      const during = [ipc(), ipc()];
      await waitFor(() => sim.deliveryLog.some((d) => d.kind === 'notification' && d.status === 503), {
        what: 'a 503 answered',
        timeoutMs: 30_000,
      });
      redis = await startRedisServer({ port: redisPort, dir });
      const viaWebhook = () => r.sink.received.filter((x) => x.via === 'webhook');
      await waitFor(() => viaWebhook().length >= 2, { what: 'notifications retried and delivered', timeoutMs: 60_000 });
      expect(
        viaWebhook()
          .map((x) => x.id)
          .sort(),
      ).toEqual(during.map((a) => String(a.id)).sort());
      await r.app.stop();
      running = running.filter((x) => x !== r);
      await deletePrefix(r.prefix).catch(() => undefined);
    } finally {
      await redis.stop();
    }
  }, 120_000);

  it('refuses forged, malformed and unsupported notification bodies with the right 4xx, and nothing reaches the sink', async () => {
    const r = await start();
    const post = (
      payload: string,
      headers: Record<string, string> = { 'content-type': 'application/json' },
      url = '/webhooks/graph/contoso',
    ) => r.app.server.inject({ method: 'POST', url, headers, payload });
    const note = (clientState: string, id = 'x-1') =>
      JSON.stringify({
        value: [
          {
            subscriptionId: 's',
            clientState,
            changeType: 'updated',
            resource: `security/alerts/${id}`,
            resourceData: { id },
          },
        ],
      });
    expect((await post(note('forged'))).statusCode).toBe(403);
    expect((await post('{"value": [')).statusCode).toBe(400);
    expect((await post('{"value": 7}')).statusCode).toBe(400);
    expect((await post(note(STATE), { 'content-type': 'text/html' })).statusCode).toBe(415);
    expect((await post(note(STATE), { 'content-type': 'application/json' }, '/webhooks/graph/nobody')).statusCode).toBe(
      404,
    );
    const big = await post(JSON.stringify({ value: [], pad: 'x'.repeat(1_100_000) }));
    expect(big.statusCode).toBe(413);
    // the handshake echoes the token as plain text, never as HTML
    const hs = await r.app.server.inject({
      method: 'POST',
      url: '/webhooks/graph/contoso?validationToken=%3Cscript%3Ealert(1)%3C%2Fscript%3E',
      headers: { 'content-type': 'text/plain' },
    });
    expect(hs.statusCode).toBe(200);
    expect(hs.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(hs.body).toBe('<script>alert(1)</script>');
    const metrics = await r.app.server.inject('/metrics');
    expect(metrics.body).toContain('alertbridge_webhook_rejected_total{source="contoso",reason="client_state"} 1');
    expect(metrics.body).not.toMatch(/alertbridge_webhook_notifications_total\{[^}]*\} [1-9]/);
    expect(metrics.body).not.toMatch(/alertbridge_webhook_dropped_total\{[^}]*\} [1-9]/); // refused items never reach the worker
    await new Promise((res) => setTimeout(res, 500));
    // (the start-up poll may deliver alerts other tests created; none came through the webhook)
    expect(r.sink.received.filter((x) => x.via === 'webhook')).toHaveLength(0);
  });
});

/** Stops redis-server with SHUTDOWN semantics (it writes its AOF), keeping its folder for the restart. */
async function stopKeepingData(redis: RedisServer): Promise<void> {
  const exited = new Promise((res) => redis.process.once('exit', res));
  redis.process.kill('SIGTERM');
  await exited;
}
