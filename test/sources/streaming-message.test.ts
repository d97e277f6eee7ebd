/**
 * The Streaming API's event shape: AlertInfo/AlertEvidence records → triggers, allow-listed tables → rows with their
 * natural identity or a content hash, and every kind of bad input counted with its reason instead of thrown.
 */
import { describe, expect, it } from 'vitest';
import { coalesceTriggers, parseStreamEvent, rowId, type ParseOptions } from '../../src/sources/streaming/message.js';

const TENANT = 'b1a3c2d4-0000-4000-8000-00000000abcd';
const OTHER_TENANT = 'ffffffff-0000-4000-8000-000000000000';
const ALERT = 'da638686721234567890_-1234567890';

/** Records as the Streaming API writes them (AlertInfo / AlertEvidence columns of the Advanced Hunting schema). */
const alertInfo = (alertId = ALERT, tenantId = TENANT) => ({
  time: '2026-12-02T21:04:17.9187551Z',
  tenantId,
  operationName: 'Publish',
  category: 'AdvancedHunting-AlertInfo',
  _TimeReceivedBySvc: '2026-12-02T21:03:48.6570000Z',
  properties: {
    Timestamp: '2026-12-02T21:02:11.1230000Z',
    AlertId: alertId,
    Title: 'Suspicious PowerShell command line',
    Category: 'Execution',
    Severity: 'Medium',
    ServiceSource: 'Microsoft Defender for Endpoint',
    DetectionSource: 'EDR',
    AttackTechniques: '["PowerShell (T1059.001)","Command and Scripting Interpreter (T1059)"]',
  },
});
const alertEvidence = (alertId = ALERT, entity = 'Process') => ({
  time: '2026-12-02T21:04:18.0011220Z',
  tenantId: TENANT,
  operationName: 'Publish',
  category: 'AdvancedHunting-AlertEvidence',
  properties: {
    Timestamp: '2026-12-02T21:02:11.1230000Z',
    AlertId: alertId,
    Title: 'Suspicious PowerShell command line',
    Categories: '["Execution"]',
    AttackTechniques: '["PowerShell (T1059.001)"]',
    ServiceSource: 'Microsoft Defender for Endpoint',
    DetectionSource: 'EDR',
    EntityType: entity,
    EvidenceRole: 'Related',
    EvidenceDirection: null,
    FileName: 'powershell.exe',
    FolderPath: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
    SHA1: '6cbce4a295c163791b60fc23d285e6d84f28ee4c',
    SHA256: 'de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c',
    AccountName: 'jdoe',
    AccountDomain: 'contoso',
    AccountUpn: 'jdoe@contoso.com',
    DeviceId: '4b7c0f6d2b0a4e8c9a1f3d2e1c0b9a8f7e6d5c4b',
    DeviceName: 'ws-042.contoso.com',
    ProcessCommandLine: 'powershell.exe -nop -w hidden -enc SQBFAFgA',
    AdditionalFields: '{"Type":"process"}',
  },
});
const deviceProcess = (reportId: number | null = 10231) => ({
  time: '2026-12-02T21:04:19.0000000Z',
  tenantId: TENANT,
  operationName: 'Publish',
  category: 'AdvancedHunting-DeviceProcessEvents',
  properties: {
    Timestamp: '2026-12-02T21:01:58.4470000Z',
    DeviceId: '4b7c0f6d2b0a4e8c9a1f3d2e1c0b9a8f7e6d5c4b',
    DeviceName: 'ws-042.contoso.com',
    ActionType: 'ProcessCreated',
    FileName: 'powershell.exe',
    ProcessCommandLine: 'powershell.exe -nop',
    ReportId: reportId,
  },
});

const opts = (extra: Partial<ParseOptions> = {}): ParseOptions => ({
  tenants: new Set([TENANT]),
  tables: new Set<string>(),
  ...extra,
});
const body = (records: unknown[]) => Buffer.from(JSON.stringify({ records }));

