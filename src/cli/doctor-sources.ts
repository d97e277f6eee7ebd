/**
 * `alertbridge doctor`'s source checks. A `graph_security` source: a token from Entra ID, the application
 * permissions (`roles`) the token actually carries against those its resources (and write-back, webhooks) need, one
 * `$top=1` read per resource through the source's own Graph client (so its proxy, CA, timeout and request budget
 * apply, and the reads count against the budget), the clock skew from Graph's `Date`, and the budget's headroom.
 * Push sources: their secrets are there. (`defender_streaming`: doctor-streaming.ts.)
 */
import { readFileSync } from 'node:fs';
import type { TokenCredential } from '@azure/identity';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { ProbeResult } from '../../sinks/types.js';
import type { Config, GraphSourceConfig } from '../config/schema.js';
import { createCredential, lastTransportError, trustedCa } from '../entra/credential.js';
import { Metrics } from '../observability/metrics.js';
import { keysFor } from '../pipeline/keys.js';
import type { Resource } from '../record/types.js';
import { RequestBudget } from '../sources/graph/budget.js';
import { GraphClient, GraphRequestError } from '../sources/graph/client.js';
import { redactUrlsIn } from '../util/http-proxy.js';
import { withTimeout } from '../util/timeout.js';
import { budgetUsed } from './doctor-redis.js';

type SourceConfig = Config['sources'][number];

export interface SourceCheckDeps {
  redis: Redis;
  prefix: string;
  timeoutMs: number;
  logger: Logger;
}

/** Where each resource is read, and the application permission that reads it (graph-api-notes.md). */
const RESOURCES: Record<Resource, { path: string; read: string; v2?: boolean }> = {
  alerts_v2: { path: '/security/alerts_v2', read: 'SecurityAlert.Read.All', v2: true },
  incidents: { path: '/security/incidents', read: 'SecurityIncident.Read.All', v2: true },
  alerts: { path: '/security/alerts', read: 'SecurityEvents.Read.All' },
  secure_scores: { path: '/security/secureScores', read: 'SecurityEvents.Read.All' },
  secure_score_control_profiles: { path: '/security/secureScoreControlProfiles', read: 'SecurityEvents.Read.All' },
};
/** A ReadWrite permission includes its Read one. */
const WRITE_OF: Record<string, string> = {
  'SecurityAlert.Read.All': 'SecurityAlert.ReadWrite.All',
  'SecurityIncident.Read.All': 'SecurityIncident.ReadWrite.All',
  'SecurityEvents.Read.All': 'SecurityEvents.ReadWrite.All',
};

/** Clock skew above which the doctor fails: Entra ID's own tolerance for token times is 5 minutes. */
const SKEW_FAIL_MS = 60_000;
const SKEW_WARN_MS = 5_000;

/** The permissions a source needs, each with why. */
export function neededRoles(s: GraphSourceConfig): Map<string, string> {
  const need = new Map<string, string>();
  for (const r of s.resources)
    need.set(RESOURCES[r].read, need.has(RESOURCES[r].read) ? `${need.get(RESOURCES[r].read)}, ${r}` : r);
  if (s.sync.enabled) {
    const v2 = s.resources.filter((r) => r === 'alerts_v2' || r === 'incidents');
    for (const r of v2.length ? v2 : (['alerts_v2', 'incidents'] as const))
      need.set(WRITE_OF[RESOURCES[r].read]!, `sync (write-back of ${r})`);
  }
  if (s.webhook.enabled) need.set('SecurityEvents.ReadWrite.All', 'webhook subscriptions');
  return need;
}

/**
 * The admin-consent URL of the app in the source's tenant (Microsoft identity platform v2, `scope={graph}/.default`:
 * every permission configured on the app registration), as `alertbridge tenants consent-url` prints it.
 */
export function consentUrl(s: GraphSourceConfig): string {
  const url = new URL(`${s.authority_url.replace(/\/+$/, '')}/${encodeURIComponent(s.tenant_id)}/v2.0/adminconsent`);
  url.searchParams.set('client_id', s.client_id ?? '<client_id>');
  url.searchParams.set('scope', `${s.graph_url.replace(/\/+$/, '')}/.default`);
  return url.href;
}

