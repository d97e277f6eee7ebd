/**
 * The Helm chart, proven with a real helm (built from source into .cache/bin when missing: minutes on 2 cores, once).
 * A helm that cannot be built fails these tests instead of skipping them: CI must prove the chart.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CHART_DIR, KUBE_VERSION, ROOT, ensureHelm, helmTemplate, runHelm, type Manifest,
} from '../../scripts/helm-check.js';

type Json = Record<string, unknown>;
/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are walked as loose JSON */

const kindOf = (ms: Manifest[], kind: string, name?: string): any => {
  const found = ms.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  expect(found, `${kind}${name ? `/${name}` : ''} rendered once`).toHaveLength(1);
  return found[0];
};
const has = (ms: Manifest[], kind: string) => ms.some((m) => m.kind === kind);
const daemon = (ms: Manifest[]): any => kindOf(ms, 'Deployment').spec.template.spec.containers[0];
const renderedConfig = (ms: Manifest[]): any => parseYaml(kindOf(ms, 'ConfigMap', 'alertbridge').data['config.yaml']);
const templateFails = (args: string[]): string => {
  const res = runHelm(['template', 'alertbridge', CHART_DIR, '--kube-version', KUBE_VERSION, ...args]);
  expect(res.status, 'helm template should fail').not.toBe(0);
  return res.stderr;
};

beforeAll(() => {
  const started = Date.now();
  const { output } = ensureHelm();
  if (/built helm/.test(output)) console.log(`${output.trim()}\n(helm build for the tests: ${Math.round((Date.now() - started) / 1000)} s)`);
}, 15 * 60_000);

describe('scripts/helm-check.sh', () => {
  it('lints, renders and validates the default and full values offline', () => {
    const res = spawnSync('bash', ['scripts/helm-check.sh'], { cwd: ROOT, encoding: 'utf8', timeout: 10 * 60_000 });
    const output = `${res.stdout}${res.stderr}`;
    expect(res.status, output).toBe(0);
    expect(output).toContain('helm-check: OK');
    expect(output).toMatch(/default\.yaml[\s\S]*config OK/);
    expect(output).toMatch(/full-values\.yaml[\s\S]*ServiceMonitor\/alertbridge[\s\S]*config OK: 3 sources/);
  }, 10 * 60_000);
});

describe('default values', () => {
  let ms: Manifest[];
  beforeAll(() => {
    ms = helmTemplate();
  });

  it('runs 2 hardened replicas with the probes, /tmp and the config mount', () => {
    const deploy = kindOf(ms, 'Deployment');
    expect(deploy.spec.replicas).toBe(2);
    const pod = deploy.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    const c = daemon(ms);
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true, runAsUser: 10001, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.args).toEqual(['run', '--config', '/etc/alertbridge/config.yaml']);
    expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(c.volumeMounts).toContainEqual({ name: 'config', mountPath: '/etc/alertbridge/config.yaml', subPath: 'config.yaml', readOnly: true });
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } });
    expect(c.resources.requests).toBeDefined();
  });

  it('gives the drain time to finish: terminationGracePeriodSeconds > preStop sleep + drain_timeout_ms', () => {
    const pod = kindOf(ms, 'Deployment').spec.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(45);
    expect(daemon(ms).lifecycle.preStop.exec.command).toEqual(['/bin/sleep', '5']);
    expect(renderedConfig(ms).pipeline.drain_timeout_ms).toBe(30000);
    const longer = helmTemplate(['--set', 'config.pipeline.drain_timeout_ms=120000']);
    expect(kindOf(longer, 'Deployment').spec.template.spec.terminationGracePeriodSeconds).toBe(135);
    expect(templateFails(['--set', 'terminationGracePeriodSeconds=30'])).toMatch(/terminationGracePeriodSeconds \(30\) must exceed .*35 s/);
  });

  it('renders config exactly as written, plus the chart Redis URL', () => {
    const config = renderedConfig(ms);
    expect(config.redis).toEqual({ url: 'redis://alertbridge-redis:6379/0' });
    expect(config.sinks).toEqual([{ name: 'stdout', type: 'file', path: '-' }]);
    expect(config.server.listen).toBe('0.0.0.0:8080');
  });

  it('deploys a single-node redis:7 with AOF and noeviction, and a Service', () => {
    const sts = kindOf(ms, 'StatefulSet', 'alertbridge-redis');
    const redis = sts.spec.template.spec.containers[0];
    expect(redis.image).toBe('redis:7');
    const args: string[] = redis.args;
    expect(args.join(' ')).toContain('--appendonly yes');
    expect(args.join(' ')).toContain('--maxmemory-policy noeviction');
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('8Gi');
    expect(kindOf(ms, 'Service', 'alertbridge-redis').spec.ports[0].port).toBe(6379);
    expect(kindOf(ms, 'Deployment').spec.template.spec.initContainers[0].name).toBe('wait-for-redis');
  });

  it('has a PDB and no optional extras', () => {
    expect(kindOf(ms, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
    for (const kind of ['Ingress', 'ServiceMonitor', 'HorizontalPodAutoscaler', 'NetworkPolicy']) expect(has(ms, kind), kind).toBe(false);
    expect(ms.filter((m) => m.kind === 'ConfigMap').map((m) => m.metadata.name)).toEqual(['alertbridge']);
  });
});

