/**
 * alerts_v2 evidence (`microsoft.graph.security.alertEvidence` subtypes) for the generator, shaped like the
 * documented examples: common fields (createdDateTime, verdict, remediationStatus, roles, …) plus each type's own.
 */
import type { AlertTemplate, EvidenceKind } from './generate-catalog.js';
import { COUNTRIES, FIRST_NAMES, LAST_NAMES, OS_PLATFORMS } from './generate-catalog.js';
import { TICKS_PER_SECOND, isoTicks, type Random } from './generate-random.js';

type GraphObject = Record<string, unknown>;

export interface DirectoryUser {
  accountName: string;
  displayName: string;
  upn: string;
  upnDomain: string;
  netbiosDomain: string;
  userSid: string;
  azureAdUserId: string;
}

export interface DirectoryDevice {
  name: string;
  dnsName: string;
  mdeDeviceId: string;
  azureAdDeviceId: string | null;
  os: { osPlatform: string; version: string; osBuild: number };
  ip: string;
  rbacGroupId: number;
  rbacGroupName: string;
  firstSeen: string;
}

/** One tenant's people and machines. */
export interface Directory {
  tenantId: string;
  domain: string;
  users: DirectoryUser[];
  devices: DirectoryDevice[];
  /** UPNs of the SOC analysts who assign, comment and resolve. */
  analysts: string[];
  subscriptionId: string;
  /** Time of day of the tenant's daily secure score, on the first day (100 ns ticks). */
  scoreEpoch: bigint;
}

export interface EvidenceContext {
  rnd: Random;
  dir: Directory;
  /** The alert's main user and device: evidence of one alert tells one story. */
  user: DirectoryUser;
  device: DirectoryDevice;
  created: string;
  createdTicks: bigint;
  tpl: AlertTemplate;
}

const DAY = 86_400n * TICKS_PER_SECOND;

/**
 * A tenant's people and machines, drawn once per tenant so that the same users and devices recur across alerts, as
 * in a real tenant. `now` (100 ns ticks) anchors device first-seen dates and the daily secure score time.
 */
export function buildDirectory(rnd: Random, tenantId: string, domain: string, now: bigint): Directory {
  const netbios = (domain.split('.')[0] ?? 'contoso').toUpperCase();
  const sidBase = `S-1-5-21-${rnd.int(1e9, 4_294_967_295)}-${rnd.int(1e9, 4_294_967_295)}-${rnd.int(1e9, 4_294_967_295)}`;
  const users = rnd.sample(FIRST_NAMES, 12).map((first, i): DirectoryUser => {
    const last = LAST_NAMES[(i * 7 + first.length) % LAST_NAMES.length] as string;
    const accountName = `${first}${last[0]}`.toLowerCase();
    return {
      accountName,
      displayName: `${first} ${last}`,
      upn: `${accountName}@${domain}`,
      upnDomain: domain,
      netbiosDomain: netbios,
      userSid: `${sidBase}-${1100 + i}`,
      azureAdUserId: rnd.guid(),
    };
  });
  const devices = Array.from({ length: 10 }, (_, i): DirectoryDevice => {
    const server = i >= 7;
    const name = server
      ? i === 9
        ? `${netbios.slice(0, 4)}-DC01`
        : `SRV-APP${String(i).padStart(2, '0')}`
      : `WKS-${rnd.digits(4)}`;
    return {
      name,
      dnsName: `${name.toLowerCase()}.${domain}`,
      mdeDeviceId: rnd.hex(40),
      azureAdDeviceId: server ? null : rnd.guid(),
      os: server ? rnd.pick(OS_PLATFORMS.slice(2)) : rnd.pick(OS_PLATFORMS.slice(0, 2)),
      ip: rnd.ipv4Private(),
      rbacGroupId: server ? 12 : 75,
      rbacGroupName: server ? 'Servers' : 'Workstations',
      firstSeen: isoTicks(
        now - BigInt(rnd.int(30, 700)) * DAY - BigInt(rnd.int(0, 86_399_999)) * 10_000n - BigInt(rnd.int(0, 9999)),
      ),
    };
  });
  const analysts = rnd.sample(users, 3).map((u) => `secops-${u.accountName}@${domain}`);
  // Secure scores are computed once a day, at a fixed time of day per tenant.
  const scoreEpoch = (now / DAY) * DAY + BigInt(rnd.int(1, 23)) * 3600n * TICKS_PER_SECOND;
  return { tenantId, domain, users, devices, analysts, subscriptionId: rnd.guid(), scoreEpoch };
}

/** Size budget of a generated alerts_v2 object, in bytes of JSON (realistic Defender alerts are 2–5 KB). */
export const ALERT_V2_MIN_BYTES = 2048;
export const ALERT_V2_MAX_BYTES = 5000;