/** The `roles` claim of an access token (a JWT); the token itself is never printed. */
export function tokenRoles(token: string): string[] | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { roles?: unknown };
    return Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return undefined;
  }
}

export function firstLine(s: string): string {
  return redactUrlsIn(s.split('\n')[0]!.slice(0, 300));
}

/** What to do about a token Entra ID would not give, by its AADSTS code. */
function tokenFix(s: GraphSourceConfig, message: string, transport: Error | undefined): string {
  const app = s.client_id ?? '(managed identity)';
  if (transport || /ENOTFOUND|ECONNREFUSED|timeout|no answer/i.test(message))
    return `the token endpoint ${s.authority_url} was not reached: check authority_url/cloud, proxy_url (or HTTPS_PROXY/NO_PROXY) and ca_file`;
  if (/AADSTS7000215|AADSTS7000222|invalid_client/.test(message))
    return `the client secret (or certificate) is wrong or expired: make a new one (Entra admin center → App registrations → ${app} → Certificates & secrets) and set client_secret${s.client_secret_file ? ` (client_secret_file ${s.client_secret_file})` : ''}`;
  if (/AADSTS700016|unauthorized_client/.test(message))
    return `app ${app} is unknown in tenant ${s.tenant_id}: check client_id, and have an admin of the tenant consent: ${consentUrl(s)}`;
  if (/AADSTS90002|AADSTS900023|invalid_tenant/.test(message))
    return `tenant ${s.tenant_id} is unknown to ${s.authority_url}: check tenant_id and cloud`;
  return `check tenant_id, client_id and the credential (auth: ${s.auth})`;
}

