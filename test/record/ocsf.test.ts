import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatterFor } from '../../src/record/format.js';
import { normalize } from '../../src/record/normalize.js';
import {
  ACTIVITY,
  OBSERVABLE,
  SEVERITY,
  STATUS,
  toOcsf,
  type OcsfDetectionFinding,
  type OcsfObservable,
} from '../../src/record/ocsf.js';
import type { AlertRecord, Resource } from '../../src/record/types.js';
import { createAlertGenerator } from '../../src/simulator/generate.js';
import { SAMPLES_DIR, sampleNames } from '../helpers/samples.js';

type Obj = Record<string, unknown>;
const NOW = new Date('2024-06-01T12:00:00.000Z');

/**
 * OCSF 1.3.0, Detection Finding (class_uid 2004) and the objects it uses, as the schema states them (schema.ocsf.io,
 * ocsf/ocsf-schema v1.3.0) — written out here, not read from src/record/ocsf.ts, so that a wrong table in the code
 * fails these tests instead of agreeing with itself. `Archived` (5) and `Deleted` (6) in status_id came in 1.4.0.
 */
const OCSF = {
  version: '1.3.0',
  class: { uid: 2004, name: 'Detection Finding' },
  category: { uid: 2, name: 'Findings' },
  activity: { 0: 'Unknown', 1: 'Create', 2: 'Update', 3: 'Close', 99: 'Other' } as Record<number, string>,
  severity: {
    0: 'Unknown',
    1: 'Informational',
    2: 'Low',
    3: 'Medium',
    4: 'High',
    5: 'Critical',
    6: 'Fatal',
    99: 'Other',
  } as Record<number, string>,
  status: { 0: 'Unknown', 1: 'New', 2: 'In Progress', 3: 'Suppressed', 4: 'Resolved', 99: 'Other' } as Record<
    number,
    string
  >,
  observable: {
    0: 'Unknown',
    1: 'Hostname',
    2: 'IP Address',
    3: 'MAC Address',
    4: 'User Name',
    5: 'Email Address',
    6: 'URL String',
    7: 'File Name',
    8: 'Hash',
    9: 'Process Name',
    10: 'Resource UID',
    99: 'Other',
  } as Record<number, string>,
  fingerprint: {
    0: 'Unknown',
    1: 'MD5',
    2: 'SHA-1',
    3: 'SHA-256',
    4: 'SHA-512',
    5: 'CTPH',
    6: 'TLSH',
    7: 'quickXorHash',
    99: 'Other',
  } as Record<number, string>,
  deviceType: {
    0: 'Unknown',
    1: 'Server',
    2: 'Desktop',
    3: 'Laptop',
    4: 'Tablet',
    5: 'Mobile',
    6: 'Virtual',
    7: 'IOT',
    99: 'Other',
  } as Record<number, string>,
  osType: {
    0: 'Unknown',
    100: 'Windows',
    200: 'Linux',
    201: 'Android',
    300: 'macOS',
    301: 'iOS',
    302: 'iPadOS',
    400: 'Solaris',
    401: 'AIX',
    402: 'HP-UX',
    99: 'Other',
  } as Record<number, string>,
  fileType: { 0: 'Unknown', 1: 'Regular File', 2: 'Folder', 99: 'Other' } as Record<number, string>,
  direction: { 0: 'Unknown', 1: 'Inbound', 2: 'Outbound', 3: 'Lateral', 99: 'Other' } as Record<number, string>,
  analyticType: {
    0: 'Unknown',
    1: 'Rule',
    2: 'Behavioral',
    3: 'Statistical',
    4: 'Learning (ML/DL)',
    99: 'Other',
  } as Record<number, string>,
};
/** Graph's values (lowercased by the normalizer) → OCSF ids, as docs/splunk.md "Format ocsf" promises. */
const SEVERITY_OF: Record<string, number> = { informational: 1, low: 2, medium: 3, high: 4, unknown: 0 };
const STATUS_OF: Record<string, number> = {
  new: 1,
  active: 1,
  inProgress: 2,
  awaitingAction: 2,
  dismissed: 3,
  resolved: 4,
  redirected: 99,
  unknown: 0,
};

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

