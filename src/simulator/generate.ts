/**
 * Deterministic generator of realistic Microsoft Graph Security objects (alerts_v2, incidents, legacy alerts, secure
 * scores, control profiles) for the demo, the Graph simulator and the benchmarks.
 *
 * Objects are shaped like Microsoft's documented examples: Defender-style ids, evidence with real `@odata.type`s,
 * seven-digit fractional timestamps, PascalCase enums in some incidents. The same seed and the same sequence of calls
 * always give the same objects (a seeded PRNG and a virtual clock; no `Math.random`, no wall clock unless `clock` is
 * given).
 */
import { createHash } from 'node:crypto';
import { detectResource } from '../record/normalize.js';
import type { Resource } from '../record/types.js';
import { DOMAINS, INCIDENT_DETERMINATIONS, INCIDENT_NAMES, SERVICES } from './generate-catalog.js';
import {
  buildDirectory,
  buildEvidence,
  fitEvidence,
  type Directory,
  type EvidenceContext,
} from './generate-evidence.js';
import { DOTNET_EPOCH_TICKS, buildLegacyAlert } from './generate-legacy.js';
import { Random, TICKS_PER_MS, TICKS_PER_SECOND, isoMillis, isoSeconds, isoTicks, ticksOf } from './generate-random.js';
import { buildControlProfile, buildSecureScore } from './generate-secure-score.js';

/** A Graph object as JSON: what Graph would return for one item. */
export type GraphObject = Record<string, unknown>;

export interface AlertGeneratorOptions {
  /** PRNG seed: the same seed and calls give the same objects. @defaultValue 1 */
  seed?: number;
  /** Tenants to spread objects over (round-robin free: each object picks one at random). @defaultValue one tenant id drawn from the seed */
  tenantIds?: string[];
  /** Start of the virtual clock; every object moves it forward by seconds to minutes. @defaultValue 2024-05-01T08:00:00Z */
  start?: Date;
  /**
   * Wall clock for live use (the simulator): timestamps follow it instead of the virtual clock, still strictly
   * increasing. Makes the output depend on time, so leave it out where determinism matters.
   */
  clock?: () => Date;
}

export interface AlertGenerator {
  /** The tenants objects are spread over. */
  readonly tenantIds: readonly string[];
  /** A `microsoft.graph.security.alert` (alerts_v2), 2–5 KB of JSON. `overrides` replace top-level fields. */
  alertV2(overrides?: GraphObject): GraphObject;
  /** A `microsoft.graph.security.incident`; status/severity/classification are PascalCase in about half of them. */
  incident(overrides?: GraphObject): GraphObject;
  /**
   * A legacy `microsoft.graph.alert` (v1, federated) from one of the documented providers (IPC, ASC, MCAS, …), drawn
   * by weight unless `opts.provider` names one (ids, templates and states then follow that provider).
   * @throws RangeError for a provider the catalog does not know.
   */
  legacyAlert(overrides?: GraphObject, opts?: { provider?: string }): GraphObject;
  /**
   * A `microsoft.graph.secureScore`: one daily snapshot per tenant, id `{tenantId}_{YYYY-MM-DD}`, each call the next
   * day for the tenant picked. `createdDateTime` has whole seconds, as Graph sends it.
   */
  secureScore(overrides?: GraphObject): GraphObject;
  /**
   * A `microsoft.graph.secureScoreControlProfile`. Ids are Secure Score control names (`AdminMFAV2`, …); once the
   * catalog is exhausted they get a `_{n}` suffix so that every call yields a new identity.
   */
  controlProfile(overrides?: GraphObject): GraphObject;
  /** One object of `resource`. */
  generate(resource: Resource, overrides?: GraphObject): GraphObject;
  /** `n` objects of `resource`. */
  many(resource: Resource, n: number, overrides?: GraphObject): GraphObject[];
  /**
   * The next revision of `obj` (a deep copy; `obj` is untouched): its update time (`lastUpdateDateTime`,
   * `lastModifiedDateTime`, or `createdDateTime` for secure scores) strictly later, and its state moved on — alerts
   * and incidents progress new/active → inProgress → resolved (then gain a comment), control profiles gain a state
   * update, secure scores are recomputed.
   * @throws TypeError when `obj` is not one of the generated shapes.
   */
  updated<T extends GraphObject>(obj: T): T;
}