/** One evidence item of `kind`. The first item of an alert (`primary`) carries the alert's main role. */
export function buildEvidence(kind: EvidenceKind, ctx: EvidenceContext, primary: boolean): GraphObject {
  const { rnd, tpl } = ctx;
  // Object.assign rather than `{ ...common(), … }`: V8 spends tens of µs on a spread followed by many properties.
  const common = (roles: string[], detailedRoles: string[] = []): GraphObject => ({
    '@odata.type': `#microsoft.graph.security.${kind === 'cloudApp' ? 'cloudApplication' : kind === 'message' ? 'analyzedMessage' : kind}Evidence`,
    createdDateTime: ctx.created,
    verdict: primary ? rnd.pick(['suspicious', 'malicious']) : rnd.pick(['unknown', 'suspicious', 'noThreatsFound']),
    remediationStatus: rnd.weighted([
      ['none', 70],
      ['remediated', 15],
      ['prevented', 10],
      ['blocked', 5],
    ] as const),
    remediationStatusDetails: null,
    roles,
    detailedRoles,
    tags: [],
  });
  switch (kind) {
    case 'device': {
      const d = ctx.device;
      return Object.assign(common(primary ? ['compromised'] : [], primary ? ['Main device'] : []), {
        firstSeenDateTime: d.firstSeen,
        mdeDeviceId: d.mdeDeviceId,
        azureAdDeviceId: d.azureAdDeviceId,
        deviceDnsName: d.dnsName,
        hostName: d.name.toLowerCase(),
        ntDomain: ctx.user.netbiosDomain,
        dnsDomain: ctx.dir.domain,
        osPlatform: d.os.osPlatform,
        osBuild: d.os.osBuild,
        version: d.os.version,
        healthStatus: 'active',
        riskScore: rnd.pick(['low', 'medium', 'high']),
        rbacGroupId: d.rbacGroupId,
        rbacGroupName: d.rbacGroupName,
        onboardingStatus: 'onboarded',
        defenderAvStatus: rnd.pick(['updated', 'notUpdated', 'unknown']),
        ipInterfaces: [d.ip, `fe80::${rnd.hex(4)}:${rnd.hex(4)}:${rnd.hex(4)}:${rnd.hex(4)}`],
        loggedOnUsers: [{ accountName: ctx.user.accountName, domainName: ctx.user.netbiosDomain }],
        vmMetadata: null,
      });
    }
    case 'user':
      return Object.assign(common(primary ? ['compromised'] : ['contextual']), { userAccount: userAccount(ctx.user) });
    case 'process': {
      const p = tpl.process ?? {
        fileName: 'cmd.exe',
        filePath: 'C:\\Windows\\System32',
        commandLine: 'cmd.exe /c whoami /all',
      };
      const created = ctx.createdTicks - BigInt(rnd.int(1, 120)) * TICKS_PER_SECOND;
      const parentCreated = created - BigInt(rnd.int(60, 36_000)) * TICKS_PER_SECOND;
      return Object.assign(common([], []), {
        processId: rnd.int(1000, 30_000),
        parentProcessId: rnd.int(400, 9000),
        processCommandLine: p.commandLine,
        processCreationDateTime: isoTicks(created),
        parentProcessCreationDateTime: isoTicks(parentCreated),
        detectionStatus: rnd.pick(['detected', 'blocked', 'prevented']),
        mdeDeviceId: ctx.device.mdeDeviceId,
        imageFile: fileDetails(rnd, p.fileName, p.filePath),
        parentProcessImageFile: fileDetails(
          rnd,
          rnd.pick(['explorer.exe', 'cmd.exe', 'services.exe']),
          'C:\\Windows\\System32',
        ),
        userAccount: userAccount(ctx.user),
      });
    }
    case 'file': {
      // The malicious image itself, or (when the process is a Windows binary) the file it was pointed at.
      const image = tpl.process && !tpl.process.filePath.startsWith('C:\\Windows') ? tpl.process : undefined;
      const name = image?.fileName ?? rnd.pick(['Invoice_2024-0423.docm', 'setup_x64.exe', 'update.ps1', '~tmp01.dat']);
      const path = image?.filePath ?? `C:\\Users\\${ctx.user.accountName}\\Downloads`;
      return Object.assign(common(primary ? ['attacker'] : [], ['Referred in command line']), {
        detectionStatus: rnd.pick(['detected', 'prevented']),
        mdeDeviceId: ctx.device.mdeDeviceId,
        fileDetails: fileDetails(rnd, name, path),
      });
    }
    case 'ip': {
      const place = rnd.pick(COUNTRIES);
      return Object.assign(common(primary ? ['attacker', 'source'] : ['source']), {
        ipAddress: rnd.ipv4Public(),
        countryLetterCode: place.code,
        location: {
          city: place.city,
          countryName: place.country,
          latitude: place.lat,
          longitude: place.lon,
          state: null,
        },
      });
    }
    case 'url':
      return Object.assign(common(['attacker']), {
        url: tpl.url ?? `https://${rnd.hex(6)}.web.core.windows.net/login.html`,
      });
    case 'mailbox':
      return Object.assign(common(primary ? ['destination'] : ['contextual']), {
        primaryAddress: ctx.user.upn,
        displayName: ctx.user.displayName,
        userAccount: userAccount(ctx.user),
      });
    case 'message': {
      const sender = rnd.pick([
        'billing@payments-notice.com',
        'no-reply@docusign-secure.net',
        'it-support@contoso-helpdesk.co',
      ]);
      return Object.assign(common(['contextual']), {
        networkMessageId: rnd.guid(),
        internetMessageId: `<${rnd.hex(16).toUpperCase()}@${sender.split('@')[1]}>`,
        subject: rnd.pick([
          'Action required: verify your account',
          'Invoice #4471 overdue',
          'Shared document: Q2 budget',
        ]),
        language: 'en',
        senderIp: rnd.ipv4Public(),
        recipientEmailAddress: ctx.user.upn,
        p1Sender: { emailAddress: sender, displayName: null, domainName: sender.split('@')[1] },
        p2Sender: { emailAddress: sender, displayName: 'Notifications', domainName: sender.split('@')[1] },
        receivedDateTime: ctx.created,
        antiSpamDirection: 'Inbound',
        deliveryAction: rnd.pick(['Delivered', 'Blocked']),
        deliveryLocation: rnd.pick(['Inbox/folder', 'Quarantine', 'Junk folder']),
        threatDetectionMethods: ['URL detonation reputation'],
        threats: ['Phish'],
        urlCount: 1,
        attachmentsCount: 0,
        urls: [tpl.url ?? 'https://login.example-verify.com/'],
      });
    }
    case 'cloudApp': {
      const app = rnd.pick([
        { appId: 20893, displayName: 'Microsoft Exchange Online' },
        { appId: 20892, displayName: 'Microsoft SharePoint Online' },
        { appId: 15600, displayName: 'Microsoft OneDrive for Business' },
      ]);
      return Object.assign(common(['contextual']), app, {
        instanceId: 0,
        instanceName: app.displayName,
        saasAppId: app.appId,
      });
    }
    case 'registryKey':
      return Object.assign(common([]), {
        registryKey: 'SOFTWARE\\MICROSOFT\\WINDOWS NT\\CURRENTVERSION\\SCHEDULE\\TASKCACHE\\TREE\\ONEDRIVE SYNC HELPER',
        registryHive: 'HKEY_LOCAL_MACHINE',
      });
  }
}

