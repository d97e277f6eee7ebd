/**
 * Sink templates (src/record/name-template.ts, through sinks/kit.ts): where a record lands named from its fields — a Kafka topic, a Splunk
 * index and sourcetype, an event hub per tenant. Validated at start with the path; rendered per record against the
 * real Kafka broker and the HEC and Event Hubs peers; a record whose name is invalid is dead-lettered with the
 * reason and the rest of its batch is delivered.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaSink } from '../../sinks/kafka/index.js';
import type { AlertRecord } from '../../sinks/types.js';
import { parseConfig } from '../../src/config/load.js';
import { KafkaSinkSchema } from '../../src/config/sinks.js';
import { sinkFormat } from '../../src/record/format.js';
import { normalize } from '../../src/record/normalize.js';
import { record } from '../helpers/records.js';
import { cleanup, silentLogger, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { waitFor } from '../helpers/wait.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/server.js';
import { eventHubsSink } from '../peers/eventhubs/sink.js';
import { startHecPeer, type HecPeer } from '../peers/hec/server.js';
import { hecSink } from '../peers/hec/sink.js';
import { startKafkaBroker, type KafkaBroker } from '../peers/kafka/broker.js';
import { createTopics, readAll } from '../peers/kafka/reader.js';

const CONTOSO = '11111111-2222-3333-4444-555555555555';
const FABRIKAM = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

/** Records of two tenants of source `mssp`, and one of a plain source whose tenant is named by domain. */
function mixed(): AlertRecord[] {
  return [
    record(1, { source: 'mssp/contoso', tenant: CONTOSO }),
    record(2, { source: 'mssp/fabrikam', tenant: FABRIKAM }),
    record(3, { source: 'mssp/contoso', tenant: CONTOSO, severity: 'high' }),
    record(4, { source: 'corp', tenant: 'corp.onmicrosoft.com' }),
    record(5, { source: 'mssp/fabrikam', tenant: FABRIKAM }),
  ];
}

/** A legacy alert: its provider has spaces, which no topic or hub name may have. */
function legacy(): AlertRecord {
  const res = normalize(
    'alerts',
    {
      id: 'legacy-1',
      azureTenantId: CONTOSO,
      title: 'Legacy',
      severity: 'low',
      status: 'newAlert',
      createdDateTime: '2026-11-01T10:00:00Z',
      lastModifiedDateTime: '2026-11-01T10:00:00Z',
      vendorInformation: { provider: 'Microsoft Defender ATP', vendor: 'Microsoft' },
    },
    { source: 'mssp/contoso', via: 'poll' },
  );
  if (!res.ok) throw new Error(res.reason);
  return res.record;
}

describe('sink templates: validated at start, by path', () => {
  it('names unknown fields with the allowed ones, and characters a destination cannot have', () => {
    const res = parseConfig(
      `
sinks:
  - { name: k, type: kafka, brokers: ["k:9092"], topic: "alerts.{tenantid}" }
  - { name: k2, type: kafka, brokers: ["k:9092"], topic: "alerts/{tenant}" }
  - { name: k3, type: kafka, brokers: ["k:9092"], topic: ".." }
  - { name: h, type: splunk_hec, url: "https://splunk:8088", token: t, index: "Cust_{tenant}", sourcetype: "ab:{kind}" }
  - { name: h2, type: splunk_hec, url: "https://splunk:8088", token: t, index: "{tenant" }
  - { name: e, type: azure_event_hubs, connection_string: "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=s;SharedAccessKey=k;EntityPath=alerts", event_hub_name: "{tenant}-alerts" }
  - { name: ok, type: kafka, brokers: ["k:9092"], topic: "alerts.{tenant}.{resource}" }
`,
      { baseDir: '/', env: {} },
    );
    expect(res.ok ? [] : res.errors).toEqual([
      'sinks[0].topic: unknown template field {tenantid} (fields: {source}, {tenant}, {tenant_id}, {resource}, {provider}, {severity}, {status}, {via})',
      'sinks[1].topic: "/" cannot be part of a Kafka topic (letters, digits, ".", "_", "-")',
      'sinks[2].topic: Kafka topic cannot be "." or ".."',
      'sinks[3].index: "C" cannot be part of a Splunk index (lowercase letters, digits, "_", "-")',
      'sinks[3].sourcetype: unknown template field {kind} (fields: {source}, {tenant}, {tenant_id}, {resource}, {provider}, {severity}, {status}, {via})',
      'sinks[4].index: has an unmatched "{" or "}" (a field is written {name})',
      'sinks[5].event_hub_name: a template names many hubs, but connection_string is for one (EntityPath): use a namespace-level policy without EntityPath',
    ]);
  });
});