const DEFAULT_START = new Date('2024-05-01T08:00:00Z');
const MINUTE = 60n * TICKS_PER_SECOND;
const HOUR = 60n * MINUTE;
const DAY = 24n * HOUR;

/** Creates a generator. See {@link AlertGenerator} for what each method returns. */
export function createAlertGenerator(opts: AlertGeneratorOptions = {}): AlertGenerator {
  return new Generator(opts);
}

class Generator implements AlertGenerator {
  readonly tenantIds: readonly string[];
  private readonly rnd: Random;
  private readonly clock: (() => Date) | undefined;
  private last: bigint;
  private readonly directories = new Map<string, Directory>();
  private readonly scoreDays = new Map<string, number>();
  private incidentSeq: number;
  private controlSeq = 0;

  constructor(opts: AlertGeneratorOptions) {
    this.rnd = new Random(opts.seed ?? 1);
    this.clock = opts.clock;
    this.last = BigInt((opts.start ?? opts.clock?.() ?? DEFAULT_START).getTime()) * TICKS_PER_MS;
    this.tenantIds = opts.tenantIds?.length ? [...opts.tenantIds] : [this.rnd.guid()];
    this.tenantIds.forEach((t, i) => {
      this.directories.set(t, buildDirectory(this.rnd, t, DOMAINS[i % DOMAINS.length] as string, this.last));
    });
    this.incidentSeq = this.rnd.int(20_000, 90_000);
  }

  alertV2(overrides: GraphObject = {}): GraphObject {
    const { rnd } = this;
    const svc = rnd.weighted(SERVICES.map((s) => [s, s.weight] as const));
    const tpl = rnd.pick(svc.templates);
    const dir = this.pickDirectory();
    const updated = this.now();
    const created = updated - BigInt(rnd.int(0, 300)) * TICKS_PER_SECOND - BigInt(rnd.int(0, 9_999_999));
    const lastActivity = created - BigInt(rnd.int(5, 600)) * TICKS_PER_SECOND;
    const firstActivity = lastActivity - BigInt(rnd.int(0, 180)) * MINUTE;
    const id = this.alertId(svc.idPrefix, svc.serviceSource, created);
    const incidentId = String(rnd.chance(0.6) ? this.incidentSeq : ++this.incidentSeq);
    const status = rnd.weighted([
      ['new', 60],
      ['inProgress', 25],
      ['resolved', 15],
    ] as const);
    const resolved = status === 'resolved';
    const user = rnd.pick(dir.users);
    const device = rnd.pick(dir.devices);
    const ctx: EvidenceContext = { rnd, dir, user, device, created: isoTicks(created), createdTicks: created, tpl };
    const evidence = tpl.evidence.map((kind, i) => buildEvidence(kind, ctx, i === 0));
    const alert: GraphObject = {
      '@odata.type': '#microsoft.graph.security.alert',
      id,
      providerAlertId: svc.serviceSource === 'microsoftDefenderForEndpoint' ? id : rnd.guid(),
      incidentId,
      status,
      severity: rnd.pick(tpl.severities),
      classification: resolved
        ? rnd.pick(['truePositive', 'falsePositive', 'informationalExpectedActivity'])
        : 'unknown',
      determination: resolved
        ? rnd.pick(['malware', 'phishing', 'compromisedAccount', 'securityTesting', 'other'])
        : 'unknown',
      serviceSource: svc.serviceSource,
      detectionSource: rnd.pick(tpl.detectionSources ?? svc.detectionSources),
      productName: productName(svc.serviceSource),
      detectorId: guidOf(`${svc.serviceSource}:${tpl.title}`),
      tenantId: dir.tenantId,
      title: tpl.title,
      description: tpl.description,
      recommendedActions: svc.recommendedActions,
      category: tpl.category,
      assignedTo: status === 'new' ? null : rnd.pick(dir.analysts),
      alertWebUrl: `https://security.microsoft.com/alerts/${id}?tid=${dir.tenantId}`,
      incidentWebUrl: `https://security.microsoft.com/incidents/${incidentId}?tid=${dir.tenantId}`,
      actorDisplayName: tpl.actorDisplayName ?? null,
      threatDisplayName: tpl.threatFamilyName ? `HackTool:Win32/${tpl.threatFamilyName}` : null,
      threatFamilyName: tpl.threatFamilyName ?? null,
      mitreTechniques: [...tpl.mitreTechniques],
      createdDateTime: isoTicks(created),
      lastUpdateDateTime: isoTicks(updated),
      resolvedDateTime: resolved ? isoTicks(updated) : null,
      firstActivityDateTime: isoMillis(firstActivity),
      lastActivityDateTime: isoMillis(lastActivity),
      comments: resolved ? [this.comment(dir, 'Confirmed and remediated; closing.', updated)] : [],
      evidence,
      systemTags: rnd.chance(0.1) ? ['Defender Experts'] : [],
    };
    fitEvidence(alert, ctx);
    return Object.assign(alert, overrides);
  }