export async function graphSourceChecks(s: GraphSourceConfig, deps: SourceCheckDeps): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [...pushSecretChecks(s)];
  const timeoutMs = Math.min(deps.timeoutMs, s.request_timeout_ms);
  let credential: TokenCredential | undefined;
  let dispatcher: Dispatcher | undefined;
  const budgetKey = keysFor(deps.prefix).budget(s.tenant_id, s.client_id ?? 'managed');
  const client = new GraphClient({
    source: s.name,
    tenantId: s.tenant_id,
    graphUrl: s.graph_url,
    credential: (d) => {
      dispatcher = d;
      return (credential = createCredential({ ...s, request_timeout_ms: timeoutMs }, d));
    },
    budget: new RequestBudget(deps.redis, budgetKey, s.request_budget_per_minute),
    metrics: new Metrics({ defaultMetrics: false }),
    logger: deps.logger.child({ component: 'doctor', source: s.name }),
    ca: trustedCa(s.ca_file),
    proxyUrl: s.proxy_url,
    timeoutMs,
    maxRetries: 0,
    maxResponseBytes: s.max_response_bytes,
  });
  try {
    // Token and roles.
    let token: string;
    try {
      const t = await withTimeout(
        credential!.getToken(`${new URL(s.graph_url).origin}/.default`),
        timeoutMs,
        'token request',
      );
      if (!t) throw new Error('no token returned');
      token = t.token;
      const mins = Math.round((t.expiresOnTimestamp - Date.now()) / 60_000);
      out.push({
        check: 'token',
        status: 'pass',
        detail: `from ${s.authority_url} for tenant ${s.tenant_id} (valid ${mins} min)`,
      });
    } catch (err) {
      const transport = dispatcher && lastTransportError(dispatcher);
      const message = firstLine((err as Error).message) + (transport ? ` (${firstLine(transport.message)})` : '');
      out.push({ check: 'token', status: 'fail', detail: message, fix: tokenFix(s, message, transport) });
      out.push({ check: 'permissions', status: 'skip', detail: 'no token' });
      return out;
    }
    const roles = tokenRoles(token);
    out.push(rolesCheck(s, roles));
    /** A read the token cannot make (its role is missing, said above) is not tried: one cause, one ✗. */
    const lacks = (resource: Resource): boolean =>
      roles !== undefined &&
      !roles.includes(RESOURCES[resource].read) &&
      !roles.includes(WRITE_OF[RESOURCES[resource].read]!);

    // Budget headroom, before the reads take from it.
    let headroom = s.request_budget_per_minute;
    try {
      const used = await withTimeout(budgetUsed(deps.redis, budgetKey), timeoutMs, 'reading the request budget');
      headroom = s.request_budget_per_minute - used;
      out.push(
        headroom > 0
          ? {
              check: 'budget',
              status: headroom < s.resources.length ? 'warn' : 'pass',
              detail: `${used} of ${s.request_budget_per_minute} requests used in the last 60 s (tenant ${s.tenant_id}, shared by every replica and source of this app)`,
            }
          : {
              check: 'budget',
              status: 'fail',
              detail: `all ${s.request_budget_per_minute} requests of the last 60 s are used: polls wait for the budget`,
              fix: 'raise request_budget_per_minute (Graph allows 150/min per app per tenant), or poll less (poll_interval_ms, fewer resources, late_evidence.reread_after_ms: [])',
            },
      );
    } catch (err) {
      out.push({ check: 'budget', status: 'fail', detail: (err as Error).message, fix: 'see the Redis checks' });
    }

    // One read per resource; the first answer's Date gives the clock skew.
    let skew: { ms: number } | undefined;
    for (const resource of s.resources) {
      const spec = RESOURCES[resource];
      if (lacks(resource)) {
        out.push({
          check: `read ${resource}`,
          status: 'skip',
          detail: `not tried: the token lacks ${RESOURCES[resource].read} (see permissions)`,
        });
        continue;
      }
      if (headroom <= 0) {
        out.push({
          check: `read ${resource}`,
          status: 'skip',
          detail: 'the request budget is used up: the read would wait',
        });
        continue;
      }
      const sent = Date.now();
      try {
        const res = await withTimeout(
          client.get<{ value?: unknown[] }>(
            `${spec.path}?$top=1`,
            resource,
            undefined,
            spec.v2 ? { prefer: 'include-unknown-enum-members' } : {},
          ),
          timeoutMs,
          `GET ${spec.path}`,
        );
        headroom--;
        const got = Date.now();
        if (!skew && res.date && !Number.isNaN(Date.parse(res.date))) {
          // Date has whole seconds: the server's time lies in [date, date + 1 s); compare with the request's midpoint.
          const server = Date.parse(res.date) + 500;
          skew = { ms: server - (sent + got) / 2 };
        }
        const n = Array.isArray(res.body.value) ? res.body.value.length : 0;
        out.push(
          res.partial.length
            ? {
                check: `read ${resource}`,
                status: 'warn',
                detail: `HTTP 206: providers ${res.partial.map((p) => `${p.provider} (${p.status})`).join(', ')} did not answer`,
                fix: 'a provider failing for long is Graph-side; alertbridge keeps its window open and reads it again',
              }
            : { check: `read ${resource}`, status: 'pass', detail: `HTTP ${res.status}, ${n} object(s) with $top=1` },
        );
      } catch (err) {
        out.push(readFailure(s, resource, err));
      }
    }
    out.push(skewCheck(skew));
    return out;
  } finally {
    // close() waits for requests in flight: a token request to a silent endpoint would hold the doctor up.
    await withTimeout(client.close(), 1000, 'closing the Graph client').catch(() => undefined);
  }
}

function rolesCheck(s: GraphSourceConfig, roles: string[] | undefined): ProbeResult {
  if (roles === undefined)
    return { check: 'permissions', status: 'skip', detail: 'the access token is not a JWT: its roles cannot be read' };
  const need = neededRoles(s);
  const missing = [...need].filter(([role]) => !roles.includes(role) && !roles.includes(WRITE_OF[role] ?? ''));
  if (!missing.length)
    return { check: 'permissions', status: 'pass', detail: `the token carries ${[...need.keys()].join(', ')}` };
  return {
    check: 'permissions',
    status: 'fail',
    detail: `the token lacks ${missing.map(([role, why]) => `${role} (for ${why})`).join(', ')}; it carries ${roles.join(', ') || 'no roles'}`,
    fix: `grant ${missing.map(([r]) => r).join(' and ')} (Microsoft Graph, Application permission) to app ${s.client_id ?? '(managed identity)'} — Entra admin center → App registrations → API permissions — and re-consent: ${consentUrl(s)}${s.tenant_of ? ` (also: alertbridge tenants consent-url --source ${s.tenant_of.source} --tenant ${s.tenant_of.tenant})` : ''}`,
  };
}

