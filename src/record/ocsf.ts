/**
 * `format: ocsf`: a record as an OCSF 1.3.0 Detection Finding (class_uid 2004, category_uid 2 "Findings").
 *
 * Why OCSF: SIEMs and security lakes (Splunk, Security Lake, Sentinel's ASIM mappings) query one schema across
 * products. The class's required attributes are always present (`activity_id`, `category_uid`, `class_uid`,
 * `finding_info` with `uid`, `metadata` with `product` and `version`, `severity_id`, `time`, `type_uid`); everything
 * else is set only when the Graph object carries it. What OCSF has no place for goes to `unmapped`; the Graph object
 * itself is in `raw_data` only when asked (`toOcsf(record, { rawData: true })`), since it doubles the event's size.
 *
 * Mapping per resource:
 * - alerts_v2: `evidence[]` → `evidences[]` (device, user, process, file, ip, url, mailbox, analyzedMessage; other
 *   kinds verbatim in `evidences[].data`, cloud apps and Azure resources also in `resources[]`), the main device and
 *   user → `device` and `actor.user` (OCSF's host profile), MITRE techniques → `finding_info.attacks`.
 * - legacy alerts: `hostStates`, `userStates`, `fileStates`, `processes`, `networkConnections` → `evidences[]`.
 * - incidents, secure scores, control profiles: the finding's own fields (no evidence in those objects).
 *
 * `activity_id`: Graph does not say whether an object is a first revision, so alertbridge tells from its state —
 * Close (3) when resolved, dismissed or redirected; Update (2) when it shows triage (in progress, awaiting action,
 * comments, feedback) or when alertbridge delivered an earlier revision (the record has `changes`, whose previous
 * values go to `unmapped.alertbridge.changes`); otherwise Create (1), also the answer when nothing can be told.
 */
import { UNKNOWN, incidentIdOf } from './normalize.js';
import type { AlertRecord } from './types.js';

export const OCSF_VERSION = '1.3.0';
export const DETECTION_FINDING = {
  class_uid: 2004,
  class_name: 'Detection Finding',
  category_uid: 2,
  category_name: 'Findings',
} as const;

/** OCSF enums used here (id → caption), exported for tests and for SIEM-side documentation. */
export const ACTIVITY = { 0: 'Unknown', 1: 'Create', 2: 'Update', 3: 'Close', 99: 'Other' } as const;
export const SEVERITY = {
  0: 'Unknown',
  1: 'Informational',
  2: 'Low',
  3: 'Medium',
  4: 'High',
  5: 'Critical',
  6: 'Fatal',
  99: 'Other',
} as const;
export const STATUS = {
  0: 'Unknown',
  1: 'New',
  2: 'In Progress',
  3: 'Suppressed',
  4: 'Resolved',
  99: 'Other',
} as const;
export const OBSERVABLE = {
  hostname: 1,
  ip: 2,
  userName: 4,
  email: 5,
  url: 6,
  fileName: 7,
  hash: 8,
  processName: 9,
} as const;
const OBSERVABLE_NAME: Record<number, string> = {
  1: 'Hostname',
  2: 'IP Address',
  4: 'User Name',
  5: 'Email Address',
  6: 'URL String',
  7: 'File Name',
  8: 'Hash',
  9: 'Process Name',
};
/** Fingerprint algorithm_id by Graph's hash names (`fileHash.hashType`, `fileDetails` keys). */
const HASH_ALGORITHM: Record<string, [number, string]> = {
  md5: [1, 'MD5'],
  sha1: [2, 'SHA-1'],
  sha256: [3, 'SHA-256'],
  sha512: [4, 'SHA-512'],
  ctph: [5, 'CTPH'],
};

export interface OcsfOptions {
  /** Put the Graph object (JSON text) in `raw_data`. @defaultValue false */
  rawData?: boolean;
}

type Obj = Record<string, unknown>;
export interface OcsfObservable {
  name: string;
  type_id: number;
  type: string;
  value: string;
}
export interface OcsfDetectionFinding extends Obj {
  activity_id: number;
  category_uid: 2;
  class_uid: 2004;
  type_uid: number;
  severity_id: number;
  time: number;
  finding_info: Obj & { uid: string; title: string };
  metadata: Obj & { version: string; product: Obj & { vendor_name: string } };
}