  incident(overrides: GraphObject = {}): GraphObject {
    const { rnd } = this;
    const dir = this.pickDirectory();
    const updated = this.now();
    const created = updated - BigInt(rnd.int(60, 86_400)) * TICKS_PER_SECOND - BigInt(rnd.int(0, 9_999_999));
    const id = String(++this.incidentSeq);
    const pascal = rnd.chance(0.5);
    const status = rnd.weighted([
      ['active', 55],
      ['inProgress', 20],
      ['resolved', 15],
      ['awaitingAction', 5],
      ['redirected', 5],
    ] as const);
    const resolved = status === 'resolved';
    const displayName = rnd.pick(INCIDENT_NAMES);
    const incident: GraphObject = {
      '@odata.type': '#microsoft.graph.security.incident',
      id,
      incidentWebUrl: `https://security.microsoft.com/incidents/${id}?tid=${dir.tenantId}`,
      tenantId: dir.tenantId,
      redirectIncidentId: status === 'redirected' ? String(this.incidentSeq - rnd.int(1, 50)) : null,
      displayName,
      createdDateTime: isoTicks(created),
      lastUpdateDateTime: isoTicks(updated),
      assignedTo: status === 'active' ? null : rnd.pick(dir.analysts),
      classification: enumCase(
        resolved ? rnd.pick(['truePositive', 'falsePositive', 'informationalExpectedActivity']) : 'unknown',
        pascal,
      ),
      determination: enumCase(resolved ? rnd.pick(INCIDENT_DETERMINATIONS) : 'unknown', pascal),
      status: enumCase(status, pascal),
      severity: enumCase(
        rnd.weighted([
          ['informational', 10],
          ['low', 30],
          ['medium', 40],
          ['high', 20],
        ] as const),
        pascal,
      ),
      customTags: rnd.chance(0.3) ? [rnd.pick(['Demo', 'VIP', 'Finance', 'Tier0'])] : [],
      comments: rnd.chance(0.4)
        ? [this.incidentComment(dir, 'Triage started; scoping affected devices.', updated)]
        : [],
      systemTags: rnd.chance(0.1) ? ['Defender Experts'] : [],
      description: `${displayName}. Microsoft Defender XDR correlated ${rnd.int(2, 14)} alerts across ${rnd.int(1, 6)} devices and ${rnd.int(1, 4)} users into this incident.`,
    };
    return Object.assign(incident, overrides);
  }

  legacyAlert(overrides: GraphObject = {}, opts: { provider?: string } = {}): GraphObject {
    return Object.assign(buildLegacyAlert(this.rnd, this.pickDirectory(), this.now(), opts.provider), overrides);
  }

  secureScore(overrides: GraphObject = {}): GraphObject {
    const dir = this.pickDirectory();
    const day = this.scoreDays.get(dir.tenantId) ?? 0;
    this.scoreDays.set(dir.tenantId, day + 1);
    const created = dir.scoreEpoch + BigInt(day) * DAY + BigInt(this.rnd.int(0, 600)) * TICKS_PER_SECOND;
    return Object.assign(buildSecureScore(this.rnd, dir, created), overrides);
  }

  controlProfile(overrides: GraphObject = {}): GraphObject {
    const seq = this.controlSeq++;
    return Object.assign(buildControlProfile(this.rnd, this.pickDirectory(), seq, this.now()), overrides);
  }

