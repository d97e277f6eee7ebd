/**
 * Many tenants under one app registration (an MSSP): a `graph_security` source may list `tenants` instead of one
 * `tenant_id`. After validation each entry becomes a source of its own, named `{source}/{tenant}` (expandTenants),
 * so everything keyed by a source name — cursors, leases, failure state, the request budget (tenant + client id),
 * metric labels, the records' `source`, write-back (`POST /sync/{source}%2F{tenant}`), `alertbridge cursor` — works
 * per tenant exactly as for separate sources, with no second code path. `/` cannot occur in a configured name, so
 * an expanded name never collides with one, and the group it came from is the part before the `/` (`groupOf`).
 *
 * What a tenant may override is polling and what is read: its resources, schedule, look-back, budget, filters and
 * late-evidence re-reads. Not the credentials, cloud or endpoints: one app registration lives in one cloud, and
 * its secret or certificate is the same for every tenant that consented to it.
 */
import { z } from 'zod';
import type { GraphSourceFields } from './sources.js';
import { isRecord, type AddIssue } from './fields.js';
import { TENANT_SEPARATOR } from './tenant-name.js';

export { groupOf, TENANT_SEPARATOR, tenantNameOf } from './tenant-name.js';

/** Where an expanded source came from: `sources[].name` and its `tenants[].name`. */
export interface TenantOf {
  source: string;
  tenant: string;
}

/** The fields a tenant entry may override, in the order the reference lists them. */
export const TENANT_OVERRIDES = [
  'resources',
  'poll_interval_ms',
  'poll_schedule',
  'initial_lookback_ms',
  'overlap_ms',
  'stuck_window_alert_ms',
  'expect_alerts_within_ms',
  'page_size',
  'request_budget_per_minute',
  'filter',
  'late_evidence',
] as const;

const overrides = (what: string) => `This tenant's ${what}. Default: the source's.`;

/** One entry of `tenants`: a name, a tenant, and the overrides (no defaults here: a missing one is the source's). */
export function graphTenantSchema(f: GraphSourceFields) {
  return z
    .strictObject({
      name: z
        .string()
        .regex(/^[a-z0-9][a-z0-9_-]*$/, {
          error: 'must be lowercase letters, digits, "_" or "-", starting with a letter or digit',
        })
        .max(64)
        .describe(
          'Unique name of the tenant within the source (lowercase letters, digits, `_`, `-`), e.g. the customer. The tenant runs as source `{source}/{name}`: in records, metric labels, logs and commands (`--source {source}/{name}`).',
        ),
      tenant_id: f.tenant_id.describe(
        "The customer's Entra ID tenant: its GUID, or a verified domain (`fabrikam.onmicrosoft.com`). A defender_streaming source can only match a GUID.",
      ),
      resources: f.resources.unwrap().optional().describe(overrides('Graph resources to ingest (`resources`)')),
      poll_interval_ms: f.poll_interval_ms.describe(
        overrides('time between polls (`poll_interval_ms`); replaces the source’s `poll_schedule` too'),
      ),
      poll_schedule: f.poll_schedule.describe(
        overrides('cron schedule (`poll_schedule`); replaces the source’s `poll_interval_ms` too'),
      ),
      initial_lookback_ms: f.initial_lookback_ms.unwrap().optional().describe(overrides('`initial_lookback_ms`')),
      overlap_ms: f.overlap_ms.unwrap().optional().describe(overrides('`overlap_ms`')),
      stuck_window_alert_ms: f.stuck_window_alert_ms.unwrap().optional().describe(overrides('`stuck_window_alert_ms`')),
      expect_alerts_within_ms: f.expect_alerts_within_ms.describe(overrides('`expect_alerts_within_ms`')),
      page_size: f.page_size.unwrap().optional().describe(overrides('`page_size`')),
      request_budget_per_minute: f.request_budget_per_minute
        .unwrap()
        .optional()
        .describe(overrides('Graph request budget (`request_budget_per_minute`; Graph allows 150 per tenant)')),
      filter: f.filter.unwrap().optional().describe(overrides('filters (`filter`), replacing them as a whole')),
      late_evidence: f.late_evidence
        .unwrap()
        .optional()
        .describe(overrides('late-evidence re-reads (`late_evidence`), replacing them as a whole')),
    })
    .describe('A customer tenant read with the source’s app registration.');
}

export type GraphTenant = z.output<ReturnType<typeof graphTenantSchema>>;

