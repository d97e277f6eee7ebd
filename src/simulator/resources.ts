/**
 * How each Graph security collection is addressed and queried: its URL segment, `@odata.context` name, the fields
 * `$filter`/`$orderby` accept (Graph's documented ones plus a few obvious ones), and where its provider lives.
 */
import type { Resource } from '../record/types.js';
import { LEGACY_PROVIDERS } from './generate-catalog.js';
import type { GraphObject } from './generate.js';
import type { FieldSpec } from './odata.js';

export interface CollectionSpec {
  resource: Resource;
  /** Path segment under `/v1.0/security/`. */
  segment: string;
  /** Entity-set name in `@odata.context` (Graph writes the legacy one as `Security/alerts`). */
  contextName: string;
  fields: FieldSpec;
  /** The provider the request log and partial-failure logic use. */
  provider(obj: GraphObject): string | undefined;
}

const vendorProvider = (o: GraphObject): string | undefined =>
  (o.vendorInformation as { provider?: string } | undefined)?.provider;

export const COLLECTIONS: readonly CollectionSpec[] = [
  {
    resource: 'alerts_v2',
    segment: 'alerts_v2',
    contextName: 'security/alerts_v2',
    fields: {
      time: [
        'lastUpdateDateTime',
        'createdDateTime',
        'resolvedDateTime',
        'firstActivityDateTime',
        'lastActivityDateTime',
      ],
      equality: [
        'severity',
        'status',
        'serviceSource',
        'detectionSource',
        'classification',
        'determination',
        'assignedTo',
        'incidentId',
        'category',
      ],
    },
    provider: (o) => (typeof o.serviceSource === 'string' ? o.serviceSource : undefined),
  },
  {
    resource: 'incidents',
    segment: 'incidents',
    contextName: 'security/incidents',
    fields: {
      time: ['lastUpdateDateTime', 'createdDateTime'],
      equality: ['severity', 'status', 'classification', 'determination', 'assignedTo'],
    },
    provider: () => 'microsoft365Defender',
  },
  {
    resource: 'alerts',
    segment: 'alerts',
    contextName: 'Security/alerts',
    fields: {
      time: ['lastModifiedDateTime', 'createdDateTime', 'eventDateTime', 'closedDateTime'],
      equality: [
        'severity',
        'status',
        'category',
        'assignedTo',
        'feedback',
        'azureTenantId',
        'vendorInformation/provider',
        'vendorInformation/vendor',
        'vendorInformation/subProvider',
      ],
    },
    provider: vendorProvider,
  },
  {
    resource: 'secure_scores',
    segment: 'secureScores',
    contextName: 'security/secureScores',
    fields: { time: ['createdDateTime'], equality: ['azureTenantId'] },
    provider: vendorProvider,
  },
  {
    resource: 'secure_score_control_profiles',
    segment: 'secureScoreControlProfiles',
    contextName: 'security/secureScoreControlProfiles',
    fields: {
      time: ['lastModifiedDateTime'],
      equality: ['azureTenantId', 'service', 'controlCategory', 'tier', 'actionType'],
    },
    provider: vendorProvider,
  },
];

export function collectionBySegment(segment: string): CollectionSpec | undefined {
  return COLLECTIONS.find((c) => c.segment === segment);
}

export function collectionOf(resource: Resource): CollectionSpec {
  return COLLECTIONS.find((c) => c.resource === resource) as CollectionSpec;
}

/** The federated providers of the legacy API, in the order their results are concatenated. */
export const LEGACY_PROVIDER_NAMES: readonly string[] = LEGACY_PROVIDERS.map((p) => p.provider);

/** Graph's caps on legacy queries: `$top` per provider, `$skip`, and the depth past which no nextLink is given. */
export const LEGACY_LIMITS = { maxTop: 1000, maxSkip: 500, maxDepth: 6000 } as const;