function readFailure(s: GraphSourceConfig, resource: Resource, err: unknown): ProbeResult {
  const check = `read ${resource}`;
  const detail = firstLine((err as Error).message);
  const status = err instanceof GraphRequestError ? err.status : 0;
  if (status === 403)
    return {
      check,
      status: 'fail',
      detail,
      fix: `grant ${RESOURCES[resource].read} (Microsoft Graph, Application permission) to app ${s.client_id ?? '(managed identity)'} and re-consent: ${consentUrl(s)}${s.tenant_of ? ` (also: alertbridge tenants consent-url --source ${s.tenant_of.source} --tenant ${s.tenant_of.tenant})` : ''}`,
    };
  if (status === 401)
    return {
      check,
      status: 'fail',
      detail,
      fix: `Graph refuses the token: have an admin of tenant ${s.tenant_id} consent: ${consentUrl(s)}`,
    };
  if (status === 429)
    return {
      check,
      status: 'fail',
      detail,
      fix: 'Graph throttles this app in this tenant now: lower request_budget_per_minute or the number of replicas/sources of the same app',
    };
  if (status === 400 || status === 404)
    return {
      check,
      status: 'fail',
      detail,
      fix:
        resource === 'alerts'
          ? 'legacy alerts are retired in this cloud or tenant: read alerts_v2 instead'
          : `check graph_url (${s.graph_url}) and cloud`,
    };
  return {
    check,
    status: 'fail',
    detail,
    fix: `check graph_url (${s.graph_url}), proxy_url (or HTTPS_PROXY/NO_PROXY) and ca_file`,
  };
}

function skewCheck(skew: { ms: number } | undefined): ProbeResult {
  if (!skew) return { check: 'clock', status: 'skip', detail: 'no Graph answer with a Date header to compare with' };
  const s = Math.abs(skew.ms);
  const said = `${(skew.ms / 1000).toFixed(1)} s ${skew.ms > 0 ? 'behind' : 'ahead of'} Graph`;
  if (s <= SKEW_WARN_MS)
    return { check: 'clock', status: 'pass', detail: `within ${SKEW_WARN_MS / 1000} s of Graph's Date` };
  return {
    check: 'clock',
    status: s > SKEW_FAIL_MS ? 'fail' : 'warn',
    detail: `this clock is ${said}`,
    fix: "synchronize the clock with NTP (timedatectl set-ntp true, chrony); in a container, the node's clock",
  };
}

/** The secrets of push (webhook, sync) settings are there now: a `*_file` is read again, as the daemon will. */
export function pushSecretChecks(s: SourceConfig): ProbeResult[] {
  const groups: Array<{ what: string; obj: Record<string, unknown>; keys: string[] }> = [];
  if (s.type === 'webhook') groups.push({ what: 'push secrets', obj: s, keys: ['token', 'hmac_secret'] });
  if (s.type === 'graph_security') {
    if (s.sync.enabled) groups.push({ what: 'sync secrets', obj: s.sync, keys: ['token', 'hmac_secret'] });
    if (s.webhook.enabled) groups.push({ what: 'webhook client_state', obj: s.webhook, keys: ['client_state'] });
  }
  return groups.map(({ what, obj, keys }) => {
    const problems: string[] = [];
    const present: string[] = [];
    for (const key of keys) {
      const file = obj[`${key}_file`];
      if (typeof file === 'string') {
        try {
          if (!readFileSync(file, 'utf8').trim()) problems.push(`${key}_file ${file} is empty`);
          else present.push(`${key} (from ${key}_file)`);
        } catch (err) {
          problems.push(
            `${key}_file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
          );
        }
      } else if (typeof obj[key] === 'string' && (obj[key] as string).length) present.push(key);
    }
    if (problems.length)
      return {
        check: what,
        status: 'fail',
        detail: problems.join('; '),
        fix: 'mount or write the secret file (a Kubernetes Secret volume), readable by the user alertbridge runs as',
      };
    if (!present.length)
      return {
        check: what,
        status: 'fail',
        detail: `none of ${keys.join(', ')} is set`,
        fix: `set ${keys.join(' or ')} (or the _file form)`,
      };
    return { check: what, status: 'pass', detail: `${present.join(', ')} set` };
  });
}
