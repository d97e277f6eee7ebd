import { describe, expect, it } from 'vitest';
import { formatterFor } from '../../src/record/format.js';
import { normalize } from '../../src/record/normalize.js';
import { ACTIVITY, OBSERVABLE, OCSF_VERSION, SEVERITY, STATUS, toOcsf, type OcsfDetectionFinding, type OcsfObservable } from '../../src/record/ocsf.js';
import type { AlertRecord, Resource } from '../../src/record/types.js';
import { createAlertGenerator } from '../../src/simulator/generate.js';
import { loadSample } from '../helpers/samples.js';

type Obj = Record<string, unknown>;
const NOW = new Date('2024-06-01T12:00:00.000Z');

function rec(resource: Resource, obj: Obj): AlertRecord {
  const res = normalize(resource, obj, { source: 'contoso', via: 'poll', now: NOW, tenantId: 't-1' });
  if (!res.ok) throw new Error(res.reason);
  return res.record;
}

/** Reads `a.b[2].c` out of an object: observables name the attribute they were taken from. */
function at(root: unknown, path: string): unknown {
  return path.split(/\.|(?=\[)/).reduce<unknown>((o, part) => {
    const m = /^\[(\d+)\]$/.exec(part);
    if (o === undefined || o === null) return undefined;
    return m ? (o as unknown[])[Number(m[1])] : (o as Obj)[part];
  }, root);
}

const evidenceOf = (alert: Obj, kind: string): Obj[] =>
  (alert.evidence as Obj[]).filter((e) => e['@odata.type'] === `#microsoft.graph.security.${kind}`);

/** What every Detection Finding must satisfy, whatever went in. */
function expectValidFinding(f: OcsfDetectionFinding, r: AlertRecord): void {
  expect(f.class_uid).toBe(2004);
  expect(f.category_uid).toBe(2);
  expect(f.class_name).toBe('Detection Finding');
  expect(f.category_name).toBe('Findings');
  expect(Object.keys(ACTIVITY).map(Number)).toContain(f.activity_id);
  expect(f.activity_name).toBe(ACTIVITY[f.activity_id as keyof typeof ACTIVITY]);
  expect(f.type_uid).toBe(200400 + f.activity_id);
  expect(Object.keys(SEVERITY).map(Number)).toContain(f.severity_id);
  expect(f.severity).toBe(SEVERITY[f.severity_id as keyof typeof SEVERITY]);
  expect(Object.keys(STATUS).map(Number)).toContain(f.status_id);
  expect(typeof f.status).toBe('string');
  expect(Number.isInteger(f.time)).toBe(true);
  expect(f.finding_info.uid).toBe(r.id);
  expect(typeof f.finding_info.title).toBe('string');
  expect(f.metadata.version).toBe(OCSF_VERSION);
  expect(f.metadata.product.vendor_name).toBeTruthy();
  expect(f.metadata.tenant_uid).toBe(r.tenant_id);
  expect(f.metadata.uid).toBe(`${r.key}@${r.revision}`);
  expect(f.metadata.logged_time).toBe(Date.parse(r.ingested_at));
  for (const t of ['created_time', 'modified_time', 'first_seen_time', 'last_seen_time']) {
    const v = f.finding_info[t];
    if (v !== undefined) expect(Number.isInteger(v)).toBe(true);
  }
  const types = new Set<number>(Object.values(OBSERVABLE));
  for (const o of (f.observables ?? []) as OcsfObservable[]) {
    expect(types.has(o.type_id)).toBe(true);
    expect(at(f, o.name)).toBe(o.value);
  }
  for (const e of (f.evidences ?? []) as Obj[]) {
    expect(Object.keys(e).length).toBeGreaterThan(0);
    const device = e.device as Obj | undefined;
    if (device) expect([0, 1]).toContain(device.type_id);
    const file = (e.file ?? (e.process as Obj | undefined)?.file) as Obj | undefined;
    if (file) expect(file.type_id).toBe(1);
  }
  if (f.device || f.actor) expect(f.metadata.profiles).toEqual(['host']);
  expect(JSON.parse(JSON.stringify(f))).toEqual(f); // plain JSON
  expect(nullsIn(f)).toEqual([]); // optional attributes are left out, never null (Graph's own nulls stay in `data`)
}

function nullsIn(o: unknown, path = ''): string[] {
  if (o === null) return [path];
  if (typeof o !== 'object') return [];
  return Object.entries(o as Obj).flatMap(([k, v]) => (k === 'data' ? [] : nullsIn(v, `${path}.${k}`)));
}

describe('OCSF Detection Finding', () => {
  it('is what formatterFor("ocsf") produces', () => {
    const r = rec('alerts_v2', createAlertGenerator({ seed: 1 }).alertV2());
    expect(formatterFor('ocsf')(r)).toEqual(toOcsf(r));
  });

  it('maps a generated alerts_v2 alert field by field', () => {
    const g = createAlertGenerator({ seed: 3 });
    const alert = g.alertV2({ status: 'new', comments: [] });
    const r = rec('alerts_v2', alert);
    const f = toOcsf(r);
    expectValidFinding(f, r);
    expect(f).toMatchObject({
      activity_id: 1, type_uid: 200401, type_name: 'Detection Finding: Create',
      severity_id: 3, severity: 'Medium', status_id: 1, status: 'New', status_detail: 'new',
      time: Date.parse(alert.lastUpdateDateTime as string),
      message: alert.title,
    });
    expect(f.finding_info).toMatchObject({
      uid: alert.id, title: alert.title, desc: alert.description,
      created_time: Date.parse(alert.createdDateTime as string),
      modified_time: Date.parse(alert.lastUpdateDateTime as string),
      first_seen_time: Date.parse(alert.firstActivityDateTime as string),
      last_seen_time: Date.parse(alert.lastActivityDateTime as string),
      types: [alert.category],
      src_url: alert.alertWebUrl,
      analytic: { uid: alert.detectorId, name: alert.detectionSource, type_id: 0, type: 'Unknown' },
    });
    expect(f.finding_info.attacks).toEqual((alert.mitreTechniques as string[]).map((t) =>
      t.includes('.') ? { technique: { uid: t.split('.')[0] }, sub_technique: { uid: t } } : { technique: { uid: t } }));
    expect(f.metadata).toMatchObject({
      product: { name: alert.productName, vendor_name: 'Microsoft', feature: { name: alert.serviceSource } },
      correlation_uid: alert.incidentId, original_time: alert.lastUpdateDateTime, log_name: 'alerts_v2', log_provider: 'alertbridge',
    });
    expect(f.remediation).toEqual({ desc: alert.recommendedActions });
    expect(f.unmapped).toMatchObject({ alertbridge: { key: r.key, revision: r.revision, source: 'contoso' }, assigned_to: alert.assignedTo });
    expect(f.evidences).toHaveLength((alert.evidence as unknown[]).length);
    expect('raw_data' in f).toBe(false);
    expect(JSON.parse(toOcsf(r, { rawData: true }).raw_data as string)).toEqual(alert);
  });

  it('maps every alerts_v2 evidence kind the generator makes', () => {
    const g = createAlertGenerator({ seed: 11 });
    const alerts = g.many('alerts_v2', 400);
    const seen = new Set<string>();
    for (const alert of alerts) {
      const r = rec('alerts_v2', alert);
      const f = toOcsf(r);
      expectValidFinding(f, r);
      const ev = f.evidences as Obj[];
      (alert.evidence as Obj[]).forEach((e, i) => {
        const kind = String(e['@odata.type']).replace('#microsoft.graph.security.', '');
        seen.add(kind);
        const out = ev[i]!;
        switch (kind) {
          case 'deviceEvidence': {
            const d = out.device as Obj;
            expect(d).toMatchObject({ hostname: e.hostName, name: e.deviceDnsName, uid: e.mdeDeviceId, ip: (e.ipInterfaces as string[])[0], domain: e.dnsDomain });
            expect(d.os).toMatchObject({ name: e.osPlatform, build: String(e.osBuild) });
            expect((d.os as Obj).type_id).toBe(String(e.osPlatform).startsWith('Windows') ? 100 : (d.os as Obj).type_id);
            expect(d.type_id).toBe(String(e.osPlatform).includes('Server') ? 1 : 0);
            break;
          }
          case 'userEvidence': {
            const u = e.userAccount as Obj;
            expect(out.user).toEqual({ name: u.accountName, uid: u.azureAdUserId, uid_alt: u.userSid, domain: u.domainName, full_name: u.displayName, email_addr: u.userPrincipalName });
            break;
          }
          case 'ipEvidence': {
            const ep = (out.src_endpoint ?? out.dst_endpoint) as Obj;
            expect(ep.ip).toBe(e.ipAddress);
            expect(ep.location).toMatchObject({ country: e.countryLetterCode, city: (e.location as Obj).city });
            break;
          }
          case 'urlEvidence':
            expect((out.url as Obj).url_string).toBe(e.url);
            expect((out.url as Obj).hostname).toBe(new URL(e.url as string).hostname);
            break;
          case 'fileEvidence': {
            const d = e.fileDetails as Obj;
            const file = out.file as Obj;
            expect(file).toMatchObject({ name: d.fileName, parent_folder: d.filePath, type_id: 1, size: d.fileSize });
            const sep = String(d.filePath).includes('/') ? '/' : '\\'; // Linux evidence keeps its own separator
            expect(file.path).toBe(`${d.filePath}${sep}${d.fileName}`);
            expect(file.hashes).toEqual(expect.arrayContaining([
              { algorithm_id: 2, algorithm: 'SHA-1', value: d.sha1 }, { algorithm_id: 3, algorithm: 'SHA-256', value: d.sha256 },
            ]));
            break;
          }
          case 'processEvidence': {
            const p = out.process as Obj;
            expect(p).toMatchObject({ pid: e.processId, cmd_line: e.processCommandLine, name: (e.imageFile as Obj).fileName, created_time: Date.parse(e.processCreationDateTime as string) });
            expect(p.parent_process).toMatchObject({ pid: e.parentProcessId, name: (e.parentProcessImageFile as Obj).fileName });
            expect((p.user as Obj).name).toBe((e.userAccount as Obj).accountName);
            break;
          }
          case 'mailboxEvidence':
            expect((out.user as Obj).email_addr).toBe(e.primaryAddress);
            break;
          case 'analyzedMessageEvidence':
            expect(out.email).toMatchObject({ uid: e.networkMessageId, message_uid: e.internetMessageId, subject: e.subject,
              from: (e.p1Sender as Obj).emailAddress, to: [e.recipientEmailAddress] });
            expect((out.src_endpoint as Obj).ip).toBe(e.senderIp);
            break;
          case 'cloudApplicationEvidence':
            expect(out.data).toEqual(e);
            expect(f.resources).toContainEqual({ uid: String(e.appId), name: e.displayName, type: 'cloudApplication' });
            break;
          default:
            expect(out.data).toEqual(e);
        }
      });
      // The main device and user are the finding's device and actor (host profile).
      const mainDevice = evidenceOf(alert, 'deviceEvidence').find((e) => (e.roles as string[]).includes('compromised')) ?? evidenceOf(alert, 'deviceEvidence')[0];
      if (mainDevice) expect((f.device as Obj).uid).toBe(mainDevice.mdeDeviceId);
      const users = evidenceOf(alert, 'userEvidence');
      const mainUser = users.find((e) => (e.roles as string[]).includes('compromised')) ?? users[0];
      if (mainUser) expect(((f.actor as Obj).user as Obj).uid).toBe((mainUser.userAccount as Obj).azureAdUserId);
    }
    for (const kind of ['deviceEvidence', 'userEvidence', 'ipEvidence', 'urlEvidence', 'fileEvidence', 'processEvidence', 'mailboxEvidence', 'analyzedMessageEvidence']) {
      expect(seen, kind).toContain(kind);
    }
  });

  it('lists observables with OCSF type ids: hostname, IP, user, email, URL, file, hash, process', () => {
    const g = createAlertGenerator({ seed: 5 });
    const types = new Set<number>();
    for (const alert of g.many('alerts_v2', 200)) {
      const f = toOcsf(rec('alerts_v2', alert));
      for (const o of (f.observables ?? []) as OcsfObservable[]) types.add(o.type_id);
    }
    expect([...types].sort((a, b) => a - b)).toEqual([1, 2, 4, 5, 6, 7, 8, 9]);
  });

  it('maps legacy alerts from hostStates, userStates, fileStates, processes and networkConnections', () => {
    const g = createAlertGenerator({ seed: 9 });
    const kinds = new Set<string>();
    for (const alert of g.many('alerts', 300)) {
      const r = rec('alerts', alert);
      const f = toOcsf(r);
      expectValidFinding(f, r);
      const vendor = alert.vendorInformation as Obj;
      expect(f.metadata.product).toMatchObject({ name: vendor.provider, vendor_name: 'Microsoft' });
      expect(f.finding_info).toMatchObject({ uid: alert.id, title: alert.title, first_seen_time: Date.parse(alert.eventDateTime as string), src_url: (alert.sourceMaterials as string[])[0] });
      expect(f.confidence_score).toBe(alert.confidence);
      const ev = f.evidences as Obj[];
      let i = 0;
      for (const h of alert.hostStates as Obj[]) {
        kinds.add('host');
        expect(ev[i++]!.device).toMatchObject({ hostname: h.netBiosName, name: h.fqdn, ip: h.privateIpAddress, os: { name: h.os } });
      }
      for (const u of alert.userStates as Obj[]) {
        kinds.add('user');
        const e = ev[i++]!;
        expect(e.user).toMatchObject({ name: u.accountName, uid: u.aadUserId, uid_alt: u.onPremisesSecurityIdentifier, email_addr: u.userPrincipalName });
        if (u.logonIp) expect((e.src_endpoint as Obj).ip).toBe(u.logonIp);
      }
      for (const s of alert.fileStates as Obj[]) {
        kinds.add('file');
        const hash = s.fileHash as Obj;
        expect(ev[i++]!.file).toMatchObject({ name: s.name, path: s.path, hashes: [{ value: hash.hashValue, algorithm_id: hash.hashType === 'sha256' ? 3 : 2 }] });
      }
      for (const p of alert.processes as Obj[]) {
        kinds.add('process');
        expect(ev[i++]!.process).toMatchObject({ pid: p.processId, name: p.name, cmd_line: p.commandLine, parent_process: { pid: p.parentProcessId, name: p.parentProcessName } });
      }
      for (const n of alert.networkConnections as Obj[]) {
        kinds.add('network');
        const e = ev[i++]!;
        expect(e.src_endpoint).toMatchObject({ ip: n.sourceAddress, port: Number(n.sourcePort) });
        expect(e.dst_endpoint).toMatchObject({ ip: n.destinationAddress, port: Number(n.destinationPort) });
        expect(e.connection_info).toEqual({ direction_id: 1, direction: 'Inbound', protocol_name: n.protocol });
      }
      expect(ev ?? []).toHaveLength(i);
      // newAlert → New / Create; resolved → Resolved / Close; dismissed → Suppressed.
      const status = alert.status as string;
      const expected = { newAlert: [1, 'New'], inProgress: [2, 'In Progress'], resolved: [4, 'Resolved'], dismissed: [3, 'Suppressed'] }[status];
      if (expected) expect([f.status_id, f.status]).toEqual(expected);
      if (status === 'resolved' || status === 'dismissed') expect(f.type_uid).toBe(200403);
    }
    expect([...kinds].sort()).toEqual(['file', 'host', 'network', 'process', 'user']);
  });

  it('maps incidents from their own fields', () => {
    const g = createAlertGenerator({ seed: 4 });
    for (const incident of g.many('incidents', 100)) {
      const r = rec('incidents', incident);
      const f = toOcsf(r);
      expectValidFinding(f, r);
      expect(f.finding_info).toMatchObject({
        uid: incident.id, title: incident.displayName, desc: incident.description, src_url: incident.incidentWebUrl,
        created_time: Date.parse(incident.createdDateTime as string), modified_time: Date.parse(incident.lastUpdateDateTime as string),
      });
      expect(f.metadata.product).toEqual({ name: 'Microsoft Defender XDR', vendor_name: 'Microsoft', feature: { name: 'incidents' } });
      expect(f.severity).toBe({ informational: 'Informational', low: 'Low', medium: 'Medium', high: 'High', unknown: 'Unknown' }[r.severity]);
      expect(f.status_detail).toBe(incident.status);
      expect(f.evidences).toBeUndefined();
      expect(f.metadata.labels ?? []).toEqual([...(incident.systemTags as string[]), ...(incident.customTags as string[])]);
    }
  });

  it('tells Create, Update and Close apart by the object\'s state', () => {
    const g = createAlertGenerator({ seed: 2 });
    const fresh = g.alertV2({ status: 'new', comments: [] });
    const triaged = g.updated({ ...fresh });
    const closed = g.updated(g.updated(triaged));
    expect(toOcsf(rec('alerts_v2', fresh)).type_uid).toBe(200401);
    expect(triaged.status).toBe('inProgress');
    expect(toOcsf(rec('alerts_v2', triaged)).type_uid).toBe(200402);
    expect(toOcsf(rec('alerts_v2', { ...fresh, comments: [{ comment: 'looking' }] })).type_uid).toBe(200402);
    expect(closed.status).toBe('resolved');
    expect(toOcsf(rec('alerts_v2', closed))).toMatchObject({ type_uid: 200403, status_id: 4, status: 'Resolved' });
    const redirected = toOcsf(rec('incidents', g.incident({ status: 'Redirected' })));
    expect(redirected).toMatchObject({ type_uid: 200403, status_id: 99, status: 'Redirected' });
  });

  it('keeps the documented placeholder samples valid (unknowns stay Unknown, no times invented)', () => {
    const cases: Array<[Resource, Obj]> = [
      ['alerts_v2', loadSample('alerts_v2-resource-representation.json')],
      ['incidents', loadSample('incident-resource-representation.json')],
      ['alerts', loadSample('alert-resource-representation.v1.json')],
      ['alerts', (loadSample('alert-list-response.v1.json').value as Obj[])[0]!],
      ['alerts', loadSample('alert-update-response-prefer-representation.v1.json')],
    ];
    for (const [resource, obj] of cases) {
      const r = rec(resource, { id: 'x-1', ...obj });
      const f = toOcsf(r);
      expectValidFinding(f, r);
      expect(f).toMatchObject({ severity_id: 0, severity: 'Unknown', status_id: 0, status: 'Unknown' });
      expect(f.time).toBe(NOW.getTime());
      expect(f.finding_info.created_time).toBeUndefined();
    }
    const v2 = toOcsf(rec('alerts_v2', loadSample('alerts_v2-resource-representation.json')));
    expect(v2.evidences).toEqual([{ data: { '@odata.type': 'microsoft.graph.security.alertEvidence' } }]);
    expect(v2.finding_info.attacks).toEqual([{ technique: { uid: 'String' } }]);
  });

  it('maps secure scores and control profiles to a minimal finding', () => {
    const g = createAlertGenerator({ seed: 6 });
    for (const resource of ['secure_scores', 'secure_score_control_profiles'] as const) {
      const r = rec(resource, g.generate(resource));
      const f = toOcsf(r);
      expectValidFinding(f, r);
      expect(f.severity_id).toBe(0);
      expect(f.finding_info.title).toBe(r.title ?? r.id);
    }
  });
});
