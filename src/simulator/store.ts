/**
 * The simulator's data: per tenant and resource, the current revision of every object in creation order, made by one
 * seeded generator per tenant (so each tenant has its own directory of users and devices). Creation order is the
 * collections' default order and the basis of keyset paging; a change listener feeds change notifications.
 */
import type { Resource } from '../record/types.js';
import { createAlertGenerator, type AlertGenerator, type GraphObject } from './generate.js';
import { TICKS_PER_MS, isoTicks, ticksOf } from './generate-random.js';

/** A stored object and its position in creation order. */
export interface Entry {
  seq: number;
  obj: GraphObject;
}

export type ChangeKind = 'created' | 'updated';

export interface CreateManyOptions {
  /** Every object gets the first one's update time. */
  sameTime?: boolean;
  /** Legacy alerts only: the `vendorInformation.provider` of every alert. */
  provider?: string;
  /** Top-level fields of every object. */
  overrides?: GraphObject;
  /**
   * Generate only this many distinct objects; the rest are copies of them with their own id and update time (about
   * 20× faster: for paging tests of tens of thousands of objects, where content does not matter). alerts_v2 and
   * incidents only. @defaultValue every object generated
   */
  variety?: number;
}
export type ChangeListener = (tenantId: string, resource: Resource, obj: GraphObject, kind: ChangeKind) => void;

/** The field holding each resource's update time (its revision). */
export const UPDATE_FIELD: Record<Resource, string> = {
  alerts_v2: 'lastUpdateDateTime',
  incidents: 'lastUpdateDateTime',
  alerts: 'lastModifiedDateTime',
  secure_scores: 'createdDateTime',
  secure_score_control_profiles: 'lastModifiedDateTime',
};

const DAY_MS = 86_400_000;
/** Seeded alerts are spread over the last day: what a default first poll (one day back) picks up. */
const HISTORY_MS = DAY_MS;

interface Tenant {
  gen: AlertGenerator;
  /** While seeding history, the generator's clock reads `at` instead of the simulator clock. */
  history: { at: number | null };
  items: Map<Resource, Map<string, Entry>>;
}

export class SimStore {
  private readonly tenants = new Map<string, Tenant>();
  private readonly listeners: ChangeListener[] = [];
  private seq = 0;

  /**
   * @param retain most objects kept per tenant and resource; past it the oldest are forgotten, so a long demo at a
   *   high rate does not grow without bound.
   */
  constructor(
    tenantIds: readonly string[],
    seed: number,
    private readonly clock: () => Date,
    scoreDays = 0,
    private readonly retain = 50_000,
  ) {
    tenantIds.forEach((tenantId, i) => {
      const history: { at: number | null } = { at: null };
      const now = clock().getTime();
      const gen = createAlertGenerator({
        seed: seed + i * 7919,
        tenantIds: [tenantId],
        clock: () => (history.at !== null ? new Date(history.at) : this.clock()),
        // The start sets the first secure-score day: the last of `scoreDays` daily snapshots is yesterday's.
        start: new Date(now - Math.max(scoreDays, 1) * DAY_MS),
      });
      this.tenants.set(tenantId, { gen, history, items: new Map() });
    });
  }