  generate(resource: Resource, overrides?: GraphObject): GraphObject {
    switch (resource) {
      case 'alerts_v2':
        return this.alertV2(overrides);
      case 'incidents':
        return this.incident(overrides);
      case 'alerts':
        return this.legacyAlert(overrides);
      case 'secure_scores':
        return this.secureScore(overrides);
      case 'secure_score_control_profiles':
        return this.controlProfile(overrides);
    }
  }

  many(resource: Resource, n: number, overrides?: GraphObject): GraphObject[] {
    return Array.from({ length: n }, () => this.generate(resource, overrides));
  }

  updated<T extends GraphObject>(obj: T): T {
    const next = structuredClone(obj) as GraphObject;
    const dir = this.directories.get(String(next.tenantId ?? next.azureTenantId)) ?? this.pickDirectory();
    const kind = kindOf(next);
    switch (kind) {
      case 'alerts_v2': {
        const at = this.after(next.lastUpdateDateTime);
        next.lastUpdateDateTime = isoTicks(at);
        const status = String(next.status).toLowerCase();
        if (status === 'new') {
          next.status = 'inProgress';
          next.assignedTo ??= this.rnd.pick(dir.analysts);
        } else if (status === 'inprogress') {
          next.status = 'resolved';
          next.resolvedDateTime = isoTicks(at);
          next.classification = 'truePositive';
          next.determination = this.rnd.pick(['malware', 'compromisedAccount', 'phishing']);
        }
        next.comments = [...asArray(next.comments), this.comment(dir, statusNote(String(next.status)), at)];
        break;
      }
      case 'incidents': {
        const at = this.after(next.lastUpdateDateTime);
        next.lastUpdateDateTime = isoTicks(at);
        const raw = String(next.status);
        const pascal = /^[A-Z]/.test(raw);
        const status = raw.toLowerCase();
        if (status === 'active' || status === 'awaitingaction') {
          next.status = enumCase('inProgress', pascal);
          next.assignedTo ??= this.rnd.pick(dir.analysts);
        } else if (status === 'inprogress') {
          next.status = enumCase('resolved', pascal);
          next.classification = enumCase('truePositive', pascal);
          next.determination = enumCase(this.rnd.pick(INCIDENT_DETERMINATIONS), pascal);
        }
        next.comments = [...asArray(next.comments), this.incidentComment(dir, statusNote(String(next.status)), at)];
        break;
      }
      case 'alerts': {
        const at = this.after(next.lastModifiedDateTime);
        next.lastModifiedDateTime = isoTicks(at);
        if (next.status === 'newAlert') {
          next.status = 'inProgress';
          next.assignedTo ??= this.rnd.pick(dir.analysts);
        } else if (next.status === 'inProgress') {
          next.status = 'resolved';
          next.closedDateTime = isoTicks(at);
          next.feedback = 'truePositive';
        }
        next.comments = [...asArray(next.comments), statusNote(String(next.status))];
        break;
      }
      case 'secure_score_control_profiles': {
        const at = this.after(next.lastModifiedDateTime);
        next.lastModifiedDateTime = isoTicks(at);
        const analyst = this.rnd.pick(dir.analysts);
        const state = this.rnd.pick(['Reviewed', 'Ignored', 'ThirdParty', 'Default']);
        next.controlStateUpdates = [
          ...asArray(next.controlStateUpdates),
          { assignedTo: analyst, comment: `Marked ${state}`, state, updatedBy: analyst, updatedDateTime: isoTicks(at) },
        ];
        break;
      }
      case 'secure_scores': {
        // A recomputation of the same day's snapshot, minutes later; whole seconds, as Graph stamps secure scores.
        const prev = typeof next.createdDateTime === 'string' ? ticksOf(next.createdDateTime) : null;
        const at = (prev ?? this.now()) + BigInt(this.rnd.int(60, 3600)) * TICKS_PER_SECOND;
        next.createdDateTime = isoSeconds(at + TICKS_PER_SECOND - (at % TICKS_PER_SECOND));
        const max = typeof next.maxScore === 'number' ? next.maxScore : 100;
        const current = typeof next.currentScore === 'number' ? next.currentScore : 0;
        next.currentScore = Math.min(max, current + this.rnd.int(1, 5));
        break;
      }
      default:
        throw new TypeError(
          'updated(): not a generated Graph object (alert, incident, secure score or control profile)',
        );
    }
    return next as T;
  }