/** Each object's `{idKey, nameKey}` enum pair must be one of `table`, with the table's caption (99: the source's label). */
function expectCaptions(objects: unknown[], idKey: string, nameKey: string, table: Record<number, string>): void {
  for (const o of objects) {
    if (typeof o !== 'object' || o === null) continue;
    const x = o as Obj;
    expect(Object.keys(table).map(Number), idKey).toContain(x[idKey]);
    if (x[idKey] !== 99) expect(x[nameKey], nameKey).toBe(table[x[idKey] as number]);
  }
}

/** What every Detection Finding must satisfy, whatever went in — checked against OCSF's tables above. */
function expectValidFinding(f: OcsfDetectionFinding, r: AlertRecord): void {
  expect(f.class_uid).toBe(OCSF.class.uid);
  expect(f.class_name).toBe(OCSF.class.name);
  expect(f.category_uid).toBe(OCSF.category.uid);
  expect(f.category_name).toBe(OCSF.category.name);
  expect(Object.keys(OCSF.activity).map(Number)).toContain(f.activity_id);
  expect(f.activity_name).toBe(OCSF.activity[f.activity_id]);
  expect(f.type_uid).toBe(OCSF.class.uid * 100 + f.activity_id);
  expect(f.type_name).toBe(`${OCSF.class.name}: ${OCSF.activity[f.activity_id]}`);
  expect(f.severity_id).toBe(SEVERITY_OF[r.severity]);
  expect(f.severity).toBe(OCSF.severity[f.severity_id]);
  expect(f.status_id).toBe(STATUS_OF[r.status] ?? 0);
  // status: the caption, or with 99 (Other) the source's own label
  expect(f.status).toBe(
    f.status_id === 99 ? r.status.charAt(0).toUpperCase() + r.status.slice(1) : OCSF.status[f.status_id as number],
  );
  expect(Number.isInteger(f.time)).toBe(true);
  expect(f.finding_info.uid).toBe(r.id);
  expect(typeof f.finding_info.title).toBe('string');
  expect(f.metadata.version).toBe(OCSF.version);
  expect(f.metadata.product.vendor_name).toBeTruthy();
  expect(f.metadata.tenant_uid).toBe(r.tenant_id);
  expect(f.metadata.uid).toBe(`${r.key}@${r.revision}`);
  expect(f.metadata.logged_time).toBe(Date.parse(r.ingested_at));
  for (const t of ['created_time', 'modified_time', 'first_seen_time', 'last_seen_time']) {
    const v = f.finding_info[t];
    if (v !== undefined) expect(Number.isInteger(v)).toBe(true);
  }
  for (const o of (f.observables ?? []) as OcsfObservable[]) {
    expect(Object.keys(OCSF.observable).map(Number)).toContain(o.type_id);
    expect(o.type).toBe(OCSF.observable[o.type_id]);
    expect(at(f, o.name)).toBe(o.value);
  }
  const evidences = (f.evidences ?? []) as Obj[];
  for (const e of evidences) {
    expect(Object.keys(e).length).toBeGreaterThan(0);
    for (const v of Object.values(e))
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) expect(Object.keys(v).length).toBeGreaterThan(0);
    const d = e.device as Obj | undefined;
    if (d) expect(d.hostname ?? d.name ?? d.uid ?? d.ip).toBeTruthy(); // OCSF: at least one identifies the device
  }
  const devices = [f.device, ...evidences.map((e) => e.device)];
  const proc = (e: Obj) => e.process as Obj | undefined;
  const files = evidences.flatMap((e) => [e.file, proc(e)?.file, (proc(e)?.parent_process as Obj | undefined)?.file]);
  expectCaptions(devices, 'type_id', 'type', OCSF.deviceType);
  expectCaptions(
    devices.map((d) => (d as Obj | undefined)?.os),
    'type_id',
    'type',
    OCSF.osType,
  );
  expectCaptions(files, 'type_id', 'type', OCSF.fileType);
  expectCaptions(
    files.flatMap((x) => ((x as Obj | undefined)?.hashes ?? []) as Obj[]),
    'algorithm_id',
    'algorithm',
    OCSF.fingerprint,
  );
  expectCaptions(
    evidences.map((e) => e.connection_info),
    'direction_id',
    'direction',
    OCSF.direction,
  );
  expectCaptions([f.finding_info.analytic], 'type_id', 'type', OCSF.analyticType);
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
      activity_id: 1,
      type_uid: 200401,
      type_name: 'Detection Finding: Create',
      severity_id: 3,
      severity: 'Medium',
      status_id: 1,
      status: 'New',
      status_detail: 'new',
      time: Date.parse(alert.lastUpdateDateTime as string),
      message: alert.title,
    });
    expect(f.finding_info).toMatchObject({
      uid: alert.id,
      title: alert.title,
      desc: alert.description,
      created_time: Date.parse(alert.createdDateTime as string),
      modified_time: Date.parse(alert.lastUpdateDateTime as string),
      first_seen_time: Date.parse(alert.firstActivityDateTime as string),
      last_seen_time: Date.parse(alert.lastActivityDateTime as string),
      types: [alert.category],
      src_url: alert.alertWebUrl,
      analytic: { uid: alert.detectorId, name: alert.detectionSource, type_id: 0, type: 'Unknown' },
    });
    expect(f.finding_info.attacks).toEqual(
      (alert.mitreTechniques as string[]).map((t) =>
        t.includes('.')
          ? { technique: { uid: t.split('.')[0] }, sub_technique: { uid: t } }
          : { technique: { uid: t } },
      ),
    );
    expect(f.metadata).toMatchObject({
      product: { name: alert.productName, vendor_name: 'Microsoft', feature: { name: alert.serviceSource } },
      correlation_uid: alert.incidentId,
      original_time: alert.lastUpdateDateTime,
      log_name: 'alerts_v2',
      log_provider: 'alertbridge',
    });
    expect(f.remediation).toEqual({ desc: alert.recommendedActions });
    expect(f.unmapped).toMatchObject({
      alertbridge: { key: r.key, revision: r.revision, source: 'contoso' },
      assigned_to: alert.assignedTo,
    });
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
            expect(d).toMatchObject({
              hostname: e.hostName,
              name: e.deviceDnsName,
              uid: e.mdeDeviceId,
              ip: (e.ipInterfaces as string[])[0],
              domain: e.dnsDomain,
            });
            expect(d.os).toMatchObject({ name: e.osPlatform, build: String(e.osBuild) });
            expect((d.os as Obj).type_id).toBe(
              String(e.osPlatform).startsWith('Windows') ? 100 : (d.os as Obj).type_id,
            );
            expect(d.type_id).toBe(String(e.osPlatform).includes('Server') ? 1 : 0);
            break;
          }
          case 'userEvidence': {
            const u = e.userAccount as Obj;
            expect(out.user).toEqual({
              name: u.accountName,
              uid: u.azureAdUserId,
              uid_alt: u.userSid,
              domain: u.domainName,
              full_name: u.displayName,
              email_addr: u.userPrincipalName,
            });
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
            expect(file.hashes).toEqual(
              expect.arrayContaining([
                { algorithm_id: 2, algorithm: 'SHA-1', value: d.sha1 },
                { algorithm_id: 3, algorithm: 'SHA-256', value: d.sha256 },
              ]),
            );
            break;
          }
          case 'processEvidence': {
            const p = out.process as Obj;
            expect(p).toMatchObject({
              pid: e.processId,
              cmd_line: e.processCommandLine,
              name: (e.imageFile as Obj).fileName,
              created_time: Date.parse(e.processCreationDateTime as string),
            });
            expect(p.parent_process).toMatchObject({
              pid: e.parentProcessId,
              name: (e.parentProcessImageFile as Obj).fileName,
            });
            expect((p.user as Obj).name).toBe((e.userAccount as Obj).accountName);
            break;
          }
          case 'mailboxEvidence':
            expect((out.user as Obj).email_addr).toBe(e.primaryAddress);
            break;
          case 'analyzedMessageEvidence':
            expect(out.email).toMatchObject({
              uid: e.networkMessageId,
              message_uid: e.internetMessageId,
              subject: e.subject,
              from: (e.p1Sender as Obj).emailAddress,
              to: [e.recipientEmailAddress],
            });
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
      const mainDevice =
        evidenceOf(alert, 'deviceEvidence').find((e) => (e.roles as string[]).includes('compromised')) ??
        evidenceOf(alert, 'deviceEvidence')[0];
      if (mainDevice) expect((f.device as Obj).uid).toBe(mainDevice.mdeDeviceId);
      const users = evidenceOf(alert, 'userEvidence');
      const mainUser = users.find((e) => (e.roles as string[]).includes('compromised')) ?? users[0];
      if (mainUser) expect(((f.actor as Obj).user as Obj).uid).toBe((mainUser.userAccount as Obj).azureAdUserId);
    }
    for (const kind of [
      'deviceEvidence',
      'userEvidence',
      'ipEvidence',
      'urlEvidence',
      'fileEvidence',
      'processEvidence',
      'mailboxEvidence',
      'analyzedMessageEvidence',
    ]) {
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
      expect(f.finding_info).toMatchObject({
        uid: alert.id,
        title: alert.title,
        first_seen_time: Date.parse(alert.eventDateTime as string),
        src_url: (alert.sourceMaterials as string[])[0],
      });
      expect(f.confidence_score).toBe(alert.confidence);
      const ev = f.evidences as Obj[];
      let i = 0;
      for (const h of alert.hostStates as Obj[]) {
        kinds.add('host');
        expect(ev[i++]!.device).toMatchObject({
          hostname: h.netBiosName,
          name: h.fqdn,
          ip: h.privateIpAddress,
          os: { name: h.os },
        });
      }
      for (const u of alert.userStates as Obj[]) {
        kinds.add('user');
        const e = ev[i++]!;
        expect(e.user).toMatchObject({
          name: u.accountName,
          uid: u.aadUserId,
          uid_alt: u.onPremisesSecurityIdentifier,
          email_addr: u.userPrincipalName,
        });
        if (u.logonIp) expect((e.src_endpoint as Obj).ip).toBe(u.logonIp);
      }
      for (const s of alert.fileStates as Obj[]) {
        kinds.add('file');
        const hash = s.fileHash as Obj;
        expect(ev[i++]!.file).toMatchObject({
          name: s.name,
          path: s.path,
          hashes: [{ value: hash.hashValue, algorithm_id: hash.hashType === 'sha256' ? 3 : 2 }],
        });
      }
      for (const p of alert.processes as Obj[]) {
        kinds.add('process');
        expect(ev[i++]!.process).toMatchObject({
          pid: p.processId,
          name: p.name,
          cmd_line: p.commandLine,
          parent_process: { pid: p.parentProcessId, name: p.parentProcessName },
        });
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
      const expected = {
        newAlert: [1, 'New'],
        inProgress: [2, 'In Progress'],
        resolved: [4, 'Resolved'],
        dismissed: [3, 'Suppressed'],
      }[status];
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
        uid: incident.id,
        title: incident.displayName,
        desc: incident.description,
        src_url: incident.incidentWebUrl,
        created_time: Date.parse(incident.createdDateTime as string),
        modified_time: Date.parse(incident.lastUpdateDateTime as string),
      });
      expect(f.metadata.product).toEqual({
        name: 'Microsoft Defender XDR',
        vendor_name: 'Microsoft',
        feature: { name: 'incidents' },
      });
      expect(f.severity).toBe(
        { informational: 'Informational', low: 'Low', medium: 'Medium', high: 'High', unknown: 'Unknown' }[r.severity],
      );
      expect(f.status_detail).toBe(incident.status);
      expect(f.evidences).toBeUndefined();
      expect(f.metadata.labels ?? []).toEqual([
        ...(incident.systemTags as string[]),
        ...(incident.customTags as string[]),
      ]);
    }
  });

  it("tells Create, Update and Close apart by the object's state", () => {
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

  it("uses OCSF 1.3.0's own ids and captions in its tables", () => {
    expect({ ...ACTIVITY }).toEqual(OCSF.activity);
    expect({ ...SEVERITY }).toEqual(OCSF.severity);
    expect({ ...STATUS }).toEqual(OCSF.status);
    const observed = Object.fromEntries(Object.entries(OBSERVABLE).map(([k, id]) => [k, OCSF.observable[id]]));
    expect(observed).toEqual({
      hostname: 'Hostname',
      ip: 'IP Address',
      userName: 'User Name',
      email: 'Email Address',
      url: 'URL String',
      fileName: 'File Name',
      hash: 'Hash',
      processName: 'Process Name',
    });
  });

  it.each([
    [
      'alerts_v2',
      { informational: 1, low: 2, medium: 3, high: 4, unknownFutureValue: 0 },
      {
        new: [1, 'New'],
        inProgress: [2, 'In Progress'],
        resolved: [4, 'Resolved'],
        unknownFutureValue: [0, 'Unknown'],
      },
    ],
    [
      'incidents',
      { informational: 1, low: 2, medium: 3, high: 4, unknownFutureValue: 0 },
      {
        active: [1, 'New'],
        inProgress: [2, 'In Progress'],
        awaitingAction: [2, 'In Progress'],
        resolved: [4, 'Resolved'],
        redirected: [99, 'Redirected'],
      },
    ],
    [
      'alerts',
      { informational: 1, low: 2, medium: 3, high: 4, unknown: 0 },
      {
        newAlert: [1, 'New'],
        inProgress: [2, 'In Progress'],
        resolved: [4, 'Resolved'],
        dismissed: [3, 'Suppressed'],
        unknown: [0, 'Unknown'],
      },
    ],
  ] as const)("maps every %s severity and status Graph documents to OCSF's", (resource, severities, statuses) => {
    const g = createAlertGenerator({ seed: 8 });
    const make = (over: Obj): Obj =>
      resource === 'alerts_v2' ? g.alertV2(over) : resource === 'incidents' ? g.incident(over) : g.legacyAlert(over);
    for (const [severity, id] of Object.entries(severities)) {
      const r = rec(resource, make({ severity }));
      const f = toOcsf(r);
      expectValidFinding(f, r);
      expect([f.severity_id, f.severity], severity).toEqual([id, OCSF.severity[id]]);
    }
    for (const [status, [id, caption]] of Object.entries(statuses)) {
      const r = rec(resource, make({ status }));
      const f = toOcsf(r);
      expectValidFinding(f, r);
      expect([f.status_id, f.status, f.status_detail], status).toEqual([id, caption, status]);
      if (id === 3 || id === 4 || id === 99) expect(f.type_uid, status).toBe(200403); // closed: activity Close
    }
  });

  describe("Microsoft's documented samples (test/fixtures/graph-samples)", () => {
    /** The samples that are Graph security objects, with the resource they are; the docs' truncated ones have no id. */
    const MAPPED: Array<[string, Resource, (o: Obj) => Obj]> = [
      ['alerts_v2-resource-representation.json', 'alerts_v2', (o) => o],
      ['incident-resource-representation.json', 'incidents', (o) => o],
      ['alert-resource-representation.v1.json', 'alerts', (o) => o],
      ['alert-list-response.v1.json', 'alerts', (o) => ({ id: 'x-1', ...(o.value as Obj[])[0] })],
      ['alert-update-response-prefer-representation.v1.json', 'alerts', (o) => ({ id: 'x-1', ...o })],
    ];
    /** The others, and why they are not records. */
    const NOT_RECORDS = [
      'alert-trigger-example.v1.json', // one alertTrigger, a part of a legacy alert
      'alert-update-request.v1.json',
      'alerts_v2-update-request.json', // PATCH bodies
      'change-notification-webhook-payload.json',
      'changenotification-resource-representation.json',
      'subscription-create-request-with-lifecycle-url.json',
      'subscription-create-request.json',
      'subscription-create-response.json',
      'subscription-renew-request.json',
      'subscription-renew-response.json',
      'throttling-429-response.json',
      'token-response.client-credentials.json',
    ];
    const fileText = (name: string) => readFileSync(join(SAMPLES_DIR, name), 'utf8');
    const recordOf = (name: string): AlertRecord => {
      const [, resource, pick] = MAPPED.find(([n]) => n === name)!;
      return rec(resource, pick(JSON.parse(fileText(name)) as Obj));
    };

    it('are each either mapped here or known not to be a record', () => {
      expect([...MAPPED.map(([n]) => n), ...NOT_RECORDS].sort()).toEqual(sampleNames());
    });

    it.each(MAPPED.map(([n]) => n))('format graph is %s verbatim', (name) => {
      const [, , pick] = MAPPED.find(([n]) => n === name)!;
      const graph = formatterFor('graph')(recordOf(name));
      // same keys, same order, same values as the document itself (after the id the truncated ones lack)
      expect(JSON.stringify(graph)).toBe(JSON.stringify(pick(JSON.parse(fileText(name)) as Obj)));
    });

    const identity = (r: AlertRecord) => ({
      uid: `${r.key}@${r.revision}`,
      unmapped: {
        alertbridge: {
          key: r.key,
          revision: r.revision,
          source: 'contoso',
          resource: r.resource,
          provider: r.provider,
          via: 'poll',
        },
      },
    });
    const finding = { class_uid: 2004, class_name: 'Detection Finding', category_uid: 2, category_name: 'Findings' };
    // Placeholder values ("String", "@odata.type: …") are no Graph severity or status, and "String (timestamp)" is no
    // time: Unknown (0) for both, the ingestion time for `time`, and no created/modified times invented.
    const unknowns = { severity_id: 0, severity: 'Unknown', status_id: 0, status: 'Unknown', time: NOW.getTime() };
    const update = {
      activity_id: 2,
      activity_name: 'Update',
      type_uid: 200402,
      type_name: 'Detection Finding: Update',
    }; // it has comments: triage
    const create = {
      activity_id: 1,
      activity_name: 'Create',
      type_uid: 200401,
      type_name: 'Detection Finding: Create',
    };
    const meta = (r: AlertRecord) => ({
      version: '1.3.0',
      uid: identity(r).uid,
      logged_time: NOW.getTime(),
      log_name: r.resource,
      log_provider: 'alertbridge',
    });

    const truncated = (r: AlertRecord): Obj => ({
      ...finding,
      ...create,
      ...unknowns,
      message: 'x-1',
      finding_info: { uid: 'x-1', title: 'x-1', types: ['category-value'] },
      metadata: { ...meta(r), product: { vendor_name: 'Microsoft' }, tenant_uid: 'azureTenantId-value' },
      unmapped: { ...identity(r).unmapped, assigned_to: 'assignedTo-value' },
    });
    const EXPECTED: Array<[string, (r: AlertRecord) => Obj]> = [
      [
        'alerts_v2-resource-representation.json',
        (r) => ({
          ...finding,
          ...update,
          ...unknowns,
          status_detail: 'String',
          message: 'String',
          finding_info: {
            uid: 'String (identifier)',
            title: 'String',
            desc: 'String',
            types: ['String'],
            src_url: 'String',
            analytic: { uid: 'String', name: 'String', type_id: 0, type: 'Unknown' },
            attacks: [{ technique: { uid: 'String' } }],
          },
          metadata: {
            ...meta(r),
            product: { name: 'String', vendor_name: 'Microsoft', feature: { name: 'String' } },
            tenant_uid: 'String',
            correlation_uid: 'String',
            labels: ['String', 'String'],
          },
          remediation: { desc: 'String' },
          evidences: [{ data: { '@odata.type': 'microsoft.graph.security.alertEvidence' } }], // an evidence kind OCSF has no object for: verbatim
          unmapped: {
            ...identity(r).unmapped,
            assigned_to: 'String',
            classification: 'String',
            determination: 'String',
          },
        }),
      ],
      [
        'incident-resource-representation.json',
        (r) => ({
          ...finding,
          ...update,
          ...unknowns,
          status_detail: 'String',
          message: 'String',
          finding_info: { uid: 'String (identifier)', title: 'String', desc: 'String', src_url: 'String' },
          metadata: {
            ...meta(r),
            product: { name: 'Microsoft Defender XDR', vendor_name: 'Microsoft', feature: { name: 'incidents' } },
            tenant_uid: 'String',
            correlation_uid: 'String (identifier)',
            labels: ['String', 'String'],
          },
          unmapped: {
            ...identity(r).unmapped,
            assigned_to: 'String',
            classification: 'String',
            determination: 'String',
          },
        }),
      ],
      // Its host, process and connection states are empty: no device of type Unknown, empty process or connection
      // between nobody is invented; and vendorInformation names no provider, so there is no product name either.
      [
        'alert-resource-representation.v1.json',
        (r) => ({
          ...finding,
          ...update,
          ...unknowns,
          status_detail: '@odata.type: microsoft.graph.alertStatus',
          message: 'String',
          finding_info: {
            uid: 'String (identifier)',
            title: 'String',
            desc: 'String',
            types: ['String'],
            src_url: 'String',
          },
          metadata: {
            ...meta(r),
            product: { vendor_name: 'Microsoft' },
            tenant_uid: 'String',
            correlation_uid: 'String',
            labels: ['String'],
          },
          confidence_score: 1024,
          remediation: { desc: 'String' },
          unmapped: { ...identity(r).unmapped, assigned_to: 'String' },
        }),
      ],
      ['alert-list-response.v1.json', truncated],
      ['alert-update-response-prefer-representation.v1.json', truncated],
    ];

    it('has a field-by-field expectation for every mapped sample', () => {
      expect(EXPECTED.map(([n]) => n).sort()).toEqual(MAPPED.map(([n]) => n).sort());
    });

    it.each(EXPECTED)('maps %s field by field', (name, expected) => {
      const r = recordOf(name);
      const f = toOcsf(r);
      expectValidFinding(f, r);
      expect(f).toEqual(expected(r));
    });
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

describe('OCSF of a revision with changes', () => {
  it('is an Update carrying the previous values; the first revision stays a Create', () => {
    const res = normalize(
      'alerts_v2',
      {
        id: 'da1',
        tenantId: 't',
        serviceSource: 'microsoftDefenderForEndpoint',
        status: 'new',
        severity: 'high',
        title: 'x',
        createdDateTime: '2024-06-01T10:00:00Z',
        lastUpdateDateTime: '2024-06-01T11:00:00Z',
      },
      { source: 's', via: 'poll', now: NOW },
    );
    if (!res.ok) throw new Error(res.reason);
    expect(toOcsf(res.record).activity_id).toBe(1);
    const changes = [{ field: 'severity', from: 'medium', to: 'high' }];
    const f = toOcsf({ ...res.record, changes });
    expect(f.activity_id).toBe(2);
    expect(f.type_uid).toBe(200402);
    expect((f.unmapped as { alertbridge: { changes: unknown } }).alertbridge.changes).toEqual(changes);
  });
});
