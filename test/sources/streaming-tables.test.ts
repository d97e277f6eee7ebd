/**
 * `tables:` of a `defender_streaming` source through the whole app, to real file sinks: rows of allow-listed
 * Advanced Hunting tables become `streaming/<Table>` records keyed by the table's natural identity (or a content
 * hash), a repeated row is a duplicate, other tables and garbage are counted and skipped, and only the sinks whose
 * filter names streamed tables receive them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Redis } from 'ioredis';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { keysFor } from '../../src/pipeline/keys.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/server.js';
import { graphSourceYaml } from '../helpers/e2e.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'dddddddd-0000-4000-8000-0000000000a7',
  clientId: 'app-t',
  clientSecret: 'secret-t',
};
const HUB = 'defender-tables';
let sim: Simulator;
let peer: EventHubsPeer;
let app: App;
let dir: string;
const prefix = uniquePrefix('streaming-tables');

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 7 });
  peer = await startEventHubsPeer({ hubs: { [HUB]: 2 } });
  dir = mkdtempSync(join(tmpdir(), 'alertbridge-tables-'));
  const res = parseConfig(
    `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { enabled: false }
pipeline: { takeover_ms: 2000 }
sources:
${graphSourceYaml(sim, T, { name: 'contoso', resources: ['alerts_v2'], extra: '    poll_interval_ms: 3600000\n' })}  - name: stream
    type: defender_streaming
    connection_string: "${peer.connectionString(HUB)}"
    start_position: earliest
    tables: [DeviceProcessEvents, EmailEvents, UrlClickEvents]
    tables_dedup_ttl_ms: 120000
sinks:
  - { name: rows, type: file, path: "${join(dir, 'rows.ndjson')}", filter: { resources: ["streaming/*"] } }
  - { name: process, type: file, format: graph, path: "${join(dir, 'process.ndjson')}", filter: { resources: [streaming/DeviceProcessEvents] } }
  - { name: alerts, type: file, path: "${join(dir, 'alerts.ndjson')}" }
`,
    { baseDir: '/', env: {} },
  );
  if (!res.ok) throw new Error(res.errors.join('\n'));
  app = buildApp(res.config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  await app.start();
});
afterAll(async () => {
  await app?.stop();
  await deletePrefix(prefix);
  await peer.close();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

const lines = (file: string): Array<Record<string, unknown>> => {
  try {
    return readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
};
const row = (table: string, properties: Record<string, unknown>, tenantId = T.tenantId) => ({
  time: '2026-12-03T04:00:01.0000000Z',
  tenantId,
  operationName: 'Publish',
  category: `AdvancedHunting-${table}`,
  properties,
});
const event = (records: unknown[]) => ({ body: JSON.stringify({ records }) });
const metric = async (name: string) => app.metrics.registry.getSingleMetricAsString(name);

const processRow = {
  Timestamp: '2026-12-03T04:00:00.1234567Z',
  DeviceId: 'c5a964d14a1a4d3f8e7b0a6f2c1d9e8b7a6f5e4d',
  DeviceName: 'ws-042.contoso.com',
  ActionType: 'ProcessCreated',
  FileName: 'powershell.exe',
  ProcessCommandLine: 'powershell -enc SQBFAFgA',
  ReportId: 12345,
};
const emailRow = {
  Timestamp: '2026-12-03T04:00:00Z',
  NetworkMessageId: '4d0a3a1e-8c1b-4f3e-9a2d-08dc1234abcd',
  RecipientEmailAddress: 'ana@contoso.com',
  Subject: 'Invoice',
  DeliveryAction: 'Delivered',
};
const clickRow = { Timestamp: '2026-12-03T04:00:00Z', Url: 'https://example.test/x', ActionType: 'ClickAllowed' };

describe('defender_streaming tables:', () => {
  it('passes allow-listed tables through as streaming/<Table> records, once, to the sinks that opt in', async () => {
    peer.enqueue(HUB, '0', [
      event([row('DeviceProcessEvents', processRow), row('EmailEvents', emailRow)]),
      { body: Buffer.from('not json {') },
      event([row('DeviceNetworkEvents', { Timestamp: 't', DeviceId: 'd', ReportId: 1, RemoteIP: '10.0.0.1' })]),
    ]);
    // The same process row again, in another partition and with its columns in another order: a duplicate.
    const reordered = Object.fromEntries(Object.entries(processRow).reverse());
    peer.enqueue(HUB, '1', [event([row('UrlClickEvents', clickRow)]), event([row('DeviceProcessEvents', reordered)])]);

    await waitFor(() => lines('rows.ndjson').length >= 3, { timeoutMs: 60_000, what: 'three rows in the sink' });
    await waitFor(
      async () =>
        /alertbridge_records_duplicate_total\{[^}]*source="stream"[^}]*\} 1/.test(
          await metric('alertbridge_records_duplicate_total'),
        ),
      {
        timeoutMs: 60_000,
        what: 'the repeated row counted as a duplicate',
      },
    );
    await waitFor(
      async () => /reason="table_not_allowed"[^\n]* 1/.test(await metric('alertbridge_streaming_skipped_total')),
      {
        what: 'the table not allowed, skipped',
      },
    );
    expect(await metric('alertbridge_streaming_skipped_total')).toMatch(/reason="malformed_body"[^\n]* 1/);

    const rows = lines('rows.ndjson');
    expect(rows).toHaveLength(3);
    const byResource = new Map(rows.map((r) => [r.resource, r]));
    expect([...byResource.keys()].sort()).toEqual([
      'streaming/DeviceProcessEvents',
      'streaming/EmailEvents',
      'streaming/UrlClickEvents',
    ]);
    // Natural identities: device rows by DeviceId, ReportId and Timestamp; mail by message and recipient.
    const proc = byResource.get('streaming/DeviceProcessEvents')!;
    expect(proc).toMatchObject({
      schema: 'alertbridge.record/v1',
      key: `${T.tenantId}/streaming/DeviceProcessEvents/microsoft365Defender/${processRow.DeviceId}|12345|${processRow.Timestamp}`,
      id: `${processRow.DeviceId}|12345|${processRow.Timestamp}`,
      tenant_id: T.tenantId,
      source: 'stream',
      provider: 'microsoft365Defender',
      via: 'streaming',
      severity: 'unknown',
      title: 'DeviceProcessEvents: ProcessCreated',
      created_at: processRow.Timestamp,
      data: processRow,
    });
    expect(proc.revision).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(byResource.get('streaming/EmailEvents')!.id).toBe(`${emailRow.NetworkMessageId}|ana@contoso.com`);
    // No natural identity for UrlClickEvents here: a content hash.
    expect(byResource.get('streaming/UrlClickEvents')!.id).toMatch(/^sha256:[0-9a-f]{64}$/);

    // A row's dedup state lasts tables_dedup_ttl_ms (two minutes here), not the pipeline's seven days.
    const redis = new Redis(redisUrl());
    try {
      const ttl = await redis.pttl(keysFor(prefix).dedup(String(proc.key)));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(120_000);
    } finally {
      redis.disconnect();
    }

    // format graph: the row's columns verbatim; only the table the filter names.
    await waitFor(() => lines('process.ndjson').length >= 1, { what: 'the process row in the graph-format sink' });
    expect(lines('process.ndjson')).toEqual([processRow]);
    // A sink without a filter does not receive streamed rows (opt-in).
    expect(lines('alerts.ndjson').filter((r) => String(r.resource).startsWith('streaming/'))).toEqual([]);
  });

  it('a changed row under the same identity is delivered again; a repeat of it is not', async () => {
    const changed = { ...emailRow, DeliveryAction: 'Junked' };
    peer.enqueue(HUB, '1', [event([row('EmailEvents', changed)]), event([row('EmailEvents', changed)])]);
    await waitFor(() => lines('rows.ndjson').filter((r) => r.resource === 'streaming/EmailEvents').length >= 2, {
      timeoutMs: 60_000,
      what: 'the changed mail row',
    });
    await waitFor(
      async () =>
        /alertbridge_records_duplicate_total\{[^}]*source="stream"[^}]*\} 2/.test(
          await metric('alertbridge_records_duplicate_total'),
        ),
      { timeoutMs: 60_000, what: 'the repeated changed row as a duplicate' },
    );
    const mail = lines('rows.ndjson').filter((r) => r.resource === 'streaming/EmailEvents');
    expect(mail.map((r) => (r.data as { DeliveryAction: string }).DeliveryAction)).toEqual(['Delivered', 'Junked']);
    expect(new Set(mail.map((r) => r.key)).size).toBe(1);
  });
});
