/**
 * `alertbridge tenants consent-url` (the admin-consent URL a customer's administrator opens, in the source's cloud)
 * and `tenants list` (each tenant with its budget, cursors and failures, read from Redis).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { tenantsCommand } from '../../src/cli/tenants.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { keysFor } from '../../src/pipeline/keys.js';
import { RequestBudget } from '../../src/sources/graph/budget.js';
import { runCli } from '../helpers/cli.js';
import { e2eWorkspace } from '../helpers/e2e.js';
import { silentLogger } from '../helpers/pipeline.js';
import { redisUrl } from '../helpers/redis.js';

const A = '11111111-2222-3333-4444-555555555555';
const B = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const CLIENT = '66666666-7777-8888-9999-000000000000';
const { dir, prefix } = e2eWorkspace('tenants-cli');

function yaml(cloud = 'global'): string {
  return `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
sources:
  - name: mssp
    type: graph_security
    client_id: ${CLIENT}
    client_secret: s3cret
    cloud: ${cloud}
    resources: [alerts_v2, incidents]
    tenants:
      - { name: contoso, tenant_id: ${A} }
      - { name: fabrikam, tenant_id: fabrikam.onmicrosoft.com, resources: [alerts_v2], request_budget_per_minute: 40 }
  - { name: single, type: graph_security, tenant_id: ${B}, client_id: ${CLIENT}, client_secret: s }
sinks: [{ name: out, type: file, path: "-" }]
`;
}

function load(cloud?: string): Readonly<Config> {
  const res = parseConfig(yaml(cloud), { baseDir: dir, env: {} });
  if (!res.ok) throw new Error(res.errors.join('\n'));
  return res.config;
}

async function run(action: 'list' | 'consent-url', config: Readonly<Config>, opts: Record<string, unknown>) {
  const out: string[] = [];
  const err: string[] = [];
  await tenantsCommand(action, config, silentLogger, {
    ...opts,
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  return { out, err };
}

const redis = new Redis(redisUrl());
afterAll(() => redis.quit());

describe('tenants consent-url', () => {
  it('prints the v2 admin-consent URL of the source’s app for any organization, a listed tenant or a new one', async () => {
    const config = load();
    const graphScope = encodeURIComponent('https://graph.microsoft.com/.default');
    const any = await run('consent-url', config, { source: 'mssp', redirectUri: 'https://alerts.example.com/ok' });
    expect(any.out).toEqual([
      `https://login.microsoftonline.com/organizations/v2.0/adminconsent?client_id=${CLIENT}&scope=${graphScope}&redirect_uri=${encodeURIComponent('https://alerts.example.com/ok')}`,
    ]);
    expect(any.err).toEqual([]);
    const listed = await run('consent-url', config, { source: 'mssp', tenant: 'fabrikam', state: 'fabrikam' });
    expect(listed.out).toEqual([
      `https://login.microsoftonline.com/fabrikam.onmicrosoft.com/v2.0/adminconsent?client_id=${CLIENT}&scope=${graphScope}&state=fabrikam`,
    ]);
    expect(listed.err[0]).toMatch(/^note: no --redirect-uri/);
    const fresh = await run('consent-url', config, { source: 'mssp', tenantId: B });
    expect(fresh.out[0]).toMatch(new RegExp(`^https://login\\.microsoftonline\\.com/${B}/v2\\.0/adminconsent\\?`));
    // A plain source: its own tenant.
    const single = await run('consent-url', config, { source: 'single' });
    expect(single.out[0]).toMatch(new RegExp(`^https://login\\.microsoftonline\\.com/${B}/v2\\.0/adminconsent\\?`));
  });

  it('uses the login and Graph hosts of the source’s national cloud', async () => {
    const { out } = await run('consent-url', load('usgov'), { source: 'mssp', tenant: 'contoso' });
    expect(out).toEqual([
      `https://login.microsoftonline.us/${A}/v2.0/adminconsent?client_id=${CLIENT}&scope=${encodeURIComponent('https://graph.microsoft.us/.default')}`,
    ]);
    const china = await run('consent-url', load('china'), { source: 'mssp' });
    expect(china.out[0]).toMatch(/^https:\/\/login\.chinacloudapi\.cn\/organizations\/v2\.0\/adminconsent\?/);
    expect(china.out[0]).toContain(encodeURIComponent('https://microsoftgraph.chinacloudapi.cn/.default'));
  });

  it('refuses an unknown source or tenant and a malformed tenant id, through the real CLI (exit 1)', async () => {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, yaml());
    const ok = await runCli(['tenants', 'consent-url', '-c', file, '-s', 'mssp', '--tenant', 'contoso']);
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toMatch(new RegExp(`^https://login\\.microsoftonline\\.com/${A}/v2\\.0/adminconsent\\?`));
    const badTenant = await runCli(['tenants', 'consent-url', '-c', file, '-s', 'mssp', '--tenant', 'nobody']);
    expect(badTenant).toMatchObject({ code: 1 });
    expect(badTenant.stderr).toContain('--tenant: source "mssp" has no tenant named "nobody" (contoso, fabrikam)');
    await expect(run('consent-url', load(), { source: 'mssp', tenantId: 'common' })).rejects.toThrow(
      '--tenant-id: must be a tenant GUID or verified domain',
    );
    await expect(run('consent-url', load(), { source: 'nope' })).rejects.toThrow(
      '--source: no graph_security source named "nope" in the config (mssp, single)',
    );
  });
});

describe('tenants list', () => {
  it('shows each tenant with its own budget use and cursor state', async () => {
    const config = load();
    const keys = keysFor(prefix);
    await new RequestBudget(redis, keys.budget(A, CLIENT), 150).take();
    await new RequestBudget(redis, keys.budget(A, CLIENT), 150).take();
    await redis.hset(keys.cursor('mssp/contoso', 'alerts_v2'), { watermark: '2026-12-01T00:00:00.000Z' });
    await redis.hset(keys.cursor('mssp/contoso', 'incidents'), { watermark: '2026-12-02T00:00:00.000Z' });
    await redis.hset(keys.cursor('mssp/fabrikam', 'alerts_v2'), {
      failing_since: String(Date.parse('2026-12-03T01:00:00Z')),
      last_error: "getting a token failed: AADSTS7000229: the app's service principal is missing",
    });
    const json = await run('list', config, { source: 'mssp', json: true });
    expect(json.out.map((l) => JSON.parse(l) as unknown)).toEqual([
      {
        source: 'mssp',
        tenant: 'contoso',
        name: 'mssp/contoso',
        tenant_id: A,
        budget: { used_last_minute: 2, per_minute: 150 },
        resources: [
          { resource: 'alerts_v2', watermark: '2026-12-01T00:00:00.000Z' },
          { resource: 'incidents', watermark: '2026-12-02T00:00:00.000Z' },
        ],
      },
      {
        source: 'mssp',
        tenant: 'fabrikam',
        name: 'mssp/fabrikam',
        tenant_id: 'fabrikam.onmicrosoft.com',
        budget: { used_last_minute: 0, per_minute: 40 },
        resources: [
          {
            resource: 'alerts_v2',
            failing_since: '2026-12-03T01:00:00.000Z',
            last_error: "getting a token failed: AADSTS7000229: the app's service principal is missing",
          },
        ],
      },
    ]);
    const table = await run('list', config, {});
    expect(table.out).toEqual([
      'SOURCE  TENANT    TENANT ID                             BUDGET  STATE',
      `mssp    contoso   ${A}  2/150   ok, read up to 2026-12-01T00:00:00.000Z`,
      "mssp    fabrikam  fabrikam.onmicrosoft.com              0/40    failing: alerts_v2 since 2026-12-03T01:00:00.000Z (getting a token failed: AADSTS7000229: the app's service principal is missing)",
      `single  -         ${B}  0/150   not polled yet: alerts_v2, incidents`,
    ]);
  });
});
