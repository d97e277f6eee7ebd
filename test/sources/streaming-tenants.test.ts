/**
 * A `defender_streaming` source whose `graph_source` is a source with `tenants`: each streamed alert is read from
 * Graph by the tenant entry with the event's tenant GUID (its credentials, budget and source name), against the
 * simulator and the Event Hubs peer. Polling runs hourly, so only the stream brings the alerts created after start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/server.js';
import { silentLogger } from '../helpers/pipeline.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { graphTenantsSourceYaml } from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';

const APP = { clientId: 'c0ffee00-0000-4000-8000-00000000a990', clientSecret: 'mssp-secret' };
const A: TenantCredentials = { tenantId: 'aaaaaaaa-0000-4000-8000-00000000000a', ...APP };
const B: TenantCredentials = { tenantId: 'bbbbbbbb-0000-4000-8000-00000000000b', ...APP };
const HUB = 'defender-stream';
let sim: Simulator;
let peer: EventHubsPeer;
let app: App | undefined;
const prefix = uniquePrefix('stream-tenants');

beforeAll(async () => {
  [sim, peer] = await Promise.all([
    startSimulator({ tenants: [A, B], seed: 9 }),
    startEventHubsPeer({ hubs: { [HUB]: 2 } }),
  ]);
});
afterAll(async () => {
  await app?.stop();
  await Promise.all([peer?.close(), sim?.close()]);
  await deletePrefix(prefix);
});

const alertInfo = (tenantId: string, alertId: string) => ({
  body: JSON.stringify({
    records: [
      {
        time: new Date().toISOString(),
        tenantId,
        operationName: 'Publish',
        category: 'AdvancedHunting-AlertInfo',
        properties: { Timestamp: new Date().toISOString(), AlertId: alertId, Title: 't', Severity: 'Medium' },
      },
    ],
  }),
});

describe('defender_streaming with a source of tenants', () => {
  it('reads each streamed alert through the tenant entry of its tenant', async () => {
    const res = parseConfig(
      `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { enabled: false }
sources:
${graphTenantsSourceYaml(sim, APP, {
  name: 'mssp',
  resources: ['alerts_v2'],
  extra: '    poll_interval_ms: 3600000\n',
  tenants: [
    { name: 'contoso', tenantId: A.tenantId },
    { name: 'fabrikam', tenantId: B.tenantId },
  ],
})}
  - name: stream
    type: defender_streaming
    connection_string: "${peer.connectionString(HUB)}"
    graph_source: mssp
    start_position: earliest
sinks:
  - { name: out, type: file, path: /dev/null }
`,
      { baseDir: '/', env: {} },
    );
    if (!res.ok) throw new Error(res.errors.join('\n'));
    const sink = new RecordingSink('out');
    app = buildApp(res.config, { logger: silentLogger, sinkOverrides: { out: sink } });
    await app.start();
    // Both tenants' first polls (empty) have run: what arrives now comes from the stream.
    await waitFor(() => sim.requestLog.filter((r) => r.path.endsWith('/security/alerts_v2')).length >= 2);
    const a = String(sim.create(A.tenantId, 'alerts_v2').id);
    const b = String(sim.create(B.tenantId, 'alerts_v2').id);
    peer.enqueue(HUB, '0', [alertInfo(A.tenantId, a)]);
    peer.enqueue(HUB, '1', [alertInfo(B.tenantId, b)]);
    await waitFor(() => sink.received.length >= 2, { timeoutMs: 60_000, what: 'two streamed alerts' });
    expect(
      sink.received
        .map((r) => [r.id, r.source, r.tenant_id, r.via])
        .sort((x, y) => String(x[1]).localeCompare(String(y[1]))),
    ).toEqual([
      [a, 'mssp/contoso', A.tenantId, 'streaming'],
      [b, 'mssp/fabrikam', B.tenantId, 'streaming'],
    ]);
  });
});