describe('kafka: a topic per tenant on the real broker', () => {
  let broker: KafkaBroker;
  let tp: TestPipeline | undefined;
  beforeAll(async () => {
    broker = await startKafkaBroker();
  }, 15 * 60_000);
  afterAll(async () => {
    await cleanup(tp);
    await broker?.stop();
  });

  it('produces one batch to each tenant’s topic, and dead-letters the record whose topic is invalid', async () => {
    const prefix = `t${randomBytes(3).toString('hex')}`;
    const [contoso, fabrikam] = [`${prefix}.contoso.${CONTOSO}`, `${prefix}.fabrikam.${FABRIKAM}`];
    const corp = `${prefix}.corp.corp.onmicrosoft.com`;
    await createTopics(broker.brokers, [contoso, fabrikam, corp], 1);
    const sink = createKafkaSink({
      config: KafkaSinkSchema.parse({
        type: 'kafka',
        name: 'kafka',
        brokers: broker.brokers,
        topic: `${prefix}.{tenant}.{tenant_id}`,
        request_timeout_ms: 10_000,
      }),
      logger: silentLogger,
      ...sinkFormat('envelope'),
    });
    // Through the pipeline: the legacy record's provider template fails alone and is dead-lettered.
    const byProvider = createKafkaSink({
      config: KafkaSinkSchema.parse({
        type: 'kafka',
        name: 'kafka-p',
        brokers: broker.brokers,
        topic: `${prefix}.{provider}`,
      }),
      logger: silentLogger,
      ...sinkFormat('envelope'),
    });
    const mdeTopic = `${prefix}.microsoftDefenderForEndpoint`;
    await createTopics(broker.brokers, [mdeTopic], 1);
    tp = await startTestPipeline([
      { sink, maxRecords: 100 },
      { sink: byProvider, maxRecords: 100, maxAttempts: 2 },
    ]);
    await tp.pipeline.emit([...mixed(), legacy()]);
    await waitFor(async () => (await tp!.pipeline.deadLetters.list('kafka-p', 0, 10)).length > 0, {
      timeoutMs: 60_000,
    });
    const read = await readAll(broker.brokers, [contoso, fabrikam, corp, mdeTopic]);
    const where = (topic: string) =>
      read.filter((m) => m.topic === topic).map((m) => (JSON.parse(m.value) as AlertRecord).id);
    expect(where(contoso).sort()).toEqual([record(1).id, record(3).id, legacy().id].sort());
    expect(where(fabrikam).sort()).toEqual([record(2).id, record(5).id].sort());
    expect(where(corp)).toEqual([record(4).id]);
    expect(where(mdeTopic).sort()).toEqual(
      mixed()
        .map((r) => r.id)
        .sort(),
    );
    const dead = await tp.pipeline.deadLetters.list('kafka-p', 0, 10);
    expect(dead).toHaveLength(1);
    expect(JSON.stringify(dead[0])).toContain(
      `Kafka topic \\"${prefix}.Microsoft Defender ATP\\" (from \\"${prefix}.{provider}\\") has \\" \\": only letters, digits, \\".\\", \\"_\\", \\"-\\"`,
    );
  }, 180_000);
});

describe('splunk_hec: an index per tenant', () => {
  let peer: HecPeer;
  beforeAll(async () => {
    peer = await startHecPeer();
  });
  afterAll(() => peer.close());

  it('sends each event with its tenant’s index and sourcetype; an invalid index fails that record alone', async () => {
    const sink = hecSink(peer, { index: 'cust_{tenant}', sourcetype: 'alertbridge:{resource}:{severity}' });
    await sink.start();
    const res = await sink.send(mixed());
    const events = peer.indexed.map((e) => e.event);
    expect(events.map((e) => [(e.event as AlertRecord).id, e.index, e.sourcetype])).toEqual([
      [record(1).id, 'cust_contoso', 'alertbridge:alerts_v2:medium'],
      [record(2).id, 'cust_fabrikam', 'alertbridge:alerts_v2:medium'],
      [record(3).id, 'cust_contoso', 'alertbridge:alerts_v2:high'],
      [record(4).id, 'cust_corp', 'alertbridge:alerts_v2:medium'],
      [record(5).id, 'cust_fabrikam', 'alertbridge:alerts_v2:medium'],
    ]);
    expect(res).toBeUndefined();
    // By tenant id: a domain has ".", which no Splunk index has; GUIDs are lowercased.
    const byId = hecSink(peer, { index: 'cust_{tenant_id}' });
    const before = peer.indexed.length;
    const out = await byId.send([
      record(6, { source: 'corp', tenant: 'corp.onmicrosoft.com' }),
      record(7, { source: 'x', tenant: FABRIKAM.toUpperCase() }),
    ]);
    expect(out?.failed.map((f) => [f.index, f.error.name, f.error.message])).toEqual([
      [
        0,
        'PermanentError',
        `sending batch to splunk_hec 'hec': cannot encode record ${record(6, { tenant: 'corp.onmicrosoft.com' }).key}: Splunk index "cust_corp.onmicrosoft.com" (from "cust_{tenant_id}") has ".": only lowercase letters, digits, "_", "-"`,
      ],
    ]);
    expect(peer.indexed.slice(before).map((e) => e.event.index)).toEqual([`cust_${FABRIKAM}`]);
    await sink.close();
    await byId.close();
  });
});