/**
 * The rules of `tenants` on unvalidated source data: `tenant_id` or `tenants`, not both; no managed identity (it
 * belongs to one tenant) nor Kafka write-back input (one consumer group per source); unique names and tenant ids;
 * and each entry's effective polling settings pass the source's own rules (`checkRules`), reported at the entry.
 */
export function checkTenants(
  value: Record<string, unknown>,
  addIssue: AddIssue,
  checkRules: (effective: Record<string, unknown>, addIssue: AddIssue, scope: string) => void,
): void {
  const tenants = value.tenants;
  if (tenants === undefined) {
    if (value.tenant_id === undefined) addIssue(['tenant_id'], 'required (or list the customer tenants in tenants)');
    return;
  }
  if (value.tenant_id !== undefined) {
    addIssue(['tenant_id'], 'not used with tenants: each entry of tenants has its own tenant_id');
  }
  if (value.auth === 'managed_identity') {
    addIssue(
      ['auth'],
      'a managed identity belongs to one tenant: tenants need a multi-tenant app registration (client_secret, certificate or workload_identity)',
    );
  }
  const sync = isRecord(value.sync) ? value.sync : {};
  if (sync.kafka !== undefined) {
    addIssue(
      ['sync', 'kafka'],
      'not available with tenants (each tenant would read the same topic): send changes to POST /sync/{source}',
    );
  }
  if (!Array.isArray(tenants)) return;
  const names = new Map<string, number>();
  const ids = new Map<string, number>();
  tenants.forEach((tenant, i) => {
    if (!isRecord(tenant)) return;
    const at = (path: (string | number)[], message: string) => addIssue(['tenants', i, ...path], message);
    if (typeof tenant.name === 'string') {
      const first = names.get(tenant.name);
      if (first !== undefined) at(['name'], `duplicate tenant name "${tenant.name}" (also tenants[${first}])`);
      else names.set(tenant.name, i);
    }
    if (typeof tenant.tenant_id === 'string') {
      // Entra compares tenant GUIDs and domains without case.
      const id = tenant.tenant_id.toLowerCase();
      const first = ids.get(id);
      if (first !== undefined) at(['tenant_id'], `duplicate tenant_id "${tenant.tenant_id}" (also tenants[${first}])`);
      else ids.set(id, i);
    }
    if (TENANT_OVERRIDES.some((key) => tenant[key] !== undefined)) {
      checkRules(effectiveSettings(value, tenant), at, 'tenant');
    }
  });
}

/** A source's polling settings with one tenant's overrides applied (interval and schedule replace each other). */
function effectiveSettings<T extends Record<string, unknown>>(source: T, tenant: Record<string, unknown>): T {
  const merged: Record<string, unknown> = { ...source };
  if (tenant.poll_interval_ms !== undefined || tenant.poll_schedule !== undefined) {
    merged.poll_interval_ms = undefined;
    merged.poll_schedule = undefined;
  }
  for (const key of TENANT_OVERRIDES) if (tenant[key] !== undefined) merged[key] = tenant[key];
  return merged as T;
}

interface ExpandableGraphSource {
  type: 'graph_security';
  name: string;
  tenant_id: string;
  poll_interval_ms?: number;
  poll_schedule?: string;
  tenants?: readonly GraphTenant[];
  tenant_of?: TenantOf;
}

/**
 * Each `graph_security` source with `tenants` becomes one source per entry (`{source}/{tenant}`, its tenant_id and
 * overrides), in place; other sources are kept as they are.
 */
export function expandTenants<S extends { type: string; name: string }>(
  sources: readonly S[],
  pollInterval: (value: { poll_interval_ms?: number; poll_schedule?: string }) => number | undefined,
): S[] {
  return sources.flatMap((source) => {
    const graph = source as unknown as ExpandableGraphSource;
    if (graph.type !== 'graph_security' || !graph.tenants) return [source];
    const { tenants, ...base } = graph;
    return tenants.map((tenant) => {
      const merged = effectiveSettings(base as Record<string, unknown>, tenant);
      return {
        ...merged,
        name: `${graph.name}${TENANT_SEPARATOR}${tenant.name}`,
        tenant_id: tenant.tenant_id,
        tenants: undefined,
        poll_interval_ms: pollInterval(merged),
        tenant_of: { source: graph.name, tenant: tenant.name },
      } as unknown as S;
    });
  });
}