  /** The virtual (or wall) clock: strictly increasing 100 ns ticks. */
  private now(): bigint {
    if (this.clock) {
      const wall = BigInt(this.clock().getTime()) * TICKS_PER_MS + BigInt(this.rnd.int(0, 9_999));
      this.last = wall > this.last ? wall : this.last + 1n;
    } else {
      this.last += BigInt(this.rnd.int(1, 90)) * TICKS_PER_SECOND + BigInt(this.rnd.int(0, 9_999_999));
    }
    return this.last;
  }

  /** The clock's next time, or later than `previous` (an ISO string) if the clock is behind it. */
  private after(previous: unknown): bigint {
    const prev = typeof previous === 'string' ? ticksOf(previous) : null;
    const t = this.now();
    return prev !== null && t <= prev ? prev + BigInt(this.rnd.int(1, 600)) * TICKS_PER_SECOND : t;
  }

  private pickDirectory(): Directory {
    return this.directories.get(this.rnd.pick(this.tenantIds)) as Directory;
  }

  private alertId(prefix: string, serviceSource: string, created: bigint): string {
    if (
      serviceSource === 'microsoftDefenderForEndpoint' ||
      serviceSource === 'microsoftSentinel' ||
      serviceSource === 'microsoft365Defender'
    ) {
      return `${prefix}${created + DOTNET_EPOCH_TICKS}_${this.rnd.int(-2_147_483_648, 2_147_483_647)}`;
    }
    return `${prefix}${this.rnd.guid()}`;
  }

  private comment(dir: Directory, text: string, at: bigint): GraphObject {
    return { comment: text, createdByDisplayName: this.rnd.pick(dir.analysts), createdDateTime: isoTicks(at) };
  }

  private incidentComment(dir: Directory, text: string, at: bigint): GraphObject {
    return { comment: text, createdBy: this.rnd.pick(dir.analysts), createdTime: isoTicks(at) };
  }
}

function kindOf(obj: GraphObject): Resource | null {
  const type = typeof obj['@odata.type'] === 'string' ? obj['@odata.type'].replace(/^#/, '').toLowerCase() : '';
  if (type === 'microsoft.graph.security.incident' || type === 'microsoft.graph.incident') return 'incidents';
  if ('currentScore' in obj && 'controlScores' in obj) return 'secure_scores';
  if ('controlCategory' in obj && 'tier' in obj) return 'secure_score_control_profiles';
  if ('displayName' in obj && 'incidentWebUrl' in obj && !('serviceSource' in obj)) return 'incidents';
  return detectResource(obj);
}

/** `inProgress` → `InProgress` when the payload style is PascalCase (as some incident payloads are). */
function enumCase(value: string, pascal: boolean): string {
  return pascal ? value.charAt(0).toUpperCase() + value.slice(1) : value;
}

function statusNote(status: string): string {
  return `Status changed to ${status}.`;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A stable GUID-shaped id for a name: the same detection has the same detectorId everywhere. */
function guidOf(name: string): string {
  const h = createHash('sha1').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function productName(serviceSource: string): string {
  const names: Record<string, string> = {
    microsoftDefenderForEndpoint: 'Microsoft Defender for Endpoint',
    microsoftDefenderForIdentity: 'Microsoft Defender for Identity',
    microsoftDefenderForCloudApps: 'Microsoft Defender for Cloud Apps',
    microsoftDefenderForOffice365: 'Microsoft Defender for Office 365',
    microsoftDefenderForCloud: 'Microsoft Defender for Cloud',
    azureAdIdentityProtection: 'Microsoft Entra ID Protection',
    microsoftSentinel: 'Microsoft Sentinel',
    microsoft365Defender: 'Microsoft Defender XDR',
  };
  return names[serviceSource] ?? serviceSource;
}

export { ALERT_V2_MAX_BYTES, ALERT_V2_MIN_BYTES } from './generate-evidence.js';