describe('splunk_hec: an index Splunk does not have', () => {
  let peer: HecPeer;
  beforeAll(async () => {
    peer = await startHecPeer({ indexes: ['cust_contoso', 'cust_corp'] });
  });
  afterAll(() => peer.close());

  it('dead-letters the events of the missing index only; the others are indexed or resent', async () => {
    const sink = hecSink(peer, { index: 'cust_{tenant}', ack: { enabled: false } });
    await sink.start();
    const batch = mixed();
    const first = await sink.send(batch);
    // HEC stops at the first event of an unknown index (fabrikam's, event 1): it alone is refused for good; the
    // events after it were not indexed and are retried, not dead-lettered with it.
    expect(first?.failed.map((f) => [f.index, f.error.name])).toEqual([
      [1, 'PermanentError'],
      [2, 'RetryableError'],
      [3, 'RetryableError'],
      [4, 'RetryableError'],
    ]);
    expect(first!.failed[0]!.error.message).toContain('code 7');
    const again = await sink.send([batch[2]!, batch[3]!, batch[4]!]);
    expect(again?.failed.map((f) => [f.index, f.error.name])).toEqual([[2, 'PermanentError']]);
    expect(peer.indexed.map((e) => [(e.event.event as AlertRecord).id, e.event.index])).toEqual([
      [record(1).id, 'cust_contoso'],
      [record(3).id, 'cust_contoso'],
      [record(4).id, 'cust_corp'],
    ]);
    await sink.close();
  });
});

describe('azure_event_hubs: a hub per tenant', () => {
  let peer: EventHubsPeer;
  beforeAll(async () => {
    peer = await startEventHubsPeer({ hubs: { 'contoso-alerts': 2, 'fabrikam-alerts': 2, 'corp-alerts': 1 } });
  });
  afterAll(() => peer.close());

  it('sends each record to its tenant’s hub with one client per hub, bounded, closed on close', async () => {
    const sink = eventHubsSink(peer, {
      connection_string: peer.connectionString(null),
      event_hub_name: '{tenant}-alerts',
      max_hub_clients: 2,
    });
    await sink.start();
    expect(await sink.send(mixed())).toBeUndefined();
    const hubOf = (id: string) => peer.received.find((e) => (JSON.parse(String(e.body)) as AlertRecord).id === id)?.hub;
    expect(mixed().map((r) => hubOf(r.id))).toEqual([
      'contoso-alerts',
      'fabrikam-alerts',
      'contoso-alerts',
      'corp-alerts',
      'fabrikam-alerts',
    ]);
    // Three hubs, one connection each; at most two clients kept: contoso's is reused (no new connection) and the
    // least recently used idle one, fabrikam's, is closed, then opened again when a record needs it.
    const opened = peer.stats.connections;
    expect(await sink.send([record(8, { source: 'mssp/contoso', tenant: CONTOSO })])).toBeUndefined();
    expect(hubOf(record(8).id)).toBe('contoso-alerts');
    expect(peer.stats.connections).toBe(opened);
    expect(await sink.send([record(13, { source: 'mssp/fabrikam', tenant: FABRIKAM })])).toBeUndefined();
    expect(hubOf(record(13).id)).toBe('fabrikam-alerts');
    expect(peer.stats.connections).toBe(opened + 1);

    // A hub that does not exist (a tenant added before its hub) and a name no hub may have: those records alone
    // fail, permanently, with the reason; the others are delivered.
    const out = await sink.send([
      record(9, { source: 'mssp/northwind', tenant: CONTOSO }),
      record(10, { source: 'mssp/contoso', tenant: CONTOSO }),
      record(11, { source: 'mssp/-x', tenant: CONTOSO }),
    ]);
    expect(out?.failed.map((f) => [f.index, f.error.name])).toEqual([
      [0, 'PermanentError'],
      [2, 'PermanentError'],
    ]);
    expect(out!.failed[0]!.error.message).toContain('event hub northwind-alerts does not exist');
    expect(out!.failed[1]!.error.message).toContain(
      'event hub name "-x-alerts" (from "{tenant}-alerts") must start and end with a letter or digit',
    );
    expect(hubOf(record(10).id)).toBe('contoso-alerts');
    expect(sink.ready()).toBe(true);
    await sink.close();
    // Closed: a send now is refused by the sink itself (its clients are gone with it).
    await expect(sink.send([record(12)])).rejects.toThrow();
  });
});
