/**
 * `tenants` on a graph_security source: each entry becomes a source of its own (`{source}/{tenant}`) with the
 * source's credentials and its own overrides; every bad entry is reported at its path.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, summarizeConfig, type LoadResult } from '../../src/config/load.js';
import { retirementWarnings } from '../../src/config/retirement.js';
import type { Config, GraphSourceConfig } from '../../src/config/schema.js';

const A = '11111111-2222-3333-4444-555555555555';
const B = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const CLIENT = '66666666-7777-8888-9999-000000000000';

function parse(text: string): LoadResult {
  return parseConfig(text, { env: { SECRET: 's3cret' }, baseDir: '/tmp' });
}

function ok(result: LoadResult): Readonly<Config> {
  if (!result.ok) throw new Error(`expected a valid config, got:\n${result.errors.join('\n')}`);
  return result.config;
}

function errors(result: LoadResult): string[] {
  if (result.ok) throw new Error('expected errors');
  return result.errors;
}

/** A config with one multi-tenant source; `source` and `tenants` are YAML lines indented for their place. */
function config(tenants: string, source = '', extra = ''): string {
  return `
sources:
  - name: mssp
    type: graph_security
    client_id: ${CLIENT}
    client_secret: \${SECRET}
    resources: [alerts_v2, incidents]
${source}    tenants:
${tenants}${extra}
sinks: [{ name: out, type: file, path: "-" }]
`;
}

const graph = (c: Readonly<Config>): GraphSourceConfig[] =>
  c.sources.flatMap((s) => (s.type === 'graph_security' ? [s] : []));

describe('tenants: expansion', () => {
  it('runs each tenant as a source of its own, with the source’s credentials and its own overrides', () => {
    const c = ok(
      parse(
        config(
          `      - { name: contoso, tenant_id: ${A} }
      - name: fabrikam
        tenant_id: fabrikam.onmicrosoft.com
        resources: [alerts_v2]
        poll_schedule: "*/5 * * * *"
        request_budget_per_minute: 40
        filter: { severity: [high] }
`,
          '    poll_interval_ms: 30000\n    page_size: 200\n',
        ),
      ),
    );
    const [contoso, fabrikam] = graph(c);
    expect(c.sources.map((s) => s.name)).toEqual(['mssp/contoso', 'mssp/fabrikam']);
    expect(contoso).toMatchObject({
      tenant_id: A,
      client_id: CLIENT,
      client_secret: 's3cret',
      auth: 'client_secret',
      graph_url: 'https://graph.microsoft.com',
      resources: ['alerts_v2', 'incidents'],
      poll_interval_ms: 30000,
      page_size: 200,
      request_budget_per_minute: 150,
      tenant_of: { source: 'mssp', tenant: 'contoso' },
    });
    expect(contoso!.tenants).toBeUndefined();
    expect(contoso!.poll_schedule).toBeUndefined();
    expect(fabrikam).toMatchObject({
      tenant_id: 'fabrikam.onmicrosoft.com',
      resources: ['alerts_v2'],
      poll_schedule: '*/5 * * * *',
      page_size: 200,
      request_budget_per_minute: 40,
      filter: { severity: ['high'] },
      tenant_of: { source: 'mssp', tenant: 'fabrikam' },
    });
    // A schedule of the tenant's replaces the source's interval, which would otherwise conflict with it.
    expect(fabrikam!.poll_interval_ms).toBeUndefined();
    expect(summarizeConfig(c)).toBe('config OK: 1 source (mssp: graph_security, 2 tenants), 1 sink (out: file)');
  });

  it('lets sink filters and a defender_streaming source name the source or one of its tenants', () => {
    const c = ok(
      parse(
        config(
          `      - { name: contoso, tenant_id: ${A} }
      - { name: fabrikam, tenant_id: ${B} }
`,
          '',
          `  - { name: stream, type: defender_streaming, connection_string: "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=l;SharedAccessKey=k;EntityPath=h", graph_source: mssp }
  - { name: stream2, type: defender_streaming, connection_string: "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=l;SharedAccessKey=k;EntityPath=h", graph_source: mssp/fabrikam, consumer_group: other }`,
        ).replace(
          'sinks: [{ name: out, type: file, path: "-" }]',
          'sinks: [{ name: out, type: file, path: "-", filter: { sources: [mssp, mssp/contoso] } }]',
        ),
      ),
    );
    expect(c.sources.map((s) => s.name)).toEqual(['mssp/contoso', 'mssp/fabrikam', 'stream', 'stream2']);
  });
});