const SEVERITY_ID: Record<string, keyof typeof SEVERITY> = { informational: 1, low: 2, medium: 3, high: 4 };
const STATUS_ID: Record<string, keyof typeof STATUS> = {
  new: 1,
  active: 1,
  inProgress: 2,
  awaitingAction: 2,
  dismissed: 3,
  resolved: 4,
  redirected: 99,
};
const CLOSED = new Set(['resolved', 'dismissed', 'redirected']);
const TRIAGED = new Set(['inProgress', 'awaitingAction']);

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
const num = (v: unknown): number | undefined => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
};
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** Epoch milliseconds (OCSF `timestamp_t`) of an ISO string, undefined when absent or not a time. */
const ms = (v: unknown): number | undefined => {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? undefined : t;
};
/** Drops undefined, null and empty arrays/objects: OCSF leaves optional attributes out rather than null. */
function compact<T extends Obj>(o: T): T {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  return out as T;
}

/** Collects evidences and their observables (named by their path in the finding, as OCSF asks). */
class Evidence {
  readonly evidences: Obj[] = [];
  readonly observables: OcsfObservable[] = [];
  readonly resources: Obj[] = [];
  device: Obj | undefined;
  user: Obj | undefined;
  private readonly seen = new Set<string>();

  /** Adds one evidence (empty ones are skipped); `primary` makes its device or user the finding's own. */
  add(evidence: Obj, primary = false): void {
    if (Object.keys(evidence).length === 0) return;
    const at = `evidences[${this.evidences.length}]`;
    this.evidences.push(evidence);
    if (evidence.device && (primary || !this.device)) this.device = evidence.device as Obj;
    if (evidence.user && (primary || !this.user)) this.user = evidence.user as Obj;
    this.observe(evidence, at);
  }

  /** Walks the evidence for the attributes OCSF has observable types for. */
  private observe(o: Obj, path: string): void {
    const leaf: Array<[string, number]> = [
      ['hostname', OBSERVABLE.hostname],
      ['ip', OBSERVABLE.ip],
      ['email_addr', OBSERVABLE.email],
      ['url_string', OBSERVABLE.url],
    ];
    for (const [key, type] of leaf) if (typeof o[key] === 'string') this.push(`${path}.${key}`, type, o[key]);
    if (path.endsWith('user') && typeof o.name === 'string') this.push(`${path}.name`, OBSERVABLE.userName, o.name);
    if (path.endsWith('file') && typeof o.name === 'string') this.push(`${path}.name`, OBSERVABLE.fileName, o.name);
    if (/process$/.test(path) && typeof o.name === 'string') this.push(`${path}.name`, OBSERVABLE.processName, o.name);
    list(o.hashes).forEach((h, i) => this.push(`${path}.hashes[${i}].value`, OBSERVABLE.hash, obj(h).value));
    if (path.endsWith('email')) {
      if (typeof o.from === 'string') this.push(`${path}.from`, OBSERVABLE.email, o.from);
      list(o.to).forEach((t, i) => this.push(`${path}.to[${i}]`, OBSERVABLE.email, t));
    }
    for (const [k, v] of Object.entries(o)) {
      if (k !== 'data' && typeof v === 'object' && v !== null && !Array.isArray(v))
        this.observe(v as Obj, `${path}.${k}`);
    }
  }

  private push(name: string, typeId: number, value: unknown): void {
    if (typeof value !== 'string' || value === '' || this.seen.has(`${typeId}:${value}`)) return;
    this.seen.add(`${typeId}:${value}`);
    this.observables.push({ name, type_id: typeId, type: OBSERVABLE_NAME[typeId]!, value });
  }
}