  hasTenant(tenantId: string): boolean {
    return this.tenants.has(tenantId);
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /** Generates and stores one object; an `id` override replaces that object in place. */
  create(tenantId: string, resource: Resource, overrides?: GraphObject): GraphObject {
    const obj = this.tenant(tenantId).gen.generate(resource, overrides);
    this.put(tenantId, resource, obj, 'created');
    return obj;
  }

  /**
   * Generates and stores `count` objects. `sameTime`: all carry the first one's update time (`lastModifiedDateTime`,
   * …), as after a bulk import or a provider's batch job; `provider` pins the provider of legacy alerts.
   */
  createMany(tenantId: string, resource: Resource, count: number, opts: CreateManyOptions = {}): GraphObject[] {
    const { gen } = this.tenant(tenantId);
    if (opts.provider !== undefined && resource !== 'alerts')
      throw new RangeError(`provider pins legacy alerts only, not ${resource} (override serviceSource for alerts_v2)`);
    if (!Number.isInteger(count) || count < 0)
      throw new RangeError(`count must be a whole number, got ${String(count)}`);
    const field = UPDATE_FIELD[resource];
    let stamp: unknown;
    const out: GraphObject[] = [];
    const variety = opts.variety;
    if (variety !== undefined && (!Number.isInteger(variety) || variety < 1))
      throw new RangeError(`variety must be a whole number ≥ 1, got ${String(variety)}`);
    if (variety !== undefined && resource !== 'alerts_v2' && resource !== 'incidents')
      throw new RangeError(`variety applies to alerts_v2 and incidents, not ${resource}`);
    for (let i = 0; i < count; i++) {
      const obj =
        variety !== undefined && i >= variety
          ? this.copyOf(out[i % variety] as GraphObject, i, out[i - 1] as GraphObject)
          : opts.provider !== undefined
            ? gen.legacyAlert(opts.overrides, { provider: opts.provider })
            : gen.generate(resource, opts.overrides);
      if (opts.sameTime) obj[field] = stamp ??= obj[field];
      this.put(tenantId, resource, obj, 'created');
      out.push(obj);
    }
    return out;
  }

  /**
   * A copy of `model` with an id of its own (suffix `-c{n}`) and times just after `previous`'s. Shallow: nested values
   * (evidence, comments) are shared, which is safe because stored objects are never mutated (every change clones).
   */
  private copyOf(model: GraphObject, n: number, previous: GraphObject): GraphObject {
    const copy = { ...model };
    const id = `${String(model.id)}-c${n}`;
    copy.id = id;
    if (typeof copy.providerAlertId === 'string') copy.providerAlertId = `${copy.providerAlertId}-c${n}`;
    if (typeof copy.alertWebUrl === 'string') copy.alertWebUrl = copy.alertWebUrl.replace(String(model.id), id);
    if (typeof copy.incidentWebUrl === 'string' && !('incidentId' in copy))
      copy.incidentWebUrl = copy.incidentWebUrl.replace(String(model.id), id);
    const stamp = this.stampAfter(previous.lastUpdateDateTime);
    copy.lastUpdateDateTime = stamp;
    copy.createdDateTime = stamp;
    return copy;
  }

  /** Stores the generator's next revision of an object (its lifecycle moves on). */
  update(tenantId: string, resource: Resource, id: string): GraphObject {
    const t = this.tenant(tenantId);
    const current = this.get(tenantId, resource, id);
    if (!current) throw new RangeError(`no ${resource} '${id}' in tenant ${tenantId}`);
    const next = t.gen.updated(current);
    this.put(tenantId, resource, next, 'updated');
    return next;
  }

  /** Applies a client's PATCH: `changes` merged, the update time bumped past the previous one. */
  patch(tenantId: string, resource: Resource, id: string, changes: GraphObject): GraphObject {
    const current = this.get(tenantId, resource, id);
    if (!current) throw new RangeError(`no ${resource} '${id}' in tenant ${tenantId}`);
    const field = UPDATE_FIELD[resource];
    const next = { ...structuredClone(current), ...changes, [field]: this.stampAfter(current[field]) };
    this.put(tenantId, resource, next, 'updated');
    return next;
  }

  /**
   * One more evidence item on an alerts_v2 alert (an IP the investigation turned up). `bump`: lastUpdateDateTime moves
   * to now, as documented; without it the alert grows under the same revision time, as Defender has been seen to do.
   */
  addEvidence(tenantId: string, id: string, opts: { bump?: boolean } = {}): GraphObject {
    const current = this.get(tenantId, 'alerts_v2', id);
    if (!current) throw new RangeError(`no alerts_v2 '${id}' in tenant ${tenantId}`);
    const next = structuredClone(current);
    const evidence = Array.isArray(next.evidence) ? (next.evidence as GraphObject[]) : [];
    const n = evidence.length;
    const stamp = this.stampAfter(current.lastUpdateDateTime);
    evidence.push({
      '@odata.type': '#microsoft.graph.security.ipEvidence',
      createdDateTime: stamp,
      verdict: 'suspicious',
      remediationStatus: 'none',
      remediationStatusDetails: null,
      roles: [],
      detailedRoles: [],
      tags: [],
      ipAddress: `203.0.113.${((n * 37 + id.length) % 254) + 1}`,
      countryLetterCode: 'NL',
      location: null,
      stream: null,
    });
    next.evidence = evidence;
    if (opts.bump !== false) next.lastUpdateDateTime = stamp;
    this.put(tenantId, 'alerts_v2', next, 'updated');
    return next;
  }

  get(tenantId: string, resource: Resource, id: string): GraphObject | undefined {
    return this.tenants.get(tenantId)?.items.get(resource)?.get(id)?.obj;
  }

  /** Stored entries in creation order (the live objects: callers must not mutate them). */
  entries(tenantId: string, resource: Resource): Entry[] {
    return [...(this.tenants.get(tenantId)?.items.get(resource)?.values() ?? [])];
  }

  /**
   * A new alerts_v2 alert and its incident, as Defender groups them: the incident is created when the alert names an
   * unknown one, else its update time moves to the alert's.
   */
  createGroupedAlert(tenantId: string): GraphObject {
    const alert = this.create(tenantId, 'alerts_v2');
    const incidentId = String(alert.incidentId);
    const incident = this.get(tenantId, 'incidents', incidentId);
    if (!incident) {
      this.create(tenantId, 'incidents', { id: incidentId, incidentWebUrl: alert.incidentWebUrl });
    } else {
      const next = { ...structuredClone(incident), lastUpdateDateTime: this.stampAfter(incident.lastUpdateDateTime) };
      this.put(tenantId, 'incidents', next, 'updated');
    }
    return alert;
  }

  /**
   * Pre-creates objects: alerts, incidents and control profiles spread over the last day, interleaved in time as
   * they would have happened; secure scores one per day up to yesterday.
   */
  seed(counts: Partial<Record<Resource, number>>): void {
    const now = this.clock().getTime();
    const timed: Array<{ at: number; resource: Resource }> = [];
    for (const resource of ['alerts_v2', 'incidents', 'alerts', 'secure_score_control_profiles'] as const) {
      const n = counts[resource] ?? 0;
      for (let j = 0; j < n; j++)
        timed.push({ at: now - HISTORY_MS + ((j + 0.5) / n) * (HISTORY_MS - 60_000), resource });
    }
    timed.sort((a, b) => a.at - b.at);
    for (const [tenantId, t] of this.tenants) {
      for (const { at, resource } of timed) {
        t.history.at = at;
        if (resource === 'alerts_v2') this.createGroupedAlert(tenantId);
        else this.create(tenantId, resource);
      }
      t.history.at = null;
      for (let d = 0; d < (counts.secure_scores ?? 0); d++) this.create(tenantId, 'secure_scores');
    }
  }

  /** The simulator clock as a 7-digit timestamp strictly after `previous`. */
  stampAfter(previous: unknown): string {
    const prev = typeof previous === 'string' ? ticksOf(previous) : null;
    const now = BigInt(this.clock().getTime()) * TICKS_PER_MS + BigInt(Math.floor(Math.random() * 10_000));
    return isoTicks(prev !== null && now <= prev ? prev + 1n : now);
  }

  private put(tenantId: string, resource: Resource, obj: GraphObject, kind: ChangeKind): void {
    const t = this.tenant(tenantId);
    let items = t.items.get(resource);
    if (!items) t.items.set(resource, (items = new Map()));
    const id = String(obj.id);
    const existing = items.get(id);
    items.set(id, { seq: existing?.seq ?? ++this.seq, obj });
    if (items.size > this.retain) items.delete(items.keys().next().value as string);
    for (const listener of this.listeners) listener(tenantId, resource, obj, existing ? 'updated' : kind);
  }

  private tenant(tenantId: string): Tenant {
    const t = this.tenants.get(tenantId);
    if (!t)
      throw new RangeError(
        `unknown tenant '${tenantId}' (the simulator serves: ${[...this.tenants.keys()].join(', ')})`,
      );
    return t;
  }
}
