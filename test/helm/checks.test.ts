/**
 * What proves the chart without running helm: the generated values schema is current, the offline validators of
 * scripts/helm-check.ts catch what they claim to, and the dashboard queries real metrics.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Metrics } from '../../src/observability/metrics.js';
import {
  ENV_REFERENCE_PATTERN, HELM_SCHEMA_PATH, helmConfigSchema, relaxForEnvReferences, renderHelmSchema,
} from '../../scripts/gen-helm-schema.js';
import {
  ROOT, checkReferences, checkServiceMonitor, parseManifests, validateManifest, validateRenderedConfig, type Manifest,
} from '../../scripts/helm-check.js';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

function deployment(overrides: { volumeName?: string; containerPort?: unknown; probePort?: string } = {}): Manifest {
  const labels = { app: 'ab' };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'ab', labels },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [{
            name: 'ab', image: 'ab:1',
            ports: [{ name: 'http', containerPort: overrides.containerPort ?? 8080 }],
            readinessProbe: { httpGet: { path: '/readyz', port: overrides.probePort ?? 'http' } },
            volumeMounts: [{ name: overrides.volumeName ?? 'tmp', mountPath: '/tmp' }],
          }],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}
const service = (targetPort = 'http'): Manifest => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'ab', labels: { app: 'ab' } },
  spec: { selector: { app: 'ab' }, ports: [{ name: 'http', port: 8080, targetPort }] },
});

describe('values.schema.json', () => {
  it('is generated from the configuration schema and up to date (npx tsx scripts/gen-helm-schema.ts)', () => {
    expect(read(HELM_SCHEMA_PATH) === renderHelmSchema(), `${HELM_SCHEMA_PATH} is stale: run npx tsx scripts/gen-helm-schema.ts`).toBe(true);
  });

  it('is draft-07 and keeps the config rules, relaxed for ${VAR} only', () => {
    const schema = JSON.parse(read(HELM_SCHEMA_PATH));
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const config = helmConfigSchema() as { additionalProperties: boolean; required: string[]; properties: Record<string, unknown> };
    expect(config.additionalProperties).toBe(false);
    expect(config.required).toEqual(['sinks']);
    const pattern = new RegExp(ENV_REFERENCE_PATTERN);
    expect(pattern.test('${TENANT}')).toBe(true);
    expect(pattern.test('127.0.0.1:${PORT:-8080}')).toBe(true);
    expect(pattern.test('contoso')).toBe(false);
    expect(relaxForEnvReferences({ type: 'integer', minimum: 1, description: 'd', default: 5 })).toEqual({
      description: 'd', default: 5, anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: ENV_REFERENCE_PATTERN }],
    });
    expect(relaxForEnvReferences({ type: 'string', const: 'file' })).toEqual({ type: 'string', const: 'file' });
    expect(relaxForEnvReferences({ type: 'string', minLength: 1 })).toEqual({ type: 'string', minLength: 1 });
  });
});

describe('offline manifest checks', () => {
  it('accepts a valid object and reports schema violations with their path', async () => {
    expect(await validateManifest(deployment())).toEqual([]);
    const problems = await validateManifest(deployment({ containerPort: 'eighty' }));
    expect(problems.join('\n')).toContain('Deployment/ab: /spec/template/spec/containers/0/ports/0/containerPort must be integer');
  });

  it('knows no schema for an unknown kind', async () => {
    expect(await validateManifest({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }))
      .toEqual(['Widget/w: no Kubernetes schema for example.com/v1 Widget']);
  });

  it('checks the ServiceMonitor by hand', () => {
    const sm = (endpoint: Record<string, unknown>, extra: Record<string, unknown> = {}): Manifest => ({
      apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'ab' },
      spec: { selector: { matchLabels: { app: 'ab' } }, endpoints: [endpoint], ...extra },
    });
    expect(checkServiceMonitor(sm({ port: 'http', path: '/metrics', interval: '30s' }))).toEqual([]);
    expect(checkServiceMonitor(sm({ port: 8080, path: 'metrics', interval: 'often', bogus: 1 }, { selectr: {} }))).toEqual([
      'spec.selectr: unknown field',
      'spec.endpoints[0].bogus: unknown field',
      'spec.endpoints[0].port: must be a port name (string)',
      'spec.endpoints[0].path: must start with /',
      'spec.endpoints[0].interval: must be a duration like 30s',
    ]);
  });

  it('finds broken references between objects', () => {
    expect(checkReferences([deployment(), service()])).toEqual([]);
    expect(checkReferences([deployment({ volumeName: 'cache', probePort: 'metrics' }), service('web')])).toEqual([
      'Deployment/ab: container ab mounts unknown volume cache',
      'Deployment/ab: readinessProbe names unknown port metrics',
      'Service/ab: targetPort web is no container port',
    ]);
    const orphan: Manifest = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { selector: { app: 'nothing' }, ports: [] } };
    expect(checkReferences([deployment(), orphan])).toEqual(['Service/x: selects 0 workloads, expected 1']);
  });

  it('parses helm template output, skipping empty documents', () => {
    const ms = parseManifests('---\n# Source: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n');
    expect(ms.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual(['ConfigMap/a']);
  });
});

describe('rendered config through alertbridge validate', () => {
  it('passes with dummy ${VAR} values and *_file files under /etc/alertbridge', () => {
    const res = validateRenderedConfig([
      'redis: { url: "redis://r:6379/0", password: "${REDIS_PASSWORD}" }',
      'sources:',
      '  - { name: partner, type: webhook, token_file: /etc/alertbridge/secrets/partner-token, hmac_secret_file: secrets/hmac }',
      'sinks:',
      '  - { name: eh, type: azure_event_hubs, connection_string_file: /etc/alertbridge/secrets/eh, event_hub_name: alerts }',
    ].join('\n'));
    expect(res.output).toMatch(/^config OK: 1 source/);
    expect(res.ok).toBe(true);
  }, 120_000);

  it('fails with every problem of a bad config', () => {
    const res = validateRenderedConfig('sinks:\n  - { name: s, type: file }\nbogus: 1\n');
    expect(res.ok).toBe(false);
    expect(res.output).toContain('bogus');
    expect(res.output).toContain('sinks[0].path');
  }, 120_000);
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(read('helm/alertbridge/dashboards/alertbridge.json'));
  const exprs: string[] = dashboard.panels.flatMap((p: { targets?: { expr: string }[] }) => (p.targets ?? []).map((t) => t.expr));

  it('covers the CONTRACT.md metrics', () => {
    const all = exprs.join('\n');
    for (const metric of [
      'alertbridge_records_ingested_total', 'alertbridge_records_duplicate_total', 'alertbridge_records_delivered_total',
      'alertbridge_delivery_errors_total', 'alertbridge_dead_letters', 'alertbridge_queue_depth',
      'alertbridge_graph_requests_total', 'alertbridge_graph_throttled_total', 'alertbridge_poll_lag_seconds',
      'alertbridge_delivery_latency_seconds_bucket', 'alertbridge_sink_ready',
    ]) expect(all, metric).toContain(metric);
    expect(all).toMatch(/histogram_quantile\(0\.5,/);
    expect(all).toMatch(/histogram_quantile\(0\.99,/);
  });

  it('queries only metrics that alertbridge registers (its own and the process metrics)', async () => {
    const metrics = new Metrics();
    metrics.addAsyncGauges({ queueDepth: async () => ({}), deadLetters: async () => ({}) });
    const registered = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
    const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(alertbridge_[a-z_]+)/g)].map((m) => m[1]!)));
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(registered.has(name.replace(/_bucket$/, '')), name).toBe(true);
  });

  it('has unique panel ids and a datasource variable', () => {
    const ids = dashboard.panels.map((p: { id: number }) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.map((v: { name: string }) => v.name)).toContain('datasource');
  });
});

describe('chart metadata', () => {
  it('Chart.yaml appVersion follows package.json', () => {
    const chart = parseYaml(read('helm/alertbridge/Chart.yaml'));
    expect(chart.apiVersion).toBe('v2');
    expect(chart.appVersion).toBe(JSON.parse(read('package.json')).version);
  });
});
