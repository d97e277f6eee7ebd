/**
 * `alertbridge tenants list|consent-url`: the customer tenants of Graph sources (config/tenants.ts).
 *
 * `list` prints each tenant of each `graph_security` source — its tenant id, and per resource the watermark, the
 * failing streak and its last error — with the requests its budget holds for the last minute, read from Redis (any
 * replica's state). `consent-url` prints the admin-consent URL a new customer's administrator opens to grant the
 * app its permissions in their tenant: Microsoft identity platform v2 (`{login}/{tenant}/v2.0/adminconsent` with
 * `scope={graph}/.default`, the permissions configured on the app registration), in the source's cloud.
 */
import type { Logger } from 'pino';
import type { Config, GraphSourceConfig } from '../config/schema.js';
import { keysFor } from '../pipeline/keys.js';
import { connect } from '../pipeline/redis.js';
import { readCursor } from '../sources/graph/cursor.js';
import { CliExit, EXIT } from './common.js';

export interface TenantsOptions {
  source?: string;
  tenant?: string;
  tenantId?: string;
  redirectUri?: string;
  state?: string;
  json?: boolean;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** The graph sources `--source` names: a source with tenants (all of them), one tenant, or a plain source. */
function selectSources(config: Readonly<Config>, source: string | undefined): GraphSourceConfig[] {
  const graph = config.sources.flatMap((s) => (s.type === 'graph_security' ? [s] : []));
  if (source === undefined) return graph;
  const picked = graph.filter((s) => s.name === source || s.tenant_of?.source === source);
  if (!picked.length) {
    const names = [...new Set(graph.map((s) => s.tenant_of?.source ?? s.name))];
    throw new CliExit(
      EXIT.usage,
      `--source: no graph_security source named "${source}" in the config (${names.join(', ') || 'none'})`,
    );
  }
  return picked;
}

export async function tenantsCommand(
  action: 'list' | 'consent-url',
  config: Readonly<Config>,
  log: Logger,
  opts: TenantsOptions,
): Promise<void> {
  const out = opts.out ?? ((line: string) => process.stdout.write(line + '\n'));
  const err = opts.err ?? ((line: string) => process.stderr.write(line + '\n'));
  if (action === 'consent-url') {
    out(consentUrl(config, opts, err));
    return;
  }
  await listTenants(config, selectSources(config, opts.source), opts.json === true, out, log);
}

/** The admin-consent URL (v2 endpoint) for a customer of `--source`. */
export function consentUrl(config: Readonly<Config>, opts: TenantsOptions, warn: (line: string) => void): string {
  if (opts.source === undefined)
    throw new CliExit(EXIT.usage, "tenants consent-url: required option '--source <name>'");
  if (opts.tenant !== undefined && opts.tenantId !== undefined)
    throw new CliExit(EXIT.usage, '--tenant and --tenant-id: give one of them, not both');
  const sources = selectSources(config, opts.source);
  let tenant = 'organizations';
  if (opts.tenant !== undefined) {
    const entry = sources.find((s) => s.tenant_of?.tenant === opts.tenant);
    if (!entry) {
      const names = sources.flatMap((s) => (s.tenant_of ? [s.tenant_of.tenant] : []));
      throw new CliExit(
        EXIT.usage,
        `--tenant: source "${opts.source}" has no tenant named "${opts.tenant}" (${names.join(', ') || 'it lists no tenants'})`,
      );
    }
    tenant = entry.tenant_id;
  } else if (opts.tenantId !== undefined) {
    if (!GUID.test(opts.tenantId) && !DOMAIN.test(opts.tenantId))
      throw new CliExit(
        EXIT.usage,
        `--tenant-id: must be a tenant GUID or verified domain (e.g. fabrikam.onmicrosoft.com), got "${opts.tenantId}"`,
      );
    tenant = opts.tenantId;
  } else if (sources.length === 1 && sources[0]!.tenant_of === undefined) {
    // A plain source has one tenant: its consent is for that tenant.
    tenant = sources[0]!.tenant_id;
  }
  // Every tenant of a source shares its app registration and cloud: the first one speaks for all.
  const source = sources[0]!;
  if (source.client_id === undefined)
    throw new CliExit(EXIT.usage, `source "${opts.source}" has no client_id (a managed identity needs no consent)`);
  let redirect: URL | undefined;
  if (opts.redirectUri !== undefined) {
    try {
      redirect = new URL(opts.redirectUri);
    } catch {
      throw new CliExit(EXIT.usage, `--redirect-uri: not a URL: "${opts.redirectUri}"`);
    }
  } else {
    warn(
      'note: no --redirect-uri: Entra ID sends the administrator to a redirect URI registered on the app; pass one of them (e.g. https://alerts.example.com/consented) to choose it',
    );
  }
  const url = new URL(`${source.authority_url.replace(/\/+$/, '')}/${encodeURIComponent(tenant)}/v2.0/adminconsent`);
  url.searchParams.set('client_id', source.client_id);
  url.searchParams.set('scope', `${source.graph_url.replace(/\/+$/, '')}/.default`);
  if (redirect) url.searchParams.set('redirect_uri', redirect.href);
  if (opts.state !== undefined) url.searchParams.set('state', opts.state);
  return url.href;
}

async function listTenants(
  config: Readonly<Config>,
  sources: GraphSourceConfig[],
  json: boolean,
  out: (line: string) => void,
  log: Logger,
): Promise<void> {
  const keys = keysFor(config.redis.key_prefix);
  const redis = connect(config.redis, { name: 'alertbridge-tenants' });
  redis.on('error', () => undefined); // a command failing says why
  try {
    const [seconds] = await redis.time();
    const now = Number(seconds) * 1000;
    const rows = [];
    for (const s of sources) {
      const budgetKey = keys.budget(s.tenant_id, s.client_id ?? 'managed');
      const used = await redis.zcount(budgetKey, now - 60_000, '+inf');
      const resources = [];
      for (const resource of s.resources) {
        const c = await readCursor(redis, keys.cursor(s.name, resource));
        resources.push({
          resource,
          ...(c.watermark ? { watermark: c.watermark } : {}),
          ...(c.failing_since ? { failing_since: new Date(c.failing_since).toISOString() } : {}),
          ...(c.last_error ? { last_error: c.last_error } : {}),
        });
      }
      rows.push({
        source: s.tenant_of?.source ?? s.name,
        tenant: s.tenant_of?.tenant ?? null,
        name: s.name,
        tenant_id: s.tenant_id,
        budget: { used_last_minute: used, per_minute: s.request_budget_per_minute },
        resources,
      });
    }
    if (json) {
      for (const row of rows) out(JSON.stringify(row));
      return;
    }
    const table = [['SOURCE', 'TENANT', 'TENANT ID', 'BUDGET', 'STATE']];
    for (const r of rows) {
      const failing = r.resources.filter((x) => x.failing_since);
      const state = failing.length
        ? `failing: ${failing.map((x) => `${x.resource} since ${x.failing_since} (${oneLine(x.last_error)})`).join('; ')}`
        : r.resources.every((x) => x.watermark)
          ? `ok, read up to ${r.resources.map((x) => x.watermark!).sort()[0]}`
          : `not polled yet: ${r.resources
              .filter((x) => !x.watermark)
              .map((x) => x.resource)
              .join(', ')}`;
      table.push([
        r.source,
        r.tenant ?? '-',
        r.tenant_id,
        `${r.budget.used_last_minute}/${r.budget.per_minute}`,
        state,
      ]);
    }
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    for (const row of table)
      out(row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i]!) : cell)).join('  '));
  } catch (error) {
    log.debug({ err: error }, 'tenants list failed');
    throw new CliExit(EXIT.runtime, `tenants list: reading Redis failed: ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
}

function oneLine(text: string | undefined): string {
  const line = (text ?? 'unknown error').replace(/\s+/g, ' ');
  return line.length > 160 ? `${line.slice(0, 157)}…` : line;
}