describe('values', () => {
  it('rolls the pods when config changes, and only then', () => {
    const checksum = (args: string[]) => kindOf(helmTemplate(args), 'Deployment').spec.template.metadata.annotations['checksum/config'];
    const base = checksum([]);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(['--set', 'config.log.level=debug'])).not.toBe(base);
    expect(checksum(['--set', 'replicaCount=3'])).toBe(base);
  });

  it('keeps a Redis URL the user set, and needs one without the chart Redis', () => {
    const own = helmTemplate(['--set', 'config.redis.url=rediss://cache.example.com:6380/2']);
    expect(renderedConfig(own).redis.url).toBe('rediss://cache.example.com:6380/2');
    expect(templateFails(['--set', 'redis.enabled=false'])).toContain('config.redis.url is required when redis.enabled is false');
    const external = helmTemplate(['--set', 'redis.enabled=false', '--set', 'config.redis.url=redis://redis-sentinel.example:6379/0']);
    expect(has(external, 'StatefulSet')).toBe(false);
    expect(kindOf(external, 'Deployment').spec.template.spec.initContainers).toBeUndefined();
    expect(renderedConfig(external).redis).toEqual({ url: 'redis://redis-sentinel.example:6379/0' });
  });

  it('passes the chart Redis password through the environment', () => {
    const ms = helmTemplate(['--set', 'redis.auth.enabled=true', '--set', 'redis.auth.existingSecret=rpw']);
    expect(renderedConfig(ms).redis.password).toBe('${ALERTBRIDGE_REDIS_PASSWORD}');
    expect(daemon(ms).env).toContainEqual({ name: 'ALERTBRIDGE_REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'rpw', key: 'redis-password' } } });
    expect(kindOf(ms, 'StatefulSet').spec.template.spec.containers[0].args).toContain('--requirepass');
    expect(templateFails(['--set', 'redis.auth.enabled=true'])).toContain('redis.auth.existingSecret is required');
  });

  it('exposes existingSecret as env vars and as files under /etc/alertbridge/secrets', () => {
    const ms = helmTemplate(['--set', 'existingSecret=ab-secrets']);
    const c = daemon(ms);
    expect(c.envFrom).toEqual([{ secretRef: { name: 'ab-secrets' } }]);
    expect(c.volumeMounts).toContainEqual({ name: 'secrets', mountPath: '/etc/alertbridge/secrets', readOnly: true });
    expect(kindOf(ms, 'Deployment').spec.template.spec.volumes).toContainEqual({ name: 'secrets', secret: { secretName: 'ab-secrets', defaultMode: 0o440 } });
    const filesOnly = daemon(helmTemplate(['--set', 'existingSecret=ab-secrets', '--set', 'existingSecretEnv=false']));
    expect(filesOnly.envFrom).toBeUndefined();
  });

  it('switches on Ingress (webhook routes only), ServiceMonitor, HPA and the dashboard', () => {
    const ms = helmTemplate(['-f', join(ROOT, 'helm/ci/full-values.yaml')]);
    const ingress = kindOf(ms, 'Ingress');
    expect(ingress.spec.rules[0].http.paths.map((p: Json) => p.path)).toEqual(['/webhooks/graph', '/ingest']);
    expect(ingress.spec.tls[0].hosts).toEqual(['alerts.example.com']);
    const sm = kindOf(ms, 'ServiceMonitor');
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'http', path: '/metrics' });
    expect(sm.metadata.labels.release).toBe('kube-prometheus-stack');
    const hpa = kindOf(ms, 'HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(kindOf(ms, 'Deployment').spec.replicas).toBeUndefined();
    const dashboard = kindOf(ms, 'ConfigMap', 'alertbridge-dashboard');
    expect(dashboard.metadata.labels.grafana_dashboard).toBe('1');
    expect(JSON.parse(dashboard.data['alertbridge.json']).uid).toBe('alertbridge-overview');
    expect(kindOf(ms, 'Deployment').spec.template.spec.terminationGracePeriodSeconds).toBe(90);
  });

  it('refuses a listen port other than containerPort, and server.enabled: false', () => {
    expect(templateFails(['--set', 'config.server.listen=0.0.0.0:9090'])).toContain('must use containerPort (8080)');
    const moved = helmTemplate(['--set', 'config.server.listen=0.0.0.0:9090', '--set', 'containerPort=9090']);
    expect(daemon(moved).ports[0].containerPort).toBe(9090);
    expect(templateFails(['--set', 'config.server.enabled=false'])).toContain('config.server.enabled must stay true');
  });

  it('values.schema.json checks config with the alertbridge schema, and allows ${VAR}', () => {
    expect(templateFails(['--set', 'replicaCont=3'])).toMatch(/Additional property replicaCont is not allowed/);
    expect(templateFails(['--set', 'config.pipeline.drain_timeout=1'])).toMatch(/Additional property drain_timeout is not allowed/);
    expect(templateFails(['--set', 'config.log.level=loud'])).toMatch(/config\.log\.level/);
    expect(templateFails(['--set-json', 'config.sinks=[{"name":"x","type":"file","pth":"-"}]'])).toMatch(/config\.sinks\.0/);
    const withVars = helmTemplate([
      '--set', 'config.log.level=${LOG_LEVEL:-info}',
      '--set', 'config.redis.url=${REDIS_URL}',
      '--set-json', 'config.sources=[{"name":"c","type":"graph_security","tenant_id":"${TENANT}","client_id":"${CLIENT}","client_secret":"${SECRET}","poll_interval_ms":"${POLL_MS}"}]',
    ]);
    expect(renderedConfig(withVars).sources[0].tenant_id).toBe('${TENANT}');
  });

  it('renders NOTES with the metrics URL, the webhook public_url and readiness', () => {
    const dir = mkdtempSync(join(tmpdir(), 'alertbridge-notes-'));
    try {
      // helm template does not print NOTES.txt: render it as a ConfigMap in a copy of the chart.
      cpSync(CHART_DIR, join(dir, 'alertbridge'), { recursive: true });
      const notes = readFileSync(join(CHART_DIR, 'templates/NOTES.txt'), 'utf8');
      writeFileSync(join(dir, 'alertbridge/templates/_notes.tpl'), `{{- define "test.notes" -}}\n${notes}\n{{- end -}}\n`);
      writeFileSync(join(dir, 'alertbridge/templates/zz-notes.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n    {{- include "test.notes" . | nindent 4 }}\n');
      const render = (args: string[]) => String(kindOf(helmTemplate(args, join(dir, 'alertbridge')), 'ConfigMap', 'notes').data.notes);
      const plain = render([]);
      expect(plain).toContain('/readyz');
      expect(plain).toContain('http://alertbridge.security.svc:8080/metrics');
      expect(plain).toContain('config.server.public_url');
      expect(plain).toContain('single node');
      const full = render(['-f', join(ROOT, 'helm/ci/full-values.yaml')]);
      expect(full).toContain('Set config.server.public_url to https://alerts.example.com');
      expect(full).toContain('https://alerts.example.com/webhooks/graph/<source name>');
      expect(full).toContain('ServiceMonitor scrapes it every 30s');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