function osOf(platform: unknown, version?: unknown, build?: unknown): Obj | undefined {
  const name = str(platform);
  if (!name) return undefined;
  const p = name.toLowerCase();
  const [typeId, type] = p.includes('windows')
    ? [100, 'Windows']
    : /linux|ubuntu|debian|rhel|red ?hat|centos|suse/.test(p)
      ? [200, 'Linux']
      : p.includes('android')
        ? [201, 'Android']
        : /mac ?os|os ?x/.test(p)
          ? [300, 'macOS']
          : p === 'ios'
            ? [301, 'iOS']
            : p === 'ipados'
              ? [302, 'iPadOS']
              : [0, 'Unknown'];
  return compact({
    name,
    type_id: typeId,
    type,
    version: str(version),
    build: build === undefined || build === null ? undefined : String(build),
  });
}

/**
 * OCSF Device; `type_id` (required) is Server when the OS says so, else Unknown: Graph does not tell desktops from
 * laptops. Undefined when nothing identifies the device (OCSF asks for at least one of hostname, name, uid, ip): a
 * device of type Unknown and nothing else would be invented data.
 */
function device(o: {
  hostname?: string;
  name?: string;
  uid?: string;
  domain?: string;
  ip?: string;
  os?: Obj;
  first_seen_time?: number;
}): Obj | undefined {
  if (!o.hostname && !o.name && !o.uid && !o.ip) return undefined;
  const server = /server/i.test(String(o.os?.name ?? ''));
  return compact({ type_id: server ? 1 : 0, type: server ? 'Server' : 'Unknown', ...o });
}

function user(u: Obj): Obj {
  return compact({
    name: str(u.accountName),
    uid: str(u.azureAdUserId) ?? str(u.aadUserId),
    uid_alt: str(u.userSid) ?? str(u.onPremisesSecurityIdentifier),
    domain: str(u.domainName),
    full_name: str(u.displayName),
    email_addr: str(u.userPrincipalName),
  });
}

function hashes(pairs: Array<[string, unknown]>): Obj[] {
  return pairs.flatMap(([kind, value]) => {
    const v = str(value);
    if (!v) return [];
    const [id, name] = HASH_ALGORITHM[kind.toLowerCase()] ?? [99, kind];
    return [{ algorithm_id: id, algorithm: name, value: v }];
  });
}

/** OCSF File from a name, the folder it is in, and hashes; `type_id` 1 = Regular File. */
function file(name: unknown, folder: unknown, hashPairs: Array<[string, unknown]>, extra: Obj = {}): Obj | undefined {
  const n = str(name);
  if (!n) return undefined;
  const dir = str(folder);
  const sep = dir?.includes('/') && !dir.includes('\\') ? '/' : '\\';
  const path = dir ? (dir.endsWith(n) ? dir : `${dir.replace(/[\\/]+$/, '')}${sep}${n}`) : undefined;
  return compact({
    name: n,
    path,
    parent_folder: dir,
    type_id: 1,
    type: 'Regular File',
    hashes: hashes(hashPairs),
    ...extra,
  });
}

function fileDetails(d: unknown): Obj | undefined {
  const f = obj(d);
  return file(
    f.fileName,
    f.filePath,
    [
      ['sha1', f.sha1],
      ['sha256', f.sha256],
      ['md5', f.md5],
    ],
    compact({ size: num(f.fileSize), company_name: str(f.filePublisher) }),
  );
}

function endpoint(ip: unknown, extra: Obj = {}): Obj | undefined {
  const a = str(ip);
  return a ? compact({ ip: a, ...extra }) : undefined;
}

function url(u: unknown): Obj | undefined {
  const s = str(u);
  if (!s) return undefined;
  try {
    const p = new URL(s);
    return compact({
      url_string: s,
      scheme: p.protocol.replace(/:$/, ''),
      hostname: p.hostname,
      path: p.pathname,
      query_string: p.search.slice(1) || undefined,
      port: num(p.port),
    });
  } catch {
    return { url_string: s };
  }
}

/**
 * One alerts_v2 evidence (microsoft.graph.security.*Evidence) as one OCSF evidence, so that `evidences[i]` is Graph's
 * `evidence[i]`. Kinds OCSF has no object for (and evidence too sparse to map) are kept verbatim in `data`.
 */