describe('parseStreamEvent', () => {
  it('turns AlertInfo and AlertEvidence records into (tenant, alert) triggers', () => {
    const r = parseStreamEvent(body([alertInfo(), alertEvidence(), alertEvidence(ALERT, 'User')]), opts());
    expect(r.skipped).toEqual([]);
    expect(r.rows).toEqual([]);
    expect(r.triggers).toEqual([
      { tenantId: TENANT, alertId: ALERT, table: 'AlertInfo', time: '2026-12-02T21:02:11.1230000Z' },
      { tenantId: TENANT, alertId: ALERT, table: 'AlertEvidence', time: '2026-12-02T21:02:11.1230000Z' },
      { tenantId: TENANT, alertId: ALERT, table: 'AlertEvidence', time: '2026-12-02T21:02:11.1230000Z' },
    ]);
    expect(coalesceTriggers(r.triggers)).toEqual([r.triggers[0]]);
  });

  it('coalesces per (tenant, alert) in first-seen order', () => {
    const a = parseStreamEvent(
      body([alertInfo('aa1'), alertEvidence('aa2'), alertEvidence('aa1'), alertInfo('aa2'), alertInfo('aa3')]),
      opts(),
    );
    expect(coalesceTriggers(a.triggers).map((t) => t.alertId)).toEqual(['aa1', 'aa2', 'aa3']);
  });

  it('matches tenants case-insensitively and reports them lower-case', () => {
    const r = parseStreamEvent(body([alertInfo(ALERT, TENANT.toUpperCase())]), opts());
    expect(r.triggers.map((t) => t.tenantId)).toEqual([TENANT]);
  });

  it('passes allow-listed tables through with their natural identity; others are skipped', () => {
    const r = parseStreamEvent(
      body([
        deviceProcess(),
        {
          ...deviceProcess(),
          category: 'AdvancedHunting-DeviceNetworkEvents',
          properties: { ...deviceProcess().properties, RemoteUrl: 'x' },
        },
      ]),
      opts({ tables: new Set(['DeviceProcessEvents']) }),
    );
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0]).toMatchObject({
      tenantId: TENANT,
      table: 'DeviceProcessEvents',
      id: '4b7c0f6d2b0a4e8c9a1f3d2e1c0b9a8f7e6d5c4b|10231|2026-12-02T21:01:58.4470000Z',
      time: '2026-12-02T21:01:58.4470000Z',
      properties: deviceProcess().properties,
    });
    expect(r.rows[0]!.contentHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(r.skipped).toEqual([
      { reason: 'table_not_allowed', detail: 'records[1]: table DeviceNetworkEvents is not in tables:' },
    ]);
  });

  it('identifies rows without a natural identity by a content hash that ignores column order', () => {
    const tables = new Set(['DeviceProcessEvents', 'BehaviorInfo']);
    const noReport = parseStreamEvent(body([deviceProcess(null)]), opts({ tables })).rows[0]!;
    expect(noReport.id).toBe(noReport.contentHash);
    const a = {
      ...deviceProcess(),
      category: 'AdvancedHunting-BehaviorInfo',
      properties: { B: 1, A: [1, { y: 2, x: 1 }] },
    };
    const b = { ...a, properties: { A: [1, { x: 1, y: 2 }], B: 1 } };
    const [ra, rb] = parseStreamEvent(body([a, b]), opts({ tables })).rows;
    expect(ra!.id).toMatch(/^sha256:/);
    expect(ra!.id).toBe(rb!.id);
    expect(ra!.contentHash).toBe(rb!.contentHash);
  });

  it('hashes a natural identity that holds characters unfit for a record key', () => {
    const props = { NetworkMessageId: 'c1a2-…', Url: 'https://evil.example/a b/c' };
    const id = rowId('EmailUrlInfo', props, 'sha256:content');
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(id).not.toBe('sha256:content');
    expect(rowId('EmailUrlInfo', { NetworkMessageId: 'm1' }, 'sha256:content')).toBe('sha256:content');
  });

  it('skips records of tenants no source names', () => {
    const r = parseStreamEvent(body([alertInfo(ALERT, OTHER_TENANT), alertInfo()]), opts());
    expect(r.triggers).toHaveLength(1);
    expect(r.skipped).toEqual([
      { reason: 'unknown_tenant', detail: `records[0]: tenant ${OTHER_TENANT} is not any source's tenant_id` },
    ]);
  });

  it('skips an oversized event unread', () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
    expect(parseStreamEvent(big, opts())).toEqual({
      triggers: [],
      rows: [],
      skipped: [{ reason: 'oversized', detail: `event of ${big.length} bytes (max 1048576)` }],
    });
    expect(parseStreamEvent(body([alertInfo()]), opts({ maxBytes: 100 })).skipped[0]!.reason).toBe('oversized');
  });

  it.each([
    ['garbage bytes', Buffer.from([0xff, 0xfe, 0x00, 0x41])],
    ['truncated JSON', Buffer.from('{"records":[{"tenantId":')],
    ['a JSON array', Buffer.from('[]')],
    ['no records', Buffer.from('{"value":[]}')],
    ['records not an array', Buffer.from('{"records":{}}')],
    ['null', Buffer.from('null')],
    ['a number', 42],
    ['undefined', undefined],
  ])('skips a malformed body: %s', (_, input) => {
    const r = parseStreamEvent(input, opts());
    expect(r.triggers).toEqual([]);
    expect(r.skipped).toHaveLength(1);
    expect(r.skipped[0]!.reason).toBe('malformed_body');
  });

  it('skips each bad record with its reason and keeps the good ones', () => {
    const info = alertInfo();
    const r = parseStreamEvent(
      body([
        null,
        'text',
        { ...info, category: 'AuditLogs' },
        { ...info, category: 'AdvancedHunting-../../etc' },
        { ...info, category: 42 },
        { ...info, tenantId: 'not-a-guid' },
        { ...info, tenantId: undefined },
        { ...info, properties: 'x' },
        { ...info, properties: { ...info.properties, AlertId: '' } },
        { ...info, properties: { ...info.properties, AlertId: '../../me' } },
        { ...info, properties: { ...info.properties, AlertId: 12 } },
        alertInfo('da1'),
      ]),
      opts(),
    );
    expect(r.triggers.map((t) => t.alertId)).toEqual(['da1']);
    expect(r.skipped.map((s) => s.reason)).toEqual([
      'malformed_record',
      'malformed_record',
      'unknown_category',
      'unknown_category',
      'unknown_category',
      'malformed_record',
      'malformed_record',
      'malformed_record',
      'malformed_record',
      'malformed_record',
      'malformed_record',
    ]);
    expect(r.skipped[9]).toEqual({
      reason: 'malformed_record',
      detail: 'records[9]: AlertInfo without a valid AlertId',
    });
  });

  it('accepts a body already parsed or given as a string, and a record without Timestamp uses its time', () => {
    const rec = alertInfo();
    delete (rec.properties as Partial<typeof rec.properties>).Timestamp;
    expect(parseStreamEvent({ records: [rec] }, opts()).triggers[0]!.time).toBe(rec.time);
    expect(parseStreamEvent(JSON.stringify({ records: [alertInfo()] }), opts()).triggers).toHaveLength(1);
  });
});
