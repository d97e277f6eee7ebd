/**
 * An MSSP at scale, end to end: one `graph_security` source listing 50 customer tenants (plus one whose admin never
 * consented) under one app registration, against the simulator, delivering to the Splunk HEC peer with
 * `index: "cust_{tenant}"` and to the real Kafka broker with `topic: "alerts.{tenant}"`. Every consenting tenant's
 * alerts arrive in its own index and topic, read back from the peers, while the refusing tenant fails alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { keysFor } from '../../src/pipeline/keys.js';
import type { AlertRecord } from '../../src/record/types.js';
import { readCursor } from '../../src/sources/graph/cursor.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { silentLogger } from '../helpers/pipeline.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { graphTenantsSourceYaml } from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';
import { startHecPeer, type HecPeer } from '../peers/hec/server.js';
import { startKafkaBroker, type KafkaBroker } from '../peers/kafka/broker.js';
import { createTopics, readAll } from '../peers/kafka/reader.js';

const TENANTS = 50;
const ALERTS_EACH = 2;
const APP = { clientId: 'c0ffee00-0000-4000-8000-00000000a990', clientSecret: 'mssp-secret' };
const hex = (i: number) => i.toString(16).padStart(12, '0');
const tenants: Array<TenantCredentials & { name: string }> = Array.from({ length: TENANTS }, (_, i) => ({
  name: `t${String(i).padStart(2, '0')}`,
  tenantId: `0000aaaa-0000-4000-8000-${hex(i + 1)}`,
  ...APP,
}));
/** Listed in the config, but consented to another app only: Entra ID refuses ours there (AADSTS700016). */
const refusing = { tenantId: `0000bbbb-0000-4000-8000-${hex(999)}`, clientId: 'another-app', clientSecret: 'x' };

let sim: Simulator;
let hec: HecPeer;
let broker: KafkaBroker;
let app: App | undefined;
const prefix = uniquePrefix('mssp');
const topicPrefix = `mssp${Date.now().toString(36)}`;

beforeAll(async () => {
  [sim, hec, broker] = await Promise.all([
    startSimulator({ tenants: [...tenants, refusing], seed: 5 }),
    startHecPeer(),
    startKafkaBroker(),
  ]);
  await createTopics(
    broker.brokers,
    tenants.map((t) => `${topicPrefix}.${t.name}`),
    1,
  );
}, 15 * 60_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([sim?.close(), hec?.close(), broker?.stop()]);
  await deletePrefix(prefix);
});

describe('MSSP: 50 tenants under one app registration', () => {
  it('delivers each tenant’s alerts to its own index and topic; the refusing tenant fails alone', async () => {
    const created = new Map<string, string[]>();
    for (const t of tenants) {
      created.set(
        t.name,
        Array.from({ length: ALERTS_EACH }, () => String(sim.create(t.tenantId, 'alerts_v2').id)),
      );
    }
    const res = parseConfig(
      `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { enabled: false }
sources:
${graphTenantsSourceYaml(sim, APP, {
  name: 'mssp',
  resources: ['alerts_v2'],
  extra: '    poll_interval_ms: 5000\n    late_evidence: { reread_after_ms: [] }\n',
  tenants: [...tenants, { name: 'refusing', tenantId: refusing.tenantId }],
})}
sinks:
  - { name: splunk, type: splunk_hec, url: "${hec.url}", token: test-token, index: "cust_{tenant}" }
  - { name: kafka, type: kafka, brokers: [${broker.brokers.join(', ')}], topic: "${topicPrefix}.{tenant}" }
`,
      { baseDir: '/', env: {} },
    );
    if (!res.ok) throw new Error(res.errors.join('\n'));
    app = buildApp(res.config, { logger: silentLogger });
    await app.start({ listen: false });

    const total = TENANTS * ALERTS_EACH;
    await waitFor(() => hec.indexed.length >= total, { timeoutMs: 180_000, what: `${total} HEC events` });
    const topics = tenants.map((t) => `${topicPrefix}.${t.name}`);
    let messages: Awaited<ReturnType<typeof readAll>> = [];
    await waitFor(async () => (messages = await readAll(broker.brokers, topics)).length >= total, {
      timeoutMs: 180_000,
      what: `${total} Kafka messages`,
    });

    for (const t of tenants) {
      const ids = [...created.get(t.name)!].sort();
      const inIndex = hec.indexed
        .filter((e) => e.event.index === `cust_${t.name}`)
        .map((e) => e.event.event as AlertRecord);
      expect(inIndex.map((r) => r.id).sort()).toEqual(ids);
      expect(inIndex.every((r) => r.tenant_id === t.tenantId && r.source === `mssp/${t.name}`)).toBe(true);
      const inTopic = messages
        .filter((m) => m.topic === `${topicPrefix}.${t.name}`)
        .map((m) => JSON.parse(m.value) as AlertRecord);
      expect(inTopic.map((r) => r.id).sort()).toEqual(ids);
      expect(inTopic.every((r) => r.tenant_id === t.tenantId)).toBe(true);
    }
    expect(hec.indexed).toHaveLength(total);
    expect(messages).toHaveLength(total);

    // The refusing tenant: its own failure state and nothing delivered; every other tenant has read its window.
    const keys = keysFor(prefix);
    const failing = await waitFor(
      async () => (await readCursor(app!.redis, keys.cursor('mssp/refusing', 'alerts_v2'))).failing_since,
    );
    expect(failing).toBeGreaterThan(0);
    expect(hec.indexed.some((e) => e.event.index === 'cust_refusing')).toBe(false);
    for (const t of tenants) {
      const cursor = await readCursor(app.redis, keys.cursor(`mssp/${t.name}`, 'alerts_v2'));
      expect(cursor.watermark, t.name).toBeDefined();
      expect(cursor.failing_since, t.name).toBeUndefined();
    }
  }, 600_000);
});