function fromV2Evidence(e: Obj, ev: Evidence): Obj {
  const kind = String(e['@odata.type'] ?? '').replace(/^#?microsoft\.graph\.security\./, '');
  const roles = list(e.roles).map(String);
  switch (kind) {
    case 'deviceEvidence':
      return compact({
        device: device({
          hostname: str(e.hostName) ?? str(e.deviceDnsName),
          name: str(e.deviceDnsName),
          uid: str(e.mdeDeviceId) ?? str(e.azureAdDeviceId),
          domain: str(e.dnsDomain) ?? str(e.ntDomain),
          ip: str(list(e.ipInterfaces)[0]),
          os: osOf(e.osPlatform, e.version, e.osBuild),
          first_seen_time: ms(e.firstSeenDateTime),
        }),
      });
    case 'userEvidence':
      return compact({ user: user(obj(e.userAccount)) });
    case 'mailboxEvidence':
      return compact({
        user: compact({
          ...user(obj(e.userAccount)),
          email_addr: str(e.primaryAddress),
          full_name: str(e.displayName),
        }),
      });
    case 'ipEvidence': {
      const loc = obj(e.location);
      const lat = num(loc.latitude),
        lon = num(loc.longitude);
      const at = endpoint(e.ipAddress, {
        location: compact({
          city: str(loc.city),
          country: str(e.countryLetterCode),
          coordinates: lat !== undefined && lon !== undefined ? [lon, lat] : undefined,
        }),
      });
      return compact(roles.includes('destination') ? { dst_endpoint: at } : { src_endpoint: at });
    }
    case 'urlEvidence':
      return compact({ url: url(e.url) });
    case 'fileEvidence':
      return compact({ file: fileDetails(e.fileDetails) });
    case 'processEvidence': {
      const image = fileDetails(e.imageFile);
      const parent = fileDetails(e.parentProcessImageFile);
      return compact({
        process: compact({
          pid: num(e.processId),
          name: image?.name,
          cmd_line: str(e.processCommandLine),
          created_time: ms(e.processCreationDateTime),
          file: image,
          user: compact(user(obj(e.userAccount))),
          parent_process: compact({
            pid: num(e.parentProcessId),
            name: parent?.name,
            created_time: ms(e.parentProcessCreationDateTime),
            file: parent,
          }),
        }),
      });
    }
    case 'analyzedMessageEvidence': {
      // One evidence holds one URL: the message's first; all of them stay in raw_data.
      const from = str(obj(e.p1Sender).emailAddress) ?? str(obj(e.p2Sender).emailAddress);
      return compact({
        email: compact({
          uid: str(e.networkMessageId),
          message_uid: str(e.internetMessageId),
          subject: str(e.subject),
          from,
          to: [str(e.recipientEmailAddress)].filter(Boolean),
        }),
        src_endpoint: endpoint(e.senderIp),
        url: url(list(e.urls)[0]),
      });
    }
    case 'cloudApplicationEvidence':
    case 'azureResourceEvidence': {
      const uid = str(e.resourceId) ?? (e.appId === undefined ? undefined : String(e.appId));
      ev.resources.push(
        compact({ uid, name: str(e.displayName) ?? str(e.resourceName), type: kind.replace(/Evidence$/, '') }),
      );
      return { data: e };
    }
    default:
      return { data: e };
  }
}

/** Legacy alerts (microsoft.graph.alert): the *States arrays. */
function fromLegacy(o: Obj, ev: Evidence): void {
  for (const h of list(o.hostStates).map(obj)) {
    ev.add(
      compact({
        device: device({
          hostname: str(h.netBiosName) ?? str(h.fqdn),
          name: str(h.fqdn),
          ip: str(h.privateIpAddress),
          os: osOf(h.os),
        }),
      }),
    );
  }
  for (const u of list(o.userStates).map(obj)) {
    ev.add(
      compact({
        user: user(u),
        src_endpoint: endpoint(u.logonIp, compact({ location: compact({ desc: str(u.logonLocation) }) })),
      }),
    );
  }
  for (const f of list(o.fileStates).map(obj)) {
    const h = obj(f.fileHash);
    const path = str(f.path);
    const folder =
      path && str(f.name) && path.endsWith(String(f.name))
        ? path.slice(0, -String(f.name).length).replace(/[\\/]+$/, '')
        : path;
    ev.add(compact({ file: file(f.name, folder, [[String(h.hashType ?? 'unknown'), h.hashValue]]) }));
  }
  for (const p of list(o.processes).map(obj)) {
    const h = obj(p.fileHash);
    ev.add(
      compact({
        process: compact({
          pid: num(p.processId),
          name: str(p.name),
          cmd_line: str(p.commandLine),
          created_time: ms(p.createdDateTime),
          file: file(p.name, p.path, [[String(h.hashType ?? 'unknown'), h.hashValue]]),
          user: compact({ name: str(p.accountName) }),
          parent_process: compact({
            pid: num(p.parentProcessId),
            name: str(p.parentProcessName),
            created_time: ms(p.parentProcessCreatedDateTime),
          }),
        }),
      }),
    );
  }
  for (const n of list(o.networkConnections).map(obj)) {
    const direction = String(n.direction ?? '').toLowerCase();
    const [directionId, directionName] =
      direction === 'inbound' ? [1, 'Inbound'] : direction === 'outbound' ? [2, 'Outbound'] : [0, 'Unknown'];
    const country = str(n.sourceLocation);
    const src = endpoint(n.sourceAddress, {
      port: num(n.sourcePort),
      location: country && /^[A-Z]{2}$/.test(country) ? { country } : undefined,
    });
    const dst = endpoint(n.destinationAddress, { port: num(n.destinationPort), domain: str(n.destinationDomain) });
    const to = url(n.destinationUrl);
    if (!src && !dst && !to) continue; // a direction of a connection between nobody is no evidence
    ev.add(
      compact({
        src_endpoint: src,
        dst_endpoint: dst,
        connection_info: compact({
          direction_id: directionId,
          direction: directionName,
          protocol_name: str(n.protocol),
        }),
        url: to,
      }),
    );
  }
}

/** MITRE ATT&CK ids (`T1078`, `T1078.004`) as OCSF attacks: technique, and sub_technique for dotted ids. */
function attacks(ids: unknown): Obj[] {
  return list(ids).flatMap((id) => {
    const s = str(id);
    if (!s) return [];
    const base = s.split('.')[0]!;
    return [compact({ technique: { uid: base }, sub_technique: s === base ? undefined : { uid: s } })];
  });
}

function product(r: AlertRecord, o: Obj): Obj & { vendor_name: string } {
  const vendor = obj(o.vendorInformation);
  // The record's `unknown` provider is alertbridge's placeholder, not a product Graph named: leave the name out.
  const provider = r.provider === UNKNOWN ? undefined : r.provider;
  switch (r.resource) {
    case 'alerts_v2':
      return compact({
        name: str(o.productName) ?? provider,
        vendor_name: 'Microsoft',
        feature: provider ? { name: provider } : undefined,
      });
    case 'incidents':
      return { name: 'Microsoft Defender XDR', vendor_name: 'Microsoft', feature: { name: 'incidents' } };
    default:
      return compact({
        name: provider,
        vendor_name: str(vendor.vendor) ?? 'Microsoft',
        version: str(vendor.providerVersion),
        feature: str(vendor.subProvider) ? { name: vendor.subProvider } : undefined,
      });
  }
}

function activityOf(r: AlertRecord, o: Obj): keyof typeof ACTIVITY {
  if (CLOSED.has(r.status)) return 3;
  if (TRIAGED.has(r.status) || list(o.comments).length > 0 || str(o.feedback)) return 2;
  // A revision alertbridge delivered a predecessor of (it has `changes`) is an update whatever its state.
  if (r.changes !== undefined) return 2;
  return 1;
}

/** The record as an OCSF Detection Finding. Pure: the record is not modified. */
export function toOcsf(r: AlertRecord, opts: OcsfOptions = {}): OcsfDetectionFinding {
  const o = r.data;
  const ev = new Evidence();
  if (r.resource === 'alerts_v2') {
    for (const e of list(o.evidence).map(obj)) {
      const mapped = fromV2Evidence(e, ev);
      ev.add(Object.keys(mapped).length ? mapped : { data: e }, list(e.roles).includes('compromised'));
    }
  }
  if (r.resource === 'alerts') fromLegacy(o, ev);
  const activityId = activityOf(r, o);
  const severityId = SEVERITY_ID[r.severity] ?? 0;
  const statusId = STATUS_ID[r.status] ?? 0;
  const v2 = r.resource === 'alerts_v2';
  const legacy = r.resource === 'alerts';
  const recommended = legacy ? list(o.recommendedActions).map(String).join('\n') : str(o.recommendedActions);
  const title = r.title ?? r.id;
  return compact({
    ...DETECTION_FINDING,
    activity_id: activityId,
    activity_name: ACTIVITY[activityId],
    type_uid: DETECTION_FINDING.class_uid * 100 + activityId,
    type_name: `${DETECTION_FINDING.class_name}: ${ACTIVITY[activityId]}`,
    severity_id: severityId,
    severity: SEVERITY[severityId],
    status_id: statusId,
    status: statusId === 99 ? r.status.charAt(0).toUpperCase() + r.status.slice(1) : STATUS[statusId],
    status_detail: str(o.status),
    time: ms(r.updated_at) ?? ms(r.created_at) ?? Date.parse(r.ingested_at),
    message: title,
    finding_info: compact({
      uid: r.id,
      title,
      desc: str(o.description),
      created_time: ms(r.created_at),
      modified_time: ms(r.updated_at),
      first_seen_time: ms(v2 ? o.firstActivityDateTime : legacy ? o.eventDateTime : undefined),
      last_seen_time: ms(v2 ? o.lastActivityDateTime : undefined),
      types: [str(o.category)].filter((t): t is string => t !== undefined),
      src_url: str(o.alertWebUrl) ?? str(o.incidentWebUrl) ?? (legacy ? str(list(o.sourceMaterials)[0]) : undefined),
      analytic:
        v2 && str(o.detectorId)
          ? compact({ uid: str(o.detectorId), name: str(o.detectionSource), type_id: 0, type: 'Unknown' })
          : undefined,
      attacks: attacks(o.mitreTechniques),
    }),
    metadata: compact({
      version: OCSF_VERSION,
      product: product(r, o),
      uid: `${r.key}@${r.revision}`,
      tenant_uid: r.tenant_id,
      // The incident groups its alerts: OCSF's "unique identifier used to correlate events". Records staged by
      // versions without `incident_id` have it derived from the object.
      correlation_uid: (r.incident_id === undefined ? incidentIdOf(r.resource, o) : r.incident_id) ?? undefined,
      original_time: r.updated_at ?? r.created_at ?? undefined,
      logged_time: Date.parse(r.ingested_at),
      log_name: r.resource,
      log_provider: 'alertbridge',
      labels: [...list(o.tags), ...list(o.systemTags), ...list(o.customTags)].filter(
        (t): t is string => typeof t === 'string',
      ),
      profiles: ev.device || ev.user ? ['host'] : undefined,
    }),
    confidence_score: legacy ? num(o.confidence) : undefined,
    remediation: recommended ? { desc: recommended } : undefined,
    device: ev.device,
    actor: ev.user ? { user: ev.user } : undefined,
    evidences: ev.evidences,
    observables: ev.observables,
    resources: ev.resources,
    raw_data: opts.rawData ? JSON.stringify(o) : undefined,
    unmapped: compact({
      alertbridge: {
        key: r.key,
        revision: r.revision,
        source: r.source,
        resource: r.resource,
        provider: r.provider,
        via: r.via,
        // What this revision changed, with the previous values (record/changes.ts); absent on a first revision.
        changes: r.changes,
      },
      assigned_to: str(o.assignedTo),
      classification: str(o.classification),
      determination: str(o.determination),
    }),
  }) as OcsfDetectionFinding;
}
