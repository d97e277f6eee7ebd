import { createHash } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { detectResource, normalize, type NormalizeContext, type NormalizeResult } from '../../src/record/normalize.js';
import type { AlertRecord, Resource } from '../../src/record/types.js';
import { loadSample } from '../helpers/samples.js';

const NOW = new Date('2024-06-01T12:00:00.000Z');
const CTX: NormalizeContext = { source: 'contoso', via: 'poll', now: NOW };

function ok(result: NormalizeResult): AlertRecord {
  if (!result.ok) throw new Error(`expected a record, got rejection: ${result.reason}`);
  return result.record;
}

/** sha256 of key-sorted JSON, computed independently of the module under test. */
function expectedHash(obj: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  return `sha256:${createHash('sha256')
    .update(JSON.stringify(sort(obj)))
    .digest('hex')}`;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/** The documented `GET /security/alerts_v2/{id}` response (security-alert-get.md), evidence shortened. */
const DOC_ALERT_V2 = {
  '@odata.type': '#microsoft.graph.security.alert',
  id: 'da637578995287051192_756343937',
  providerAlertId: 'da637578995287051192_756343937',
  incidentId: '28282',
  status: 'new',
  severity: 'low',
  classification: 'unknown',
  determination: 'unknown',
  serviceSource: 'microsoftDefenderForEndpoint',
  detectionSource: 'antivirus',
  detectorId: 'e0da400f-affd-43ef-b1d5-afc2eb6f2756',
  tenantId: 'b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c',
  title: 'Suspicious execution of hidden file',
  category: 'DefenseEvasion',
  mitreTechniques: ['T1564.001'],
  createdDateTime: '2021-04-27T12:19:27.7211305Z',
  lastUpdateDateTime: '2021-05-02T14:19:01.3266667Z',
  firstActivityDateTime: '2021-04-26T07:45:50.116Z',
  comments: [],
  evidence: [
    {
      '@odata.type': '#microsoft.graph.security.deviceEvidence',
      mdeDeviceId: '73e7e2de709dff64ef64b1d0c30e67fab63279db',
    },
  ],
  systemTags: ['Defender Experts'],
};

/** The documented `GET /security/incidents/{id}` response (security-incident-get.md): PascalCase enums. */
const DOC_INCIDENT = {
  '@odata.type': '#microsoft.graph.incident',
  id: '2972395',
  incidentWebUrl: 'https://security.microsoft.com/incidents/2972395?tid=12f988bf-16f1-11af-11ab-1d7cd011db47',
  redirectIncidentId: null,
  displayName:
    'Multi-stage incident involving Initial access & Command and control on multiple endpoints reported by multiple sources',
  tenantId: 'b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c',
  createdDateTime: '2021-08-13T08:43:35.5533333Z',
  lastUpdateDateTime: '2021-09-30T09:35:45.1133333Z',
  assignedTo: 'KaiC@contoso.onmicrosoft.com',
  classification: 'TruePositive',
  determination: 'MultiStagedAttack',
  status: 'Active',
  severity: 'Medium',
};

/** One item of the documented `GET /security/secureScores?$top=1` response (securescores-list.md). */
const DOC_SECURE_SCORE = {
  id: '00000001-0001-0001-0001-000000000001c_2019-03-19',
  azureTenantId: '00000001-0001-0001-0001-000000000001c',
  activeUserCount: 0,
  createdDateTime: '2019-03-19T15:21:00Z',
  currentScore: 387.0,
  maxScore: 697,
  controlScores: [{ controlCategory: 'Identity', controlName: 'AdminMFA', score: 35.0 }],
  vendorInformation: { provider: 'SecureScore', providerVersion: null, subProvider: null, vendor: 'Microsoft' },
};

describe('normalize: Graph sample payloads', () => {
  it('alerts_v2 resource representation', () => {
    const sample = loadSample('alerts_v2-resource-representation.json');
    const record = ok(normalize('alerts_v2', sample, CTX));
    expect(record).toEqual({
      schema: 'alertbridge.record/v1',
      key: 'String/alerts_v2/String/String (identifier)',
      revision: expectedHash(sample), // "String (timestamp)" is not a timestamp
      tenant_id: 'String',
      source: 'contoso',
      resource: 'alerts_v2',
      provider: 'String',
      id: 'String (identifier)',
      incident_id: 'String',
      severity: 'unknown',
      status: 'unknown',
      title: 'String',
      created_at: null,
      updated_at: null,
      ingested_at: '2024-06-01T12:00:00.000Z',
      via: 'poll',
      data: sample,
    });
    expect(record.data).toBe(sample);
  });

  it('incident resource representation', () => {
    const sample = loadSample('incident-resource-representation.json');
    const record = ok(normalize('incidents', sample, { ...CTX, via: 'webhook' }));
    expect(record).toEqual({
      schema: 'alertbridge.record/v1',
      key: 'String/incidents/microsoft365Defender/String (identifier)',
      revision: expectedHash(sample),
      tenant_id: 'String',
      source: 'contoso',
      resource: 'incidents',
      provider: 'microsoft365Defender',
      id: 'String (identifier)',
      incident_id: 'String (identifier)',
      severity: 'unknown',
      status: 'unknown',
      title: 'String',
      created_at: null,
      updated_at: null,
      ingested_at: '2024-06-01T12:00:00.000Z',
      via: 'webhook',
      data: sample,
    });
  });

  it('legacy alert resource representation (placeholder enums, provider-less vendorInformation)', () => {
    const sample = loadSample('alert-resource-representation.v1.json');
    const record = ok(normalize('alerts', sample, { ...CTX, via: 'push' }));
    expect(record).toEqual({
      schema: 'alertbridge.record/v1',
      key: 'push:contoso/String/alerts/unknown/String (identifier)',
      revision: expectedHash(sample),
      tenant_id: 'String',
      source: 'contoso',
      resource: 'alerts',
      provider: 'unknown',
      id: 'String (identifier)',
      incident_id: 'String',
      severity: 'unknown', // "@odata.type: microsoft.graph.alertSeverity"
      status: 'unknown', // "@odata.type: microsoft.graph.alertStatus"
      title: 'String',
      created_at: null,
      updated_at: null,
      ingested_at: '2024-06-01T12:00:00.000Z',
      via: 'push',
      data: sample,
    });
  });

  it('legacy list response items have no id and are rejected', () => {
    const items = loadSample('alert-list-response.v1.json').value as unknown[];
    expect(items).toHaveLength(1);
    expect(normalize('alerts', items[0], CTX)).toEqual({ ok: false, reason: 'record has no id' });
    const prefer = loadSample('alert-update-response-prefer-representation.v1.json');
    expect(normalize('alerts', prefer, CTX)).toEqual({ ok: false, reason: 'record has no id' });
  });

  it('a legacy list item with an id normalizes with its azureTenantId', () => {
    const item = { ...(loadSample('alert-list-response.v1.json').value as Record<string, unknown>[])[0], id: 'A1' };
    const record = ok(normalize('alerts', item, CTX));
    expect(record.key).toBe('azureTenantId-value/alerts/unknown/A1');
    expect(record.tenant_id).toBe('azureTenantId-value');
    expect(record.title).toBeNull();
    expect(record.revision).toBe(expectedHash(item));
  });
});

describe('normalize: documented realistic examples', () => {
  it('alerts_v2 GET example', () => {
    const record = ok(normalize('alerts_v2', DOC_ALERT_V2, CTX));
    expect(record.key).toBe(
      'b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c/alerts_v2/microsoftDefenderForEndpoint/da637578995287051192_756343937',
    );
    expect(record.revision).toBe('2021-05-02T14:19:01.3266667Z');
    expect(record.provider).toBe('microsoftDefenderForEndpoint');
    expect(record.severity).toBe('low');
    expect(record.status).toBe('new');
    expect(record.title).toBe('Suspicious execution of hidden file');
    expect(record.created_at).toBe('2021-04-27T12:19:27.7211305Z');
    expect(record.updated_at).toBe('2021-05-02T14:19:01.3266667Z');
    expect(record.tenant_id).toBe('b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c');
  });

  it('incident GET example: PascalCase status and severity', () => {
    const record = ok(normalize('incidents', DOC_INCIDENT, CTX));
    expect(record.key).toBe('b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c/incidents/microsoft365Defender/2972395');
    expect(record.status).toBe('active');
    expect(record.severity).toBe('medium');
    expect(record.title).toBe(DOC_INCIDENT.displayName);
    expect(record.revision).toBe('2021-09-30T09:35:45.1133333Z');
    expect(record.created_at).toBe('2021-08-13T08:43:35.5533333Z');
  });

  it('secure score: createdDateTime is the revision, descriptive title', () => {
    const record = ok(normalize('secure_scores', DOC_SECURE_SCORE, CTX));
    expect(record.key).toBe(
      '00000001-0001-0001-0001-000000000001c/secure_scores/SecureScore/00000001-0001-0001-0001-000000000001c_2019-03-19',
    );
    expect(record.revision).toBe('2019-03-19T15:21:00Z');
    expect(record.created_at).toBe('2019-03-19T15:21:00Z');
    expect(record.updated_at).toBe('2019-03-19T15:21:00Z');
    expect(record.title).toBe('Secure score 387/697');
    expect(record.severity).toBe('unknown');
    expect(record.status).toBe('unknown');
  });

  it('control profile: lastModifiedDateTime revision, title, azureTenantId', () => {
    const profile = {
      id: 'AdminMFAV2',
      azureTenantId: 't-1',
      title: 'Ensure multifactor authentication is enabled for all users in administrative roles',
      lastModifiedDateTime: '2024-03-04T10:11:12.1234567Z',
      maxScore: 10,
      tier: 'Core',
      controlCategory: 'Identity',
      vendorInformation: { provider: 'SecureScore', vendor: 'Microsoft' },
    };
    const record = ok(normalize('secure_score_control_profiles', profile, CTX));
    expect(record.key).toBe('t-1/secure_score_control_profiles/SecureScore/AdminMFAV2');
    expect(record.revision).toBe('2024-03-04T10:11:12.1234567Z');
    expect(record.title).toBe(profile.title);
    expect(record.created_at).toBeNull();
    expect(record.severity).toBe('unknown');
    expect(record.status).toBe('unknown');
  });
});

describe('normalize: enums', () => {
  const v2 = (fields: Record<string, unknown>): AlertRecord =>
    ok(normalize('alerts_v2', { ...DOC_ALERT_V2, ...fields }, CTX));

  it('maps placeholders, unknownFutureValue and anything unrecognized to unknown', () => {
    for (const value of [
      'String',
      '@odata.type: microsoft.graph.alertSeverity',
      'unknownFutureValue',
      'unknown',
      'critical',
      '',
      3,
      null,
      undefined,
    ]) {
      expect(v2({ severity: value }).severity, String(value)).toBe('unknown');
    }
    for (const value of [
      'String',
      '@odata.type: microsoft.graph.alertStatus',
      'unknownFutureValue',
      'unknown',
      'closed',
      '',
      1,
      null,
    ]) {
      expect(v2({ status: value }).status, String(value)).toBe('unknown');
    }
  });

  it('compares case-insensitively', () => {
    expect(v2({ severity: 'Medium' }).severity).toBe('medium');
    expect(v2({ severity: 'HIGH' }).severity).toBe('high');
    expect(v2({ severity: 'Informational' }).severity).toBe('informational');
    expect(v2({ severity: 'low' }).severity).toBe('low');
    expect(v2({ status: 'InProgress' }).status).toBe('inProgress');
    expect(v2({ status: 'RESOLVED' }).status).toBe('resolved');
    expect(ok(normalize('incidents', { ...DOC_INCIDENT, status: 'Active' }, CTX)).status).toBe('active');
    expect(ok(normalize('incidents', { ...DOC_INCIDENT, status: 'AwaitingAction' }, CTX)).status).toBe(
      'awaitingAction',
    );
    expect(ok(normalize('incidents', { ...DOC_INCIDENT, status: 'redirected' }, CTX)).status).toBe('redirected');
  });

  it('turns legacy newAlert into new and keeps the other legacy statuses', () => {
    const legacy = (status: string): string =>
      ok(normalize('alerts', { id: 'x', azureTenantId: 't', vendorInformation: { provider: 'IPC' }, status }, CTX))
        .status;
    expect(legacy('newAlert')).toBe('new');
    expect(legacy('NewAlert')).toBe('new');
    expect(legacy('inProgress')).toBe('inProgress');
    expect(legacy('resolved')).toBe('resolved');
    expect(legacy('dismissed')).toBe('dismissed');
  });
});

describe('normalize: rejections', () => {
  it('rejects a record without a non-empty string id', () => {
    for (const id of [undefined, null, '', '   ', 42, ['a'], { v: 1 }]) {
      const obj = { ...DOC_ALERT_V2, id };
      expect(normalize('alerts_v2', obj, CTX), JSON.stringify(id)).toEqual({ ok: false, reason: 'record has no id' });
    }
    const { id: _id, ...noId } = DOC_ALERT_V2;
    expect(normalize('alerts_v2', noId, CTX)).toEqual({ ok: false, reason: 'record has no id' });
  });

  it('rejects anything that is not a plain JSON object', () => {
    for (const value of [null, undefined, 'alert', 42, true, [], [DOC_ALERT_V2], new Date(), new Map()]) {
      expect(normalize('alerts_v2', value, CTX)).toEqual({ ok: false, reason: 'record is not a JSON object' });
    }
  });

  it('accepts an object without prototype (e.g. from a safe JSON parser)', () => {
    const obj = Object.assign(Object.create(null) as Record<string, unknown>, { id: 'n1', tenantId: 't' });
    expect(ok(normalize('alerts_v2', obj, CTX)).key).toBe('t/alerts_v2/unknown/n1');
  });
});

describe('normalize: tolerance and identity', () => {
  it('keeps unknown fields in data and never mutates the object', () => {
    const obj = deepFreeze({ ...DOC_ALERT_V2, brandNewField: { nested: [1, 2] }, anotherOne: 'x' });
    const before = JSON.stringify(obj);
    const record = ok(normalize('alerts_v2', obj, CTX));
    expect(record.data).toBe(obj);
    expect(record.data.brandNewField).toEqual({ nested: [1, 2] });
    expect(record.data.anotherOne).toBe('x');
    expect(JSON.stringify(obj)).toBe(before);
  });

  it('builds key as {tenant}/{resource}/{provider}/{id}, verbatim even with slashes', () => {
    const obj = { id: 'a/b/c', azureTenantId: 'ten/ant', vendorInformation: { provider: 'Microsoft Defender ATP' } };
    const record = ok(normalize('alerts', obj, CTX));
    expect(record.key).toBe('ten/ant/alerts/Microsoft Defender ATP/a/b/c');
    expect(record.id).toBe('a/b/c');
    expect(record.provider).toBe('Microsoft Defender ATP');
  });

  it('keys a partner push under its source, and only a push', () => {
    const obj = {
      id: 'x1',
      tenantId: 'b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c',
      serviceSource: 'microsoftDefenderForEndpoint',
    };
    expect(ok(normalize('alerts_v2', obj, { ...CTX, source: 'partner', via: 'push' })).key).toBe(
      'push:partner/b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c/alerts_v2/microsoftDefenderForEndpoint/x1',
    );
    for (const via of ['poll', 'webhook'] as const) {
      expect(ok(normalize('alerts_v2', obj, { ...CTX, via })).key).toBe(
        'b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c/alerts_v2/microsoftDefenderForEndpoint/x1',
      );
    }
  });

  it('sets incident_id from the incident an object belongs to, or null', () => {
    const cases: Array<[Resource, Record<string, unknown>, string | null]> = [
      ['alerts_v2', { id: 'a', incidentId: '28282' }, '28282'],
      ['alerts_v2', { id: 'a' }, null],
      ['alerts_v2', { id: 'a', incidentId: '' }, null],
      ['alerts_v2', { id: 'a', incidentId: 28282 }, null],
      ['incidents', { id: '29', incidentWebUrl: 'https://security.microsoft.com/incidents/29' }, '29'],
      ['alerts', { id: 'l', incidentIds: ['41', '42'] }, '41'],
      ['alerts', { id: 'l', incidentIds: [] }, null],
      ['alerts', { id: 'l', incidentIds: 'not a list' }, null],
      ['secure_scores', { id: 's', incidentId: 'x' }, null],
      ['secure_score_control_profiles', { id: 'p' }, null],
    ];
    for (const [resource, obj, want] of cases)
      expect([resource, ok(normalize(resource, obj, CTX)).incident_id]).toEqual([resource, want]);
  });

  it('falls back to the context tenant, then to unknown', () => {
    const obj = { id: 'i1', serviceSource: 'microsoftSentinel' };
    expect(ok(normalize('alerts_v2', obj, { ...CTX, tenantId: 'ctx-tenant' })).key).toBe(
      'ctx-tenant/alerts_v2/microsoftSentinel/i1',
    );
    expect(ok(normalize('alerts_v2', obj, CTX)).key).toBe('unknown/alerts_v2/microsoftSentinel/i1');
    // The object's own tenant wins over the context's.
    expect(ok(normalize('alerts_v2', { ...obj, tenantId: 'own' }, { ...CTX, tenantId: 'ctx' })).tenant_id).toBe('own');
  });

  it('takes the provider from the field of each resource', () => {
    const obj = {
      id: 'p1',
      serviceSource: 'microsoftDefenderForIdentity',
      vendorInformation: { provider: 'ASC', vendor: 'Microsoft' },
    };
    const provider = (r: Resource, o: Record<string, unknown> = obj): string => ok(normalize(r, o, CTX)).provider;
    expect(provider('alerts_v2')).toBe('microsoftDefenderForIdentity');
    expect(provider('alerts')).toBe('ASC');
    expect(provider('incidents')).toBe('microsoft365Defender');
    expect(provider('secure_scores')).toBe('ASC');
    expect(provider('secure_score_control_profiles')).toBe('ASC');
    const bare = { id: 'p2' };
    expect(provider('alerts_v2', bare)).toBe('unknown');
    expect(provider('alerts', bare)).toBe('unknown');
    expect(provider('incidents', bare)).toBe('microsoft365Defender');
    expect(provider('secure_scores', bare)).toBe('SecureScore');
    expect(provider('secure_score_control_profiles', bare)).toBe('SecureScore');
  });

  it('takes the tenant from tenantId (v2, incidents) or azureTenantId (legacy, secure score, profiles)', () => {
    const obj = { id: 't1', tenantId: 'v2-tenant', azureTenantId: 'v1-tenant' };
    expect(ok(normalize('alerts_v2', obj, CTX)).tenant_id).toBe('v2-tenant');
    expect(ok(normalize('incidents', obj, CTX)).tenant_id).toBe('v2-tenant');
    expect(ok(normalize('alerts', obj, CTX)).tenant_id).toBe('v1-tenant');
    expect(ok(normalize('secure_scores', obj, CTX)).tenant_id).toBe('v1-tenant');
    expect(ok(normalize('secure_score_control_profiles', obj, CTX)).tenant_id).toBe('v1-tenant');
  });

  it('uses ctx.now for ingested_at, else the current time', () => {
    expect(ok(normalize('alerts_v2', DOC_ALERT_V2, CTX)).ingested_at).toBe('2024-06-01T12:00:00.000Z');
    const before = Date.now();
    const at = Date.parse(ok(normalize('alerts_v2', DOC_ALERT_V2, { source: 's', via: 'poll' })).ingested_at);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
});

describe('normalize: revision', () => {
  it('keeps the update time verbatim, whatever its form', () => {
    const rev = (r: Resource, field: string, value: string): string =>
      ok(normalize(r, { id: 'r', [field]: value }, CTX)).revision;
    expect(rev('alerts_v2', 'lastUpdateDateTime', '2024-01-01T00:00:00+00:00')).toBe('2024-01-01T00:00:00+00:00');
    expect(rev('incidents', 'lastUpdateDateTime', '2024-01-01T00:00:00.12Z')).toBe('2024-01-01T00:00:00.12Z');
    expect(rev('alerts', 'lastModifiedDateTime', '2024-01-01T00:00:00.1234567Z')).toBe('2024-01-01T00:00:00.1234567Z');
    expect(rev('secure_score_control_profiles', 'lastModifiedDateTime', '2024-01-01T00:00:00Z')).toBe(
      '2024-01-01T00:00:00Z',
    );
    expect(rev('secure_scores', 'createdDateTime', '2019-03-19T15:21:00Z')).toBe('2019-03-19T15:21:00Z');
  });

  it("ignores the other resources' update fields", () => {
    // A legacy alert's revision is lastModifiedDateTime, never lastUpdateDateTime.
    const obj = { id: 'r', lastUpdateDateTime: '2024-01-01T00:00:00Z' };
    expect(ok(normalize('alerts', obj, CTX)).revision).toBe(expectedHash(obj));
  });

  it('falls back to a content hash that is stable and key-order independent', () => {
    const a = {
      id: 'h1',
      tenantId: 't',
      lastUpdateDateTime: 'String (timestamp)',
      nested: { b: 2, a: [1, { y: 1, x: 2 }] },
    };
    const b = {
      nested: { a: [1, { x: 2, y: 1 }], b: 2 },
      lastUpdateDateTime: 'String (timestamp)',
      tenantId: 't',
      id: 'h1',
    };
    const ra = ok(normalize('alerts_v2', a, CTX)).revision;
    expect(ra).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ra).toBe(expectedHash(a));
    expect(ok(normalize('alerts_v2', a, CTX)).revision).toBe(ra);
    expect(ok(normalize('alerts_v2', b, CTX)).revision).toBe(ra);
  });

  it('gives a different hash for different content', () => {
    const a = { id: 'h1', status: 'new' };
    const b = { id: 'h1', status: 'resolved' };
    expect(ok(normalize('alerts_v2', a, CTX)).revision).not.toBe(ok(normalize('alerts_v2', b, CTX)).revision);
  });

  it('reports null timestamps for unparseable created/updated values', () => {
    const record = ok(normalize('alerts_v2', { id: 'x', createdDateTime: 'yesterday', lastUpdateDateTime: 12 }, CTX));
    expect(record.created_at).toBeNull();
    expect(record.updated_at).toBeNull();
    expect(record.revision.startsWith('sha256:')).toBe(true);
  });
});

describe('detectResource', () => {
  it('recognizes the v2 and v1 samples', () => {
    expect(detectResource(loadSample('alerts_v2-resource-representation.json'))).toBe('alerts_v2');
    expect(detectResource(DOC_ALERT_V2)).toBe('alerts_v2');
    expect(detectResource(loadSample('alert-resource-representation.v1.json'))).toBe('alerts');
    const item = (loadSample('alert-list-response.v1.json').value as unknown[])[0];
    expect(detectResource(item)).toBe('alerts');
  });

  it('decides by @odata.type first, then by telling fields', () => {
    expect(detectResource({ '@odata.type': '#microsoft.graph.security.alert' })).toBe('alerts_v2');
    expect(detectResource({ '@odata.type': 'microsoft.graph.security.alert' })).toBe('alerts_v2');
    expect(detectResource({ '@odata.type': '#microsoft.graph.alert', evidence: [] })).toBe('alerts');
    expect(detectResource({ id: '1', serviceSource: 'microsoftDefenderForEndpoint' })).toBe('alerts_v2');
    expect(detectResource({ id: '1', providerAlertId: 'p' })).toBe('alerts_v2');
    expect(detectResource({ id: '1', evidence: [] })).toBe('alerts_v2');
    expect(detectResource({ id: '1', vendorInformation: { provider: 'IPC' } })).toBe('alerts');
    expect(detectResource({ id: '1', azureTenantId: 't' })).toBe('alerts');
  });

  it('returns null for junk and other resources', () => {
    for (const junk of [null, undefined, 'alert', 1, [], [DOC_ALERT_V2], {}, { id: '1', title: 'x' }]) {
      expect(detectResource(junk)).toBeNull();
    }
    expect(detectResource(loadSample('incident-resource-representation.json'))).toBeNull();
    expect(detectResource(DOC_INCIDENT)).toBeNull();
  });
});
