/**
 * Offline checks of rendered Helm manifests (the second half of scripts/helm-check.sh, also used by
 * test/helm/*.test.ts):
 *   - every object is validated against the Kubernetes schema of its apiVersion/kind (the `kubernetes-models`
 *     package); the ServiceMonitor, which has no model there, by a hand-written check;
 *   - references inside the release hold: selectors select the pod template, mounts name volumes, the Service's
 *     targetPort and the probes name container ports, Ingress/HPA/ServiceMonitor point at objects that exist;
 *   - the ConfigMap's config.yaml passes `alertbridge validate` (dummy values for `${VAR}` and `*_file`).
 *
 *   npx tsx scripts/helm-check.ts RENDERED.yaml...
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml, stringify as stringifyYaml } from 'yaml';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The objects of a `helm template` output (empty documents dropped). */
export function parseManifests(text: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML in rendered manifests: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (
      !isObject(value) ||
      typeof value.apiVersion !== 'string' ||
      typeof value.kind !== 'string' ||
      !isObject(value.metadata)
    ) {
      throw new Error(`a rendered document is not a Kubernetes object: ${JSON.stringify(value).slice(0, 200)}`);
    }
    out.push(value as Manifest);
  }
  return out;
}

export const describe = (m: Manifest): string => `${m.kind}/${m.metadata.name}`;

// --- running helm -------------------------------------------------------------------------------------------

export const CHART_DIR = join(ROOT, 'helm/alertbridge');
export const HELM_BIN = join(ROOT, '.cache/bin/helm');
/** What `helm template` assumes of the cluster (the chart needs >= 1.25). */
export const KUBE_VERSION = '1.30.0';

/** helm keeps its config, cache and data under .cache/helm instead of $HOME. */
export function helmEnv(): NodeJS.ProcessEnv {
  const base = join(ROOT, '.cache/helm');
  return {
    ...process.env,
    HELM_CACHE_HOME: join(base, 'cache'),
    HELM_CONFIG_HOME: join(base, 'config'),
    HELM_DATA_HOME: join(base, 'data'),
  };
}

/** Builds helm into .cache/bin unless it is there (scripts/helm-check.sh --build-only); throws when it cannot. */
export function ensureHelm(): { output: string } {
  const res = spawnSync('bash', [join(ROOT, 'scripts/helm-check.sh'), '--build-only'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30 * 60_000,
  });
  const output = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  if (res.status !== 0)
    throw new Error(
      `helm could not be built (scripts/helm-check.sh --build-only, exit ${res.status ?? res.signal}):\n${output.slice(-3000)}`,
    );
  return { output };
}

export function runHelm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(HELM_BIN, args, {
    cwd: ROOT,
    env: helmEnv(),
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    status: res.status,
    stdout: res.stdout ?? '',
    stderr: `${res.stderr ?? ''}${res.error ? String(res.error) : ''}`,
  };
}

/** `helm template` of the chart (release `alertbridge`, namespace `security`) with extra arguments (-f, --set). */
export function helmTemplate(args: string[] = [], chartDir = CHART_DIR): Manifest[] {
  const res = runHelm([
    'template',
    'alertbridge',
    chartDir,
    '--namespace',
    'security',
    '--kube-version',
    KUBE_VERSION,
    ...args,
  ]);
  if (res.status !== 0) throw new Error(`helm template failed: ${res.stderr.trim()}`);
  return parseManifests(res.stdout);
}

