/**
 * The Helm chart, proven with a real helm (built from source into .cache/bin when missing: minutes on 2 cores, once).
 * A helm that cannot be built fails these tests instead of skipping them: CI must prove the chart.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
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

const freePort = (): Promise<number> => new Promise((resolve) => {
  const srv = createServer().listen(0, '127.0.0.1', () => {
    const { port } = srv.address() as { port: number };
    srv.close(() => resolve(port));
  });
});

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
    expect(config.redis).toEqual({ url: 'redis://alertbridge-redis:6379/0', password_file: '/etc/alertbridge/redis/password' });
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
    for (const kind of ['Ingress', 'ServiceMonitor', 'HorizontalPodAutoscaler']) expect(has(ms, kind), kind).toBe(false);
    expect(ms.filter((m) => m.kind === 'ConfigMap').map((m) => m.metadata.name)).toEqual(['alertbridge']);
  });
});

describe('Redis secured by default', () => {
  let ms: Manifest[];
  beforeAll(() => {
    ms = helmTemplate();
  });
  const redisContainer = (m: Manifest[]): any => kindOf(m, 'StatefulSet', 'alertbridge-redis').spec.template.spec.containers[0];
  const generated = (m: Manifest[]): string => Buffer.from(kindOf(m, 'Secret', 'alertbridge-redis').data['redis-password'], 'base64').toString();

  it('generates the password into a Secret when none is given (random per install)', () => {
    expect(generated(ms)).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(generated(helmTemplate())).not.toBe(generated(ms)); // `helm template` has no cluster: lookup finds nothing
  });

  it('keeps the password of the Secret already in the cluster on upgrade (lookup)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'alertbridge-lookup-'));
    try {
      // helm template cannot reach a cluster: stand in for lookup's answer, the Secret as an install left it.
      cpSync(CHART_DIR, join(dir, 'alertbridge'), { recursive: true });
      const helpers = join(dir, 'alertbridge/templates/_helpers.tpl');
      const text = readFileSync(helpers, 'utf8');
      const stubbed = text.replace(/\(lookup "v1" "Secret" [^()]*\([^()]*\)\)/, '(dict "data" (dict "redis-password" "a2VwdC1wYXNzd29yZA=="))');
      expect(stubbed).not.toBe(text);
      writeFileSync(helpers, stubbed);
      expect(generated(helmTemplate([], join(dir, 'alertbridge')))).toBe('kept-password');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never puts the password on a command line: redis-server reads a config file, the probes REDISCLI_AUTH', () => {
    const redis = redisContainer(ms);
    expect(redis.env).toEqual([{ name: 'REDISCLI_AUTH', valueFrom: { secretKeyRef: { name: 'alertbridge-redis', key: 'redis-password' } } }]);
    const lines = JSON.stringify([redis.command, redis.args, redis.livenessProbe, redis.readinessProbe]);
    expect(lines).not.toMatch(/requirepass"|--requirepass|-a\b|\$\(REDIS/);
    expect(redis.command.slice(0, 2)).toEqual(['sh', '-c']);
    expect(redis.command[2]).toContain('exec redis-server /run/redis/auth.conf "$@"');
    expect(redis.volumeMounts).toContainEqual({ name: 'auth', mountPath: '/run/redis' });
    expect(kindOf(ms, 'StatefulSet').spec.template.spec.volumes).toContainEqual({ name: 'auth', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
  });

  it('gives alertbridge the password as a file (config.redis.password_file), not on its command line', () => {
    expect(renderedConfig(ms).redis.password_file).toBe('/etc/alertbridge/redis/password');
    expect(daemon(ms).volumeMounts).toContainEqual({ name: 'redis-password', mountPath: '/etc/alertbridge/redis', readOnly: true });
    expect(kindOf(ms, 'Deployment').spec.template.spec.volumes).toContainEqual({
      name: 'redis-password', secret: { secretName: 'alertbridge-redis', items: [{ key: 'redis-password', path: 'password' }], defaultMode: 0o440 },
    });
  });

  it('lets only alertbridge pods reach Redis; alertbridge\'s HTTP port stays open unless ingressFrom restricts it', () => {
    const redisPolicy = kindOf(ms, 'NetworkPolicy', 'alertbridge-redis');
    expect(redisPolicy.spec.podSelector.matchLabels).toEqual(kindOf(ms, 'StatefulSet').spec.selector.matchLabels);
    expect(redisPolicy.spec.ingress).toEqual([{
      from: [{ podSelector: { matchLabels: kindOf(ms, 'Deployment').spec.selector.matchLabels } }], ports: [{ port: 'redis', protocol: 'TCP' }],
    }]);
    expect(kindOf(ms, 'NetworkPolicy', 'alertbridge').spec.ingress).toEqual([{ ports: [{ port: 'http', protocol: 'TCP' }] }]);
    const ingressNs = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } };
    const backup = { podSelector: { matchLabels: { app: 'redis-backup' } } };
    const restricted = helmTemplate(['--set-json', `networkPolicy.ingressFrom=[${JSON.stringify(ingressNs)}]`, '--set-json', `networkPolicy.redisFrom=[${JSON.stringify(backup)}]`]);
    expect(kindOf(restricted, 'NetworkPolicy', 'alertbridge').spec.ingress[0].from).toEqual([ingressNs]);
    expect(kindOf(restricted, 'NetworkPolicy', 'alertbridge-redis').spec.ingress[0].from).toHaveLength(2);
    expect(kindOf(restricted, 'NetworkPolicy', 'alertbridge-redis').spec.ingress[0].from[1]).toEqual(backup);
    expect(has(helmTemplate(['--set', 'networkPolicy.enabled=false']), 'NetworkPolicy')).toBe(false);
  });

  it('the start script and the probe work against a real redis-server, whatever the password holds', async () => {
    const redis = redisContainer(ms);
    const dir = mkdtempSync(join(tmpdir(), 'alertbridge-redis-auth-'));
    const port = await freePort();
    const password = 'p"a\\ss word$(id)`x`';
    const script = String(redis.command[2]).replaceAll('/run/redis', dir);
    const child = spawn('sh', ['-c', script, 'redis-server', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no'], {
      env: { PATH: process.env.PATH, REDISCLI_AUTH: password }, stdio: 'ignore',
    });
    try {
      const cli = (env: NodeJS.ProcessEnv, ...args: string[]) =>
        spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
      await waitFor(() => /PONG|NOAUTH/.test(cli({}, 'ping').stdout), { what: 'redis-server started by the chart script' });
      expect(cli({}, 'ping').stdout).toMatch(/NOAUTH/);
      expect(cli({ REDISCLI_AUTH: 'wrong' }, 'ping').stdout).not.toMatch(/PONG/);
      expect(cli({ REDISCLI_AUTH: password }, 'ping').stdout.trim()).toBe('PONG');
      const probe = String(redis.readinessProbe.exec.command[2]).replace('-h 127.0.0.1', `-h 127.0.0.1 -p ${port}`);
      expect(spawnSync('sh', ['-c', probe], { env: { PATH: process.env.PATH, REDISCLI_AUTH: password } }).status).toBe(0);
      expect(spawnSync('sh', ['-c', probe], { env: { PATH: process.env.PATH } }).status).not.toBe(0);
      // the exec'ed redis-server is the same process: its command line holds no password
      expect(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8')).not.toContain('ss word');
      expect(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8')).toMatch(/^redis-server /);
      expect(statSync(join(dir, 'auth.conf')).mode & 0o777).toBe(0o600);
    } finally {
      child.kill();
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
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
    expect(templateFails(['--set', 'redis.enabled=false'])).toContain('config.redis.url, config.redis.sentinel or config.redis.cluster is required when redis.enabled is false');
    const external = helmTemplate(['--set', 'redis.enabled=false', '--set', 'config.redis.url=redis://redis-sentinel.example:6379/0']);
    expect(has(external, 'StatefulSet')).toBe(false);
    expect(kindOf(external, 'Deployment').spec.template.spec.initContainers).toBeUndefined();
    expect(renderedConfig(external).redis).toEqual({ url: 'redis://redis-sentinel.example:6379/0' });
  });

  it('points at an external Redis Sentinel, its passwords read from existingSecret files, and validates', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ab-helm-sentinel-'));
    try {
      const values = join(dir, 'values.yaml');
      writeFileSync(values, `
redis: { enabled: false }
existingSecret: alertbridge-secrets
config:
  redis:
    password_file: /etc/alertbridge/secrets/redis-password
    sentinel:
      master_name: mymaster
      nodes: [redis-node-0.redis-headless:26379, redis-node-1.redis-headless:26379, redis-node-2.redis-headless:26379]
      password_file: /etc/alertbridge/secrets/redis-sentinel-password
    durability: { replicas: 1 }
`);
      const ms = helmTemplate(['-f', values]);
      expect(has(ms, 'StatefulSet')).toBe(false);
      expect(ms.filter((m) => m.kind === 'Secret')).toEqual([]);
      const redis = renderedConfig(ms).redis;
      expect(redis.url).toBeUndefined();
      expect(redis.sentinel).toEqual({
        master_name: 'mymaster',
        nodes: ['redis-node-0.redis-headless:26379', 'redis-node-1.redis-headless:26379', 'redis-node-2.redis-headless:26379'],
        password_file: '/etc/alertbridge/secrets/redis-sentinel-password',
      });
      expect(daemon(ms).volumeMounts).toContainEqual(expect.objectContaining({ mountPath: '/etc/alertbridge/secrets' }));
      // The rendered config passes alertbridge's own validation (the secret files stand in for the mounted Secret).
      const secrets = join(dir, 'secrets');
      const config = join(dir, 'config.yaml');
      const text = (kindOf(ms, 'ConfigMap', 'alertbridge').data['config.yaml'] as string).replaceAll('/etc/alertbridge/secrets', secrets);
      writeFileSync(config, text);
      spawnSync('mkdir', ['-p', secrets]);
      writeFileSync(join(secrets, 'redis-password'), 'pw\n');
      writeFileSync(join(secrets, 'redis-sentinel-password'), 'spw\n');
      const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'validate', '--config', config], { cwd: ROOT, encoding: 'utf8' });
      expect(`${res.stdout}${res.stderr}`).toContain('config OK');
      expect(templateFails(['-f', values, '--set', 'redis.enabled=true'])).toContain(
        "config.redis.sentinel points alertbridge at an external Sentinel: set redis.enabled to false (the chart's own Redis is a single node)",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('points at an external Redis Cluster, and refuses it beside the chart Redis', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ab-helm-cluster-'));
    try {
      const values = join(dir, 'values.yaml');
      writeFileSync(values, `
redis: { enabled: false }
existingSecret: alertbridge-secrets
config:
  redis:
    password_file: /etc/alertbridge/secrets/redis-password
    cluster: { nodes: [redis-cluster-0.redis-cluster-headless:6379, redis-cluster-1.redis-cluster-headless:6379] }
    durability: { replicas: 1 }
`);
      const ms = helmTemplate(['-f', values]);
      expect(has(ms, 'StatefulSet')).toBe(false);
      const redis = renderedConfig(ms).redis;
      expect(redis.url).toBeUndefined();
      expect(redis.cluster).toEqual({
        nodes: ['redis-cluster-0.redis-cluster-headless:6379', 'redis-cluster-1.redis-cluster-headless:6379'],
      });
      expect(templateFails(['-f', values, '--set', 'redis.enabled=true'])).toContain(
        "config.redis.cluster points alertbridge at an external Redis Cluster: set redis.enabled to false (the chart's own Redis is a single node)",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes the chart Redis password from existingSecret when given (no Secret generated)', () => {
    const ms = helmTemplate(['--set', 'redis.auth.existingSecret=rpw', '--set', 'redis.auth.existingSecretKey=pw']);
    expect(ms.filter((m) => m.kind === 'Secret')).toEqual([]);
    expect(renderedConfig(ms).redis.password_file).toBe('/etc/alertbridge/redis/password');
    expect(kindOf(ms, 'Deployment').spec.template.spec.volumes).toContainEqual({
      name: 'redis-password', secret: { secretName: 'rpw', items: [{ key: 'pw', path: 'password' }], defaultMode: 0o440 },
    });
    expect(kindOf(ms, 'StatefulSet').spec.template.spec.containers[0].env).toEqual([
      { name: 'REDISCLI_AUTH', valueFrom: { secretKeyRef: { name: 'rpw', key: 'pw' } } },
    ]);
  });

  it('runs Redis without a password only when redis.auth.enabled is false', () => {
    const ms = helmTemplate(['--set', 'redis.auth.enabled=false']);
    expect(ms.filter((m) => m.kind === 'Secret')).toEqual([]);
    const redis = kindOf(ms, 'StatefulSet').spec.template.spec.containers[0];
    expect([redis.command, redis.env]).toEqual([undefined, undefined]);
    expect(renderedConfig(ms).redis).toEqual({ url: 'redis://alertbridge-redis:6379/0' });
    expect(daemon(ms).volumeMounts.map((v: Json) => v.name)).not.toContain('redis-password');
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
      expect(plain).not.toContain('redis.auth.enabled is false');
      expect(render(['--set', 'redis.auth.enabled=false'])).toContain('WARNING: redis.auth.enabled is false');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