/**
 * Keeps the alert within {@link ALERT_V2_MIN_BYTES}–{@link ALERT_V2_MAX_BYTES}: drops trailing evidence when it is
 * too large, adds contextual IP/user evidence when too small (as Defender adds related entities).
 */
export function fitEvidence(alert: GraphObject, ctx: EvidenceContext): void {
  const evidence = alert.evidence as GraphObject[];
  // Sizes are tracked incrementally (an item costs its JSON plus a comma) rather than re-serializing the alert.
  const bytes = (e: GraphObject): number => Buffer.byteLength(JSON.stringify(e)) + 1;
  let size = Buffer.byteLength(JSON.stringify(alert));
  while (size > ALERT_V2_MAX_BYTES && evidence.length > 1) size -= bytes(evidence.pop() as GraphObject);
  while (size < ALERT_V2_MIN_BYTES) {
    const extra = buildEvidence(ctx.rnd.pick(['ip', 'user'] as const), ctx, false);
    evidence.push(extra);
    size += bytes(extra);
  }
}

function userAccount(u: DirectoryUser): GraphObject {
  return {
    accountName: u.accountName,
    domainName: u.netbiosDomain,
    userSid: u.userSid,
    azureAdUserId: u.azureAdUserId,
    userPrincipalName: u.upn,
    displayName: u.displayName,
  };
}

function fileDetails(rnd: Random, fileName: string, filePath: string): GraphObject {
  const microsoft = filePath.startsWith('C:\\Windows');
  return {
    sha1: rnd.hex(40),
    sha256: rnd.hex(64),
    fileName,
    filePath,
    fileSize: rnd.int(20_000, 8_000_000),
    filePublisher: microsoft ? 'Microsoft Corporation' : null,
    signer: microsoft ? 'Microsoft Windows' : null,
    issuer: microsoft ? 'Microsoft Windows Production PCA 2011' : null,
  };
}