describe('tenants: validation, every problem by path', () => {
  it('rejects bad and duplicate entries', () => {
    expect(
      errors(
        parse(
          config(
            `      - { name: contoso, tenant_id: ${A} }
      - { name: Contoso_Ltd, tenant_id: not a tenant }
      - { name: contoso, tenant_id: ${A.toUpperCase()} }
      - { name: common, tenant_id: common }
      - { tenant_id: ${B}, client_secret: x, cloud: usgov }
      - { name: late, tenant_id: late.example.com, poll_interval_ms: 5000, poll_schedule: "* * * * *" }
      - { name: nofilter, tenant_id: nofilter.example.com, resources: [incidents], filter: { service_source: [microsoftDefenderForEndpoint] } }
      - { name: budget, tenant_id: budget.example.com, request_budget_per_minute: 0, page_size: 5000 }
`,
          ),
        ),
      ),
    ).toEqual([
      'sources[0].tenants[1].name: must be lowercase letters, digits, "_" or "-", starting with a letter or digit',
      'sources[0].tenants[1].tenant_id: must be a tenant GUID or domain (e.g. contoso.onmicrosoft.com)',
      'sources[0].tenants[2].name: duplicate tenant name "contoso" (also tenants[0])',
      `sources[0].tenants[2].tenant_id: duplicate tenant_id "${A.toUpperCase()}" (also tenants[0])`,
      'sources[0].tenants[3].tenant_id: must be a tenant GUID or domain (e.g. contoso.onmicrosoft.com)',
      'sources[0].tenants[4].name: required',
      'sources[0].tenants[4].client_secret: unknown key',
      'sources[0].tenants[4].cloud: unknown key',
      'sources[0].tenants[5].poll_schedule: set either poll_interval_ms or poll_schedule, not both',
      'sources[0].tenants[6].filter.service_source: applies to alerts_v2 only, which this tenant does not read',
      'sources[0].tenants[7].request_budget_per_minute: must be at least 1',
      'sources[0].tenants[7].page_size: must be at most 1000',
    ]);
  });

  it('rejects tenants beside tenant_id, with a managed identity, empty, or with Kafka write-back input', () => {
    expect(
      errors(
        parse(
          config(
            '      []\n',
            `    tenant_id: ${A}\n    auth: managed_identity\n    sync: { enabled: true, token: t, kafka: { brokers: ["k:9092"], topic: changes } }\n`,
          ).replace('    client_secret: ${SECRET}\n', ''),
        ),
      ),
    ).toEqual([
      'sources[0].tenant_id: not used with tenants: each entry of tenants has its own tenant_id',
      'sources[0].auth: a managed identity belongs to one tenant: tenants need a multi-tenant app registration (client_secret, certificate or workload_identity)',
      'sources[0].sync.kafka: not available with tenants (each tenant would read the same topic): send changes to POST /sync/{source}',
      'sources[0].tenants: must not be empty',
    ]);
  });

  it('still requires tenant_id without tenants', () => {
    expect(
      errors(parse(config('').replace('    tenants:\n', ''))).filter((e) => e.startsWith('sources[0].tenant_id')),
    ).toEqual(['sources[0].tenant_id: required (or list the customer tenants in tenants)']);
  });

  it('checks what names the tenants: sink filters and defender_streaming', () => {
    expect(
      errors(
        parse(
          config(
            `      - { name: contoso, tenant_id: contoso.example.com }\n`,
            '',
            `  - { name: stream, type: defender_streaming, connection_string: "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=l;SharedAccessKey=k;EntityPath=h", graph_source: mssp }`,
          ).replace(
            'sinks: [{ name: out, type: file, path: "-" }]',
            'sinks: [{ name: out, type: file, path: "-", filter: { sources: [mssp/nobody] } }]',
          ),
        ),
      ),
    ).toEqual([
      'sources[1].graph_source: its tenant_id "contoso.example.com" is a domain; streamed events name the tenant by GUID: give that source its tenant GUID',
      'sinks[0].filter.sources[0]: unknown source "mssp/nobody" (configured sources: mssp, stream)',
    ]);
  });
});

describe('tenants: legacy alerts retirement warning', () => {
  it('warns once for the source as written, at its index, whichever tenants read legacy alerts', () => {
    const c = ok(
      parse(
        `
sources:
  - { name: partner, type: webhook, token: t }
  - name: mssp
    type: graph_security
    client_id: ${CLIENT}
    client_secret: s
    tenants:
      - { name: a, tenant_id: ${A}, resources: [alerts] }
      - { name: b, tenant_id: ${B}, resources: [alerts, alerts_v2] }
      - { name: c, tenant_id: c.example.com }
  - { name: solo, type: graph_security, tenant_id: ${A}, client_id: ${CLIENT}, client_secret: s, resources: [alerts] }
sinks: [{ name: out, type: file, path: "-" }]
`,
      ),
    );
    expect(retirementWarnings(c, new Date('2026-01-01T00:00:00Z')).map((w) => w.slice(0, w.indexOf(' use ')))).toEqual([
      'warning: sources[1] (mssp): legacy `alerts`',
      'warning: sources[2] (solo): legacy `alerts`',
    ]);
  });
});
