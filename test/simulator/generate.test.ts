import { describe, it, expect } from 'vitest';
import { detectResource, normalize } from '../../src/record/normalize.js';
import { revisionOrder } from '../../src/record/revision.js';
import { RESOURCES, type Resource } from '../../src/record/types.js';
import {
  ALERT_V2_MAX_BYTES,
  ALERT_V2_MIN_BYTES,
  createAlertGenerator,
  type GraphObject,
} from '../../src/simulator/generate.js';

const TENANTS = ['11111111-2222-3333-4444-555555555555', 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'];
const CTX = { source: 'sim', via: 'poll' as const, now: new Date('2024-06-01T00:00:00Z') };

const V2_SERVICE_SOURCES = [
  'microsoftDefenderForEndpoint',
  'microsoftDefenderForIdentity',
  'microsoftDefenderForCloudApps',
  'microsoftDefenderForOffice365',
  'microsoftDefenderForCloud',
  'azureAdIdentityProtection',
  'microsoftSentinel',
  'microsoft365Defender',
];
const LEGACY_PROVIDERS = [
  'IPC',
  'ASC',
  'MCAS',
  'Azure Advanced Threat Protection',
  'Microsoft Defender ATP',
  'Azure Sentinel',
  'Office 365 Security and Compliance',
];
const PROVIDERS: Record<Resource, string[]> = {
  alerts_v2: V2_SERVICE_SOURCES,
  incidents: ['microsoft365Defender'],
  alerts: LEGACY_PROVIDERS,
  secure_scores: ['SecureScore'],
  secure_score_control_profiles: ['SecureScore'],
};
const STATUSES: Record<Resource, string[]> = {
  alerts_v2: ['new', 'inProgress', 'resolved'],
  incidents: ['active', 'inProgress', 'resolved', 'redirected', 'awaitingAction'],
  alerts: ['new', 'inProgress', 'resolved'],
  secure_scores: ['unknown'],
  secure_score_control_profiles: ['unknown'],
};
const HAS_SEVERITY: Resource[] = ['alerts_v2', 'incidents', 'alerts'];
const SEVEN_DIGITS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/;

function record(resource: Resource, obj: unknown) {
  const result = normalize(resource, obj, CTX);
  if (!result.ok) throw new Error(`${resource} did not normalize: ${result.reason}`);
  return result.record;
}

function order(revision: string): string {
  const o = revisionOrder(revision);
  if (o === null) throw new Error(`not a timestamp revision: ${revision}`);
  return o;
}

describe('createAlertGenerator: determinism', () => {
  it('gives the same objects for the same seed and calls', () => {
    const a = createAlertGenerator({ seed: 42, tenantIds: TENANTS });
    const b = createAlertGenerator({ seed: 42, tenantIds: TENANTS });
    for (const r of RESOURCES) expect(a.many(r, 20)).toEqual(b.many(r, 20));
    const first = a.alertV2();
    expect(a.updated(first)).toEqual(b.updated(b.alertV2()));
  });

  it('gives different objects for another seed', () => {
    const a = createAlertGenerator({ seed: 1 }).many('alerts_v2', 5);
    const b = createAlertGenerator({ seed: 2 }).many('alerts_v2', 5);
    expect(a.map((x) => x.id)).not.toEqual(b.map((x) => x.id));
  });

  it('draws a tenant from the seed when none is given, and uses the given ones otherwise', () => {
    const g = createAlertGenerator({ seed: 9 });
    expect(g.tenantIds).toHaveLength(1);
    expect(g.tenantIds[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(g.alertV2().tenantId).toBe(g.tenantIds[0]);
    const tenants = new Set(
      createAlertGenerator({ seed: 9, tenantIds: TENANTS })
        .many('alerts_v2', 40)
        .map((a) => a.tenantId),
    );
    expect(tenants).toEqual(new Set(TENANTS));
  });
});

describe('createAlertGenerator: every resource normalizes', () => {
  const g = createAlertGenerator({ seed: 7, tenantIds: TENANTS });
  for (const resource of RESOURCES) {
    it(resource, () => {
      const objects = g.many(resource, 150);
      const keys = new Set<string>();
      for (const obj of objects) {
        const rec = record(resource, obj);
        expect(PROVIDERS[resource]).toContain(rec.provider);
        expect(STATUSES[resource]).toContain(rec.status);
        expect(TENANTS).toContain(rec.tenant_id);
        if (HAS_SEVERITY.includes(resource)) expect(['informational', 'low', 'medium', 'high']).toContain(rec.severity);
        else expect(rec.severity).toBe('unknown');
        expect(revisionOrder(rec.revision)).not.toBeNull(); // a real timestamp, never the hash fallback
        expect(rec.title).toEqual(expect.any(String));
        keys.add(rec.key);
      }
      expect(keys.size).toBe(objects.length); // distinct identities: benchmarks count them
    });
  }

  it('covers every provider over a few hundred objects', () => {
    const h = createAlertGenerator({ seed: 3, tenantIds: TENANTS });
    expect(new Set(h.many('alerts_v2', 400).map((a) => a.serviceSource))).toEqual(new Set(V2_SERVICE_SOURCES));
    const legacy = h.many('alerts', 400).map((a) => (a.vendorInformation as { provider: string }).provider);
    expect(new Set(legacy)).toEqual(new Set(LEGACY_PROVIDERS));
  });

  it('generate() dispatches by resource', () => {
    const h = createAlertGenerator({ seed: 5 });
    expect(detectResource(h.generate('alerts_v2'))).toBe('alerts_v2');
    expect(detectResource(h.generate('alerts'))).toBe('alerts');
    expect(h.generate('incidents')['@odata.type']).toBe('#microsoft.graph.security.incident');
    expect(h.generate('secure_scores')).toHaveProperty('currentScore');
    expect(h.generate('secure_score_control_profiles')).toHaveProperty('controlCategory');
  });

  it('applies top-level overrides', () => {
    const h = createAlertGenerator({ seed: 5 });
    const a = h.alertV2({ severity: 'String', extraField: 1 });
    expect(a.severity).toBe('String');
    expect(a.extraField).toBe(1);
    expect(record('alerts_v2', a).severity).toBe('unknown');
  });
});

describe('createAlertGenerator: alerts_v2 realism', () => {
  const alerts = createAlertGenerator({ seed: 11, tenantIds: TENANTS }).many('alerts_v2', 400);

  it('is between 2 and 5 KB of JSON', () => {
    expect(ALERT_V2_MIN_BYTES).toBeGreaterThanOrEqual(2048);
    expect(ALERT_V2_MAX_BYTES).toBeLessThanOrEqual(5120);
    for (const a of alerts) {
      const size = Buffer.byteLength(JSON.stringify(a));
      expect(size).toBeGreaterThanOrEqual(ALERT_V2_MIN_BYTES);
      expect(size).toBeLessThanOrEqual(ALERT_V2_MAX_BYTES);
    }
  });

  it('has Defender-shaped ids, links and timestamps', () => {
    for (const a of alerts) {
      expect(a['@odata.type']).toBe('#microsoft.graph.security.alert');
      if (a.serviceSource === 'microsoftDefenderForEndpoint') {
        expect(a.id).toMatch(/^da\d{18}_-?\d{1,10}$/);
        expect(a.providerAlertId).toBe(a.id);
      }
      expect(a.incidentId).toMatch(/^\d+$/);
      expect(a.alertWebUrl).toBe(`https://security.microsoft.com/alerts/${String(a.id)}?tid=${String(a.tenantId)}`);
      expect(a.incidentWebUrl).toBe(
        `https://security.microsoft.com/incidents/${String(a.incidentId)}?tid=${String(a.tenantId)}`,
      );
      expect(a.createdDateTime).toMatch(SEVEN_DIGITS);
      expect(a.lastUpdateDateTime).toMatch(SEVEN_DIGITS);
      expect(order(String(a.createdDateTime)) <= order(String(a.lastUpdateDateTime))).toBe(true);
      expect(order(String(a.firstActivityDateTime)) <= order(String(a.lastActivityDateTime))).toBe(true);
      expect((a.mitreTechniques as string[]).every((t) => /^T\d{4}(\.\d{3})?$/.test(t))).toBe(true);
      for (const field of [
        'detectionSource',
        'detectorId',
        'title',
        'description',
        'recommendedActions',
        'category',
        'classification',
        'determination',
      ]) {
        expect(a[field], field).toEqual(expect.any(String));
      }
      expect(a.comments).toEqual(expect.any(Array));
    }
  });

  it('carries typed evidence with the documented fields', () => {
    const byType = new Map<string, GraphObject[]>();
    for (const a of alerts) {
      for (const e of a.evidence as GraphObject[]) {
        const t = String(e['@odata.type']);
        byType.set(t, [...(byType.get(t) ?? []), e]);
        expect(e.createdDateTime).toMatch(SEVEN_DIGITS);
        expect(e.verdict).toEqual(expect.any(String));
        expect(e.remediationStatus).toEqual(expect.any(String));
        expect(e.roles).toEqual(expect.any(Array));
      }
    }
    const ns = '#microsoft.graph.security.';
    for (const kind of ['device', 'user', 'process', 'file', 'ip', 'url', 'mailbox']) {
      expect(byType.has(`${ns}${kind}Evidence`), kind).toBe(true);
    }
    for (const d of byType.get(`${ns}deviceEvidence`) ?? []) {
      expect(d).toMatchObject({
        deviceDnsName: expect.any(String),
        osPlatform: expect.any(String),
        ipInterfaces: expect.any(Array),
      });
      expect(d.mdeDeviceId).toMatch(/^[0-9a-f]{40}$/);
    }
    for (const u of byType.get(`${ns}userEvidence`) ?? []) {
      expect(Object.keys(u.userAccount as object)).toEqual(
        expect.arrayContaining(['accountName', 'domainName', 'userSid', 'azureAdUserId', 'userPrincipalName']),
      );
    }
    for (const p of byType.get(`${ns}processEvidence`) ?? []) {
      expect(p).toMatchObject({ processId: expect.any(Number), processCommandLine: expect.any(String) });
      const image = p.imageFile as Record<string, unknown>;
      expect(image.sha1).toMatch(/^[0-9a-f]{40}$/);
      expect(image.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(image).toMatchObject({ fileName: expect.any(String), filePath: expect.any(String) });
    }
    for (const ip of byType.get(`${ns}ipEvidence`) ?? []) expect(ip.ipAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    for (const u of byType.get(`${ns}urlEvidence`) ?? []) expect(u.url).toMatch(/^https?:\/\//);
  });
});

describe('createAlertGenerator: other resources realism', () => {
  const g = createAlertGenerator({ seed: 13, tenantIds: TENANTS });

  it('incidents come with PascalCase enums sometimes, and normalize to lower camelCase', () => {
    const incidents = g.many('incidents', 100);
    const pascal = incidents.filter((i) => /^[A-Z]/.test(String(i.status)));
    expect(pascal.length).toBeGreaterThan(10);
    expect(pascal.length).toBeLessThan(90);
    for (const i of pascal) expect(record('incidents', i).status).toMatch(/^[a-z][A-Za-z]*$/);
    expect(incidents.every((i) => /^\d+$/.test(String(i.id)) && typeof i.displayName === 'string')).toBe(true);
  });

  it('legacy alerts have vendorInformation and the v1 fields', () => {
    for (const a of g.many('alerts', 50)) {
      expect(Object.keys(a.vendorInformation as object).sort()).toEqual([
        'provider',
        'providerVersion',
        'subProvider',
        'vendor',
      ]);
      expect(a.azureTenantId).toEqual(expect.any(String));
      for (const field of ['hostStates', 'userStates', 'fileStates', 'networkConnections', 'processes', 'triggers']) {
        expect(a[field], field).toEqual(expect.any(Array));
      }
      expect(['newAlert', 'inProgress', 'resolved']).toContain(a.status);
    }
  });

  it('secure scores and control profiles look like the documented ones', () => {
    const score = g.secureScore();
    expect(score.id).toBe(`${String(score.azureTenantId)}_${String(score.createdDateTime).slice(0, 10)}`);
    expect(score.createdDateTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(score.currentScore as number).toBeLessThanOrEqual(score.maxScore as number);
    expect(score.controlScores).toEqual(
      expect.arrayContaining([expect.objectContaining({ controlName: 'AdminMFAV2' })]),
    );
    expect(score.vendorInformation).toMatchObject({ provider: 'SecureScore', vendor: 'Microsoft' });
    expect(record('secure_scores', score).title).toBe(
      `Secure score ${String(score.currentScore)}/${String(score.maxScore)}`,
    );
    const profile = g.controlProfile();
    expect(profile).toMatchObject({
      title: expect.any(String),
      maxScore: expect.any(Number),
      tier: expect.any(String),
      service: expect.any(String),
      controlCategory: expect.any(String),
    });
    expect(profile.lastModifiedDateTime).toMatch(SEVEN_DIGITS);
  });
});

describe('createAlertGenerator: updated()', () => {
  for (const resource of RESOURCES) {
    it(`${resource}: strictly newer revision, same key, original untouched`, () => {
      const g = createAlertGenerator({ seed: 21, tenantIds: TENANTS });
      for (const obj of g.many(resource, 30)) {
        const before = JSON.stringify(obj);
        const next = g.updated(obj);
        const again = g.updated(next);
        const [r0, r1, r2] = [record(resource, obj), record(resource, next), record(resource, again)];
        expect(order(r1.revision) > order(r0.revision)).toBe(true);
        expect(order(r2.revision) > order(r1.revision)).toBe(true);
        expect(r1.key).toBe(r0.key);
        expect(JSON.stringify(obj)).toBe(before);
      }
    });
  }

  it('progresses alerts_v2 new → inProgress → resolved', () => {
    const g = createAlertGenerator({ seed: 2 });
    const a0 = g.alertV2({ status: 'new', assignedTo: null, resolvedDateTime: null });
    const a1 = g.updated(a0);
    const a2 = g.updated(a1);
    expect([a1.status, a2.status]).toEqual(['inProgress', 'resolved']);
    expect(a1.assignedTo).toEqual(expect.any(String));
    expect(a2.resolvedDateTime).toBe(a2.lastUpdateDateTime);
    expect(a2.classification).toBe('truePositive');
    expect((a2.comments as unknown[]).length).toBe((a0.comments as unknown[]).length + 2);
  });

  it('progresses legacy newAlert → inProgress → resolved, and keeps incident casing', () => {
    const g = createAlertGenerator({ seed: 2 });
    const l1 = g.updated(g.legacyAlert({ status: 'newAlert' }));
    const l2 = g.updated(l1);
    expect([l1.status, l2.status]).toEqual(['inProgress', 'resolved']);
    expect(l2.closedDateTime).toBe(l2.lastModifiedDateTime);
    const i1 = g.updated(g.incident({ status: 'Active' }));
    expect(i1.status).toBe('InProgress');
    expect(g.updated(i1).status).toBe('Resolved');
    expect(g.updated(g.incident({ status: 'active' })).status).toBe('inProgress');
  });

  it('is deterministic and refuses shapes it does not know', () => {
    const a = createAlertGenerator({ seed: 4 });
    const b = createAlertGenerator({ seed: 4 });
    expect(a.updated(a.incident())).toEqual(b.updated(b.incident()));
    expect(() => a.updated({ foo: 1 })).toThrow(TypeError);
  });

  it('follows a wall clock when one is given, still strictly increasing', () => {
    const wall = new Date('2030-01-01T00:00:00Z');
    const g = createAlertGenerator({ seed: 1, clock: () => wall });
    const revs = g.many('alerts_v2', 20).map((a) => order(String(a.lastUpdateDateTime)));
    expect(revs[0]?.startsWith('2030-01-01T00:00:00.000')).toBe(true);
    for (let i = 1; i < revs.length; i++) expect((revs[i] as string) > (revs[i - 1] as string)).toBe(true);
  });
});