// --- schema validation ---------------------------------------------------------------------------------------

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** `apps/v1` + `Deployment` → `kubernetes-models/apps/v1/Deployment` (core `v1` → `kubernetes-models/v1/…`). */
async function loadModel(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  if (!/^[A-Za-z0-9.]+(\/[A-Za-z0-9]+)?$/.test(apiVersion) || !/^[A-Za-z]+$/.test(kind)) return undefined;
  try {
    const specifier = ['kubernetes-models', apiVersion, kind].join('/');
    const mod = (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
    return mod[kind] as ModelClass | undefined;
  } catch {
    return undefined;
  }
}

const DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const SERVICE_MONITOR_SPEC_KEYS = new Set([
  'endpoints',
  'selector',
  'namespaceSelector',
  'jobLabel',
  'targetLabels',
  'podTargetLabels',
  'sampleLimit',
  'targetLimit',
  'labelLimit',
  'labelNameLengthLimit',
  'labelValueLengthLimit',
  'attachMetadata',
  'scrapeProtocols',
  'keepDroppedTargets',
  'scrapeClass',
  'bodySizeLimit',
  'fallbackScrapeProtocol',
]);
const SERVICE_MONITOR_ENDPOINT_KEYS = new Set([
  'port',
  'targetPort',
  'path',
  'scheme',
  'params',
  'interval',
  'scrapeTimeout',
  'tlsConfig',
  'bearerTokenFile',
  'bearerTokenSecret',
  'authorization',
  'honorLabels',
  'honorTimestamps',
  'trackTimestampsStaleness',
  'basicAuth',
  'oauth2',
  'metricRelabelings',
  'relabelings',
  'proxyUrl',
  'followRedirects',
  'enableHttp2',
  'filterRunning',
]);

/** monitoring.coreos.com/v1 ServiceMonitor, checked by hand (kubernetes-models has no model for it). */
export function checkServiceMonitor(m: Manifest): string[] {
  const errors: string[] = [];
  const spec = m.spec;
  if (!isObject(spec)) return ['spec: required object'];
  for (const key of Object.keys(spec))
    if (!SERVICE_MONITOR_SPEC_KEYS.has(key)) errors.push(`spec.${key}: unknown field`);
  if (!isObject(spec.selector)) errors.push('spec.selector: required object');
  else if (spec.selector.matchLabels !== undefined && !isStringMap(spec.selector.matchLabels))
    errors.push('spec.selector.matchLabels: must map strings to strings');
  if (spec.namespaceSelector !== undefined) {
    const ns = spec.namespaceSelector;
    if (
      !isObject(ns) ||
      (ns.matchNames !== undefined &&
        !(Array.isArray(ns.matchNames) && ns.matchNames.every((n) => typeof n === 'string')))
    ) {
      errors.push('spec.namespaceSelector: must be {any: bool} or {matchNames: [string]}');
    }
  }
  if (!Array.isArray(spec.endpoints) || spec.endpoints.length === 0) {
    errors.push('spec.endpoints: required non-empty array');
    return errors;
  }
  spec.endpoints.forEach((e: unknown, i) => {
    const at = `spec.endpoints[${i}]`;
    if (!isObject(e)) {
      errors.push(`${at}: must be an object`);
      return;
    }
    for (const key of Object.keys(e))
      if (!SERVICE_MONITOR_ENDPOINT_KEYS.has(key)) errors.push(`${at}.${key}: unknown field`);
    if (e.port === undefined && e.targetPort === undefined) errors.push(`${at}: port or targetPort is required`);
    if (e.port !== undefined && typeof e.port !== 'string') errors.push(`${at}.port: must be a port name (string)`);
    if (e.path !== undefined && (typeof e.path !== 'string' || !e.path.startsWith('/')))
      errors.push(`${at}.path: must start with /`);
    if (e.scheme !== undefined && !['http', 'https'].includes(String(e.scheme)))
      errors.push(`${at}.scheme: http or https`);
    for (const key of ['interval', 'scrapeTimeout']) {
      if (e[key] !== undefined && !(typeof e[key] === 'string' && DURATION.test(e[key])))
        errors.push(`${at}.${key}: must be a duration like 30s`);
    }
    for (const key of ['metricRelabelings', 'relabelings']) {
      if (e[key] !== undefined && !(Array.isArray(e[key]) && e[key].every(isObject)))
        errors.push(`${at}.${key}: must be a list of objects`);
    }
  });
  return errors;
}

function isStringMap(value: unknown): boolean {
  return isObject(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** Schema problems of one object, as `Kind/name: message` lines. */
export async function validateManifest(m: Manifest): Promise<string[]> {
  const name = describe(m);
  const problems: string[] = [];
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(m.metadata.name) || m.metadata.name.length > 253) {
    problems.push(`${name}: metadata.name is not a valid Kubernetes name`);
  }
  for (const [key, value] of Object.entries(m.metadata.labels ?? {})) {
    if (
      typeof value !== 'string' ||
      value.length > 63 ||
      !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value)
    ) {
      problems.push(`${name}: label ${key}=${String(value)} is not a valid label value`);
    }
  }
  if (m.apiVersion === 'monitoring.coreos.com/v1' && m.kind === 'ServiceMonitor') {
    return [...problems, ...checkServiceMonitor(m).map((p) => `${name}: ${p}`)];
  }
  const Model = await loadModel(m.apiVersion, m.kind);
  if (!Model) return [...problems, `${name}: no Kubernetes schema for ${m.apiVersion} ${m.kind}`];
  try {
    new Model(m).validate();
  } catch (error) {
    const details = (error as { errors?: { instancePath: string; message?: string }[] }).errors;
    if (details?.length)
      for (const d of details) problems.push(`${name}: ${d.instancePath || '/'} ${d.message ?? 'invalid'}`);
    else problems.push(`${name}: ${(error as Error).message}`);
  }
  return problems;
}

// --- references inside the release ----------------------------------------------------------------------------

interface PodSpec {
  containers: Json[];
  initContainers?: Json[];
  volumes?: Json[];
}

function podTemplate(m: Manifest): { labels: Record<string, string>; spec: PodSpec } | undefined {
  if (!['Deployment', 'StatefulSet', 'DaemonSet'].includes(m.kind)) return undefined;
  const template = (m.spec as Json | undefined)?.template as Json | undefined;
  const metadata = (template?.metadata ?? {}) as { labels?: Record<string, string> };
  return { labels: metadata.labels ?? {}, spec: template?.spec as unknown as PodSpec };
}

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Cross-object problems: what a schema cannot see. */
export function checkReferences(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  const find = (kind: string, name: string) => manifests.find((m) => m.kind === kind && m.metadata.name === name);
  const workloads = manifests.map((m) => ({ m, pod: podTemplate(m) })).filter((w) => w.pod);
  const seen = new Set<string>();
  for (const m of manifests) {
    const key = `${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`;
    if (seen.has(key)) problems.push(`${describe(m)}: rendered twice`);
    seen.add(key);
  }
  for (const { m, pod } of workloads) {
    const spec = m.spec as { selector?: { matchLabels?: Record<string, string> }; serviceName?: string };
    if (!selects(spec.selector?.matchLabels, pod!.labels))
      problems.push(`${describe(m)}: spec.selector does not select its pod template`);
    if (m.kind === 'StatefulSet' && spec.serviceName && !find('Service', spec.serviceName)) {
      problems.push(`${describe(m)}: serviceName ${spec.serviceName} is not rendered`);
    }
    const claimNames = (
      ((m.spec as Json).volumeClaimTemplates as { metadata: { name: string } }[] | undefined) ?? []
    ).map((c) => c.metadata.name);
    const volumeNames = new Set([...(pod!.spec.volumes ?? []).map((v) => String(v.name)), ...claimNames]);
    for (const c of [...pod!.spec.containers, ...(pod!.spec.initContainers ?? [])]) {
      const ports = new Set(((c.ports ?? []) as { name?: string }[]).map((p) => p.name).filter(Boolean));
      for (const mount of (c.volumeMounts ?? []) as { name: string; mountPath: string }[]) {
        if (!volumeNames.has(mount.name))
          problems.push(`${describe(m)}: container ${String(c.name)} mounts unknown volume ${mount.name}`);
      }
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const port = ((c[probe] as Json | undefined)?.httpGet as Json | undefined)?.port;
        if (typeof port === 'string' && !ports.has(port))
          problems.push(`${describe(m)}: ${probe} names unknown port ${port}`);
      }
      for (const env of (c.envFrom ?? []) as { secretRef?: { name?: string } }[]) {
        if (env.secretRef && !env.secretRef.name) problems.push(`${describe(m)}: envFrom secretRef without a name`);
      }
    }
  }
  const podsSelectedBy = (selector: Record<string, string> | undefined) =>
    workloads.filter((w) => selects(selector, w.pod!.labels));
  for (const svc of manifests.filter((m) => m.kind === 'Service')) {
    const spec = svc.spec as { selector?: Record<string, string>; ports?: { name?: string; targetPort?: unknown }[] };
    const targets = podsSelectedBy(spec.selector);
    if (targets.length !== 1) {
      problems.push(`${describe(svc)}: selects ${targets.length} workloads, expected 1`);
      continue;
    }
    const names = new Set(
      targets[0]!.pod!.spec.containers.flatMap((c) => ((c.ports ?? []) as { name?: string }[]).map((p) => p.name)),
    );
    for (const p of spec.ports ?? []) {
      if (typeof p.targetPort === 'string' && !names.has(p.targetPort))
        problems.push(`${describe(svc)}: targetPort ${p.targetPort} is no container port`);
    }
  }
  for (const m of manifests) {
    if (m.kind === 'Ingress') {
      const rules = ((m.spec as Json).rules ?? []) as {
        http?: { paths?: { backend?: { service?: { name: string; port?: { number?: number; name?: string } } } }[] };
      }[];
      for (const rule of rules) {
        for (const path of rule.http?.paths ?? []) {
          const backend = path.backend?.service;
          const svc = backend && find('Service', backend.name);
          if (!svc) problems.push(`${describe(m)}: backend service ${backend?.name ?? '?'} is not rendered`);
          else if (
            !((svc.spec as Json).ports as { port: number; name?: string }[]).some(
              (p) => p.port === backend.port?.number || (!!backend.port?.name && p.name === backend.port.name),
            )
          ) {
            problems.push(`${describe(m)}: backend port of ${backend.name} does not exist`);
          }
        }
      }
    }
    if (m.kind === 'HorizontalPodAutoscaler') {
      const ref = (m.spec as { scaleTargetRef: { kind: string; name: string } }).scaleTargetRef;
      const target = find(ref.kind, ref.name);
      if (!target) problems.push(`${describe(m)}: scaleTargetRef ${ref.kind}/${ref.name} is not rendered`);
      else if ((target.spec as Json).replicas !== undefined)
        problems.push(`${describe(m)}: ${describe(target)} sets replicas, which fights the HPA`);
    }
    if (m.kind === 'PodDisruptionBudget') {
      const selector = (m.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels;
      if (podsSelectedBy(selector).length === 0) problems.push(`${describe(m)}: selects no pods`);
    }
    if (m.kind === 'ServiceMonitor') {
      const spec = m.spec as { selector: { matchLabels?: Record<string, string> }; endpoints: { port?: string }[] };
      const services = manifests.filter(
        (s) => s.kind === 'Service' && selects(spec.selector.matchLabels, s.metadata.labels ?? {}),
      );
      if (services.length !== 1) problems.push(`${describe(m)}: selects ${services.length} Services, expected 1`);
      for (const e of spec.endpoints) {
        if (
          e.port &&
          services[0] &&
          !((services[0].spec as Json).ports as { name?: string }[]).some((p) => p.name === e.port)
        ) {
          problems.push(`${describe(m)}: endpoint port ${e.port} is not a port of ${describe(services[0])}`);
        }
      }
    }
  }
  return problems;
}

// --- the rendered configuration ------------------------------------------------------------------------------

/** config.yaml of every rendered ConfigMap that holds one. */
export function renderedConfigs(manifests: Manifest[]): { name: string; text: string }[] {
  return manifests
    .filter((m) => m.kind === 'ConfigMap' && typeof (m.data as Json | undefined)?.['config.yaml'] === 'string')
    .map((m) => ({ name: describe(m), text: (m.data as Record<string, string>)['config.yaml']! }));
}

/** A value that passes alertbridge's checks for a secret of this name (connection strings are parsed). */
function dummySecret(name: string): string {
  if (/connection_?string/i.test(name)) {
    return 'Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=ZHVtbXk=;EntityPath=alerts';
  }
  return 'dummy-value-for-helm-check';
}

const CONFIG_DIR = '/etc/alertbridge';

/**
 * Runs `alertbridge validate` on a rendered config.yaml: the file is placed in a temp folder standing in for
 * /etc/alertbridge (absolute paths under it are rewritten), every `*_file` it names gets a dummy file, and every
 * `${VAR}` without a default gets a dummy environment variable.
 */
export function validateRenderedConfig(text: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-helm-config-'));
  try {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    for (const match of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) env[match[1]!] = dummySecret(match[1]!);
    const files: { path: string; key: string }[] = [];
    const rewrite = (value: unknown, key: string): unknown => {
      if (typeof value === 'string') {
        const local =
          value === CONFIG_DIR || value.startsWith(`${CONFIG_DIR}/`) ? dir + value.slice(CONFIG_DIR.length) : value;
        if (key.endsWith('_file')) files.push({ path: resolve(dir, local), key });
        return local;
      }
      if (Array.isArray(value)) return value.map((v) => rewrite(v, key));
      if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewrite(v, k)]));
      return value;
    };
    const config = rewrite(parseYaml(text), '');
    for (const f of files) {
      mkdirSync(dirname(f.path), { recursive: true });
      writeFileSync(f.path, `${dummySecret(f.key)}\n`);
    }
    const file = join(dir, 'config.yaml');
    writeFileSync(file, stringifyYaml(config));
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'validate', '--config', file], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    return {
      ok: res.status === 0,
      output: `${res.stdout ?? ''}${res.stderr ?? ''}${res.error ? String(res.error) : ''}`.trim(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every check on one rendered file; the problems, empty when all pass. */
export async function checkRendered(text: string, log: (line: string) => void = () => undefined): Promise<string[]> {
  const manifests = parseManifests(text);
  const problems: string[] = [];
  for (const m of manifests) problems.push(...(await validateManifest(m)));
  log(`  ${manifests.length} objects validated against Kubernetes schemas: ${manifests.map(describe).join(', ')}`);
  problems.push(...checkReferences(manifests));
  const configs = renderedConfigs(manifests);
  if (configs.length === 0) problems.push('no ConfigMap with config.yaml was rendered');
  for (const c of configs) {
    const res = validateRenderedConfig(c.text);
    log(`  ${c.name} config.yaml: ${res.output.split('\n')[0] ?? ''}`);
    if (!res.ok) problems.push(`${c.name}: alertbridge validate failed:\n${res.output}`);
  }
  return problems;
}

const invokedAs = process.argv[1];
if (invokedAs && realpathSync(fileURLToPath(import.meta.url)) === realpathSync(invokedAs)) {
  let failed = false;
  for (const file of process.argv.slice(2)) {
    console.log(`helm-check: ${file}`);
    const problems = await checkRendered(readFileSync(file, 'utf8'), (line) => console.log(line));
    for (const p of problems) console.error(`  FAIL ${p}`);
    failed ||= problems.length > 0;
  }
  process.exit(failed ? 1 : 0);
}
