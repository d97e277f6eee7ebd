/**
 * A `defender_streaming` source whose Event Hub refuses its credential (a wrong SAS key): the replica is unready
 * with the hub's reason, the refusal is logged once without the key, the source asks again with backoff, and once
 * the hub accepts the key (here: the namespace's policy key set to the one the source holds) it reads and delivers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/server.js';
import { graphSourceYaml } from '../helpers/e2e.js';
import { captureLogger } from '../helpers/graph.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'dddddddd-0000-4000-8000-0000000000a8',
  clientId: 'app-a',
  clientSecret: 'secret-a',
};
const HUB = 'defender-auth';
const HUB_KEY = 'aHViLWtleS1vbmU=';
const SOURCE_KEY = 'c291cmNlLWtleS10d28=';
/** The namespace's policies; the peer reads them on every token, so a test can rotate a key. */
const keys: Record<string, string> = { RootManageSharedAccessKey: HUB_KEY };
let sim: Simulator;
let peer: EventHubsPeer;
let app: App;
const sink = new RecordingSink('out');
const log = captureLogger();
const prefix = uniquePrefix('streaming-auth');

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 8 });
  peer = await startEventHubsPeer({ hubs: { [HUB]: 2 }, keys });
  const res = parseConfig(
    `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { enabled: false }
pipeline: { takeover_ms: 2000 }
sources:
${graphSourceYaml(sim, T, { name: 'contoso', resources: ['alerts_v2'], extra: '    poll_interval_ms: 3600000\n' })}  - name: stream
    type: defender_streaming
    connection_string: "${peer.connectionString(HUB, { key: SOURCE_KEY })}"
    start_position: earliest
sinks:
  - { name: out, type: file, path: /dev/null }
`,
    { baseDir: '/', env: {} },
  );
  if (!res.ok) throw new Error(res.errors.join('\n'));
  app = buildApp(res.config, { logger: log.logger, sinkOverrides: { out: sink } });
  await app.start();
});
afterAll(async () => {
  await app?.stop();
  await deletePrefix(prefix);
  await peer.close();
  await sim.close();
});

const readyz = async () => {
  const res = await app.server.inject({ method: 'GET', url: '/readyz' });
  return { status: res.statusCode, body: res.body };
};
const alertInfo = (alertId: string) => ({
  body: JSON.stringify({
    records: [
      {
        time: new Date().toISOString(),
        tenantId: T.tenantId,
        operationName: 'Publish',
        category: 'AdvancedHunting-AlertInfo',
        properties: { Timestamp: new Date().toISOString(), AlertId: alertId },
      },
    ],
  }),
});
const refusalLines = () => log.lines.filter((l) => String(l.msg).includes('refuses its credential'));

describe('defender_streaming: the hub refuses the credential', () => {
  it(
    'is unready with the reason, logs it once without the key, retries, and reads once the key works',
    { timeout: 300_000 },
    async () => {
      // Created after the first poll (one day back), so only the stream can bring it.
      await waitFor(() => sim.requestLog.some((r) => r.path.endsWith('/security/alerts_v2')), {
        what: 'the first poll',
      });
      const alert = sim.create(T.tenantId, 'alerts_v2');
      peer.enqueue(HUB, '0', [alertInfo(String(alert.id))]);

      const unready = await waitFor(
        async () => {
          const r = await readyz();
          return r.status === 503 && r.body.includes('streaming:stream') ? r : undefined;
        },
        { timeoutMs: 60_000, what: '/readyz unready for the refused credential' },
      );
      expect(unready.body).toMatch(/the Event Hub refuses its credential: [^"]*UnauthorizedError/);
      expect(await app.metrics.registry.getSingleMetricAsString('alertbridge_streaming_ready')).toMatch(
        /source="stream"\} 0/,
      );
      // Asked again (with backoff), and logged once for the whole outage.
      await waitFor(() => peer.stats.tokensRefused >= 3, { timeoutMs: 60_000, what: 'the source asking again' });
      expect(refusalLines()).toHaveLength(1);
      expect(refusalLines()[0]).toMatchObject({ level: 50 });
      expect(String(refusalLines()[0]!.msg)).toMatch(/Check connection_string/);
      expect(sink.received.filter((r) => r.via === 'streaming')).toHaveLength(0);

      // The namespace's key is now the one the source holds.
      keys.RootManageSharedAccessKey = SOURCE_KEY;
      await waitFor(async () => (await readyz()).status === 200, { timeoutMs: 90_000, what: '/readyz ready again' });
      await waitFor(() => sink.received.some((r) => r.id === alert.id && r.via === 'streaming'), {
        timeoutMs: 60_000,
        what: 'the streamed alert after the recovery',
      });
      expect(await app.metrics.registry.getSingleMetricAsString('alertbridge_streaming_ready')).toMatch(
        /source="stream"\} 1/,
      );
      expect(log.lines.some((l) => String(l.msg).includes('accepts its credential again'))).toBe(true);
      expect(refusalLines()).toHaveLength(1);
      // No key in any log line.
      const text = JSON.stringify(log.lines);
      expect(text).not.toContain(SOURCE_KEY);
      expect(text).not.toContain(HUB_KEY);
    },
  );
  it(
    'a key revoked while reading: unready at the next check, and reading again once it is back',
    { timeout: 300_000 },
    async () => {
      const streamed = (id: unknown) => sink.received.some((r) => r.id === id && r.via === 'streaming');
      const c = sim.create(T.tenantId, 'alerts_v2');
      peer.enqueue(HUB, '1', [alertInfo(String(c.id))]);
      await waitFor(() => streamed(c.id), { timeoutMs: 60_000, what: 'an alert read with the working key' });

      // The namespace's key changes: the links already open keep working at the peer, the periodic check does not.
      keys.RootManageSharedAccessKey = HUB_KEY;
      await waitFor(async () => (await readyz()).status === 503, {
        timeoutMs: 120_000,
        what: '/readyz unready after the key was revoked',
      });
      expect(refusalLines()).toHaveLength(2);

      const d = sim.create(T.tenantId, 'alerts_v2');
      peer.enqueue(HUB, '0', [alertInfo(String(d.id))]);
      keys.RootManageSharedAccessKey = SOURCE_KEY;
      await waitFor(async () => (await readyz()).status === 200, { timeoutMs: 120_000, what: '/readyz ready again' });
      await waitFor(() => streamed(d.id), { timeoutMs: 60_000, what: 'the alert sent while the key was refused' });
      expect(sink.received.filter((r) => r.id === c.id)).toHaveLength(1);
    },
  );
});
