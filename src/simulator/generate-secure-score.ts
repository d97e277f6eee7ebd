/**
 * `microsoft.graph.secureScore` and `microsoft.graph.secureScoreControlProfile` objects for the generator, built
 * from one catalog of Secure Score controls so that a tenant's scores and profiles agree.
 */
import { CONTROLS } from './generate-catalog.js';
import type { Directory } from './generate-evidence.js';
import { TICKS_PER_SECOND, isoSeconds, isoTicks, type Random } from './generate-random.js';

type GraphObject = Record<string, unknown>;

const HOUR = 3600n * TICKS_PER_SECOND;
const DAY = 24n * HOUR;

/** The daily secure score of `dir`'s tenant, created at `created` (100 ns ticks; stamped to the second). */
export function buildSecureScore(rnd: Random, dir: Directory, created: bigint): GraphObject {
  const controlScores = CONTROLS.map((c) => {
    const score = rnd.chance(0.6) ? c.maxScore : rnd.int(0, c.maxScore);
    return {
      controlCategory: c.controlCategory,
      controlName: c.id,
      description: c.title,
      score,
      scoreInPercentage: Math.round((score / c.maxScore) * 10_000) / 100,
      implementationStatus: score === c.maxScore ? 'Completed' : `${score} of ${c.maxScore} points achieved`,
      lastSynced: isoSeconds(created - HOUR),
    };
  });
  return {
    id: `${dir.tenantId}_${isoSeconds(created).slice(0, 10)}`,
    azureTenantId: dir.tenantId,
    activeUserCount: rnd.int(Math.floor(dir.users.length / 2), dir.users.length),
    createdDateTime: isoSeconds(created),
    currentScore: controlScores.reduce((sum, c) => sum + c.score, 0),
    enabledServices: ['HasExchange', 'HasSharePoint', 'HasOD4B', 'HasIntune', 'HasCloudDiscovery', 'HasMDEP'],
    licensedUserCount: dir.users.length + rnd.int(0, 20),
    maxScore: CONTROLS.reduce((sum, c) => sum + c.maxScore, 0),
    averageComparativeScores: [
      { basis: 'AllTenants', averageScore: rnd.int(3000, 4500) / 100 },
      {
        basis: 'TotalSeats',
        averageScore: rnd.int(3000, 5000) / 100,
        seatSizeRangeLowerValue: 1,
        seatSizeRangeUpperValue: 100,
      },
      { basis: 'IndustryTypes', averageScore: rnd.int(3500, 5500) / 100 },
    ],
    controlScores,
    vendorInformation: secureScoreVendor(),
  };
}

/**
 * The `seq`-th control profile: the catalog in order, then again with a `_{round}` id suffix so that every profile
 * is a distinct identity (benchmarks count them).
 */
export function buildControlProfile(rnd: Random, dir: Directory, seq: number, modified: bigint): GraphObject {
  const c = CONTROLS[seq % CONTROLS.length] as (typeof CONTROLS)[number];
  const round = Math.floor(seq / CONTROLS.length);
  return {
    id: round === 0 ? c.id : `${c.id}_${round}`,
    azureTenantId: dir.tenantId,
    actionType: c.actionType,
    actionUrl: actionUrl(c.service),
    controlCategory: c.controlCategory,
    title: c.title,
    deprecated: false,
    implementationCost: c.implementationCost,
    lastModifiedDateTime: isoTicks(modified),
    maxScore: c.maxScore,
    rank: (seq % CONTROLS.length) + 1,
    remediation: c.remediation,
    remediationImpact: `<p>${c.userImpact} impact: users affected by this change are notified at their next sign-in.</p>`,
    service: c.service,
    threats: [...c.threats],
    tier: c.tier,
    userImpact: c.userImpact,
    complianceInformation: [
      { certificationName: 'NIST 800-53', certificationControls: [{ name: 'IA-2', url: null }] },
      { certificationName: 'ISO 27001:2013', certificationControls: [{ name: 'A.9.4.2', url: null }] },
    ],
    controlStateUpdates: rnd.chance(0.3)
      ? [
          {
            assignedTo: rnd.pick(dir.analysts),
            comment: 'Planned for next change window',
            state: 'Default',
            updatedBy: rnd.pick(dir.analysts),
            updatedDateTime: isoTicks(modified - DAY),
          },
        ]
      : [],
    vendorInformation: secureScoreVendor(),
  };
}

function actionUrl(service: string): string {
  switch (service) {
    case 'AzureAD':
      return 'https://portal.azure.com/#blade/Microsoft_AAD_IAM/ConditionalAccessBlade/Policies';
    case 'MDO':
    case 'EXO':
      return 'https://security.microsoft.com/threatpolicy';
    case 'MCAS':
      return 'https://security.microsoft.com/cloudapps/policies';
    default:
      return 'https://security.microsoft.com/securescore?viewid=actions';
  }
}

function secureScoreVendor(): GraphObject {
  return { provider: 'SecureScore', providerVersion: null, subProvider: null, vendor: 'Microsoft' };
}
