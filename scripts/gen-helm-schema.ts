/**
 * Writes helm/alertbridge/values.schema.json: the chart's values, with `config` checked by the alertbridge
 * configuration schema (src/config/json-schema.ts, the same one behind config/schema.json) and the rest of the
 * values described here by hand.
 *
 *   npx tsx scripts/gen-helm-schema.ts           write the file
 *   npx tsx scripts/gen-helm-schema.ts --check   exit 1 when the file is stale (test/helm/checks.test.ts does too)
 *
 * Helm 3 validates values with a draft-07 validator (gojsonschema), so the output is draft-07. The configuration
 * schema describes the file *after* `${VAR}` expansion; in values the references are still unexpanded, so every
 * constrained scalar of `config` (a pattern, format, enum, number or boolean) also accepts a string holding a
 * `${VAR}` reference.
 */
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from '../src/config/json-schema.js';

type Json = Record<string, unknown>;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const HELM_SCHEMA_PATH = 'helm/alertbridge/values.schema.json';

/** A `${VAR}` or `${VAR:-default}` reference anywhere in a string. */
export const ENV_REFERENCE_PATTERN = '\\$\\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\\}';

const SCALAR_TYPES = new Set(['integer', 'number', 'boolean']);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A scalar that `${VAR}` would fail before expansion: a pattern, format, enum, length bound, number or boolean. */
function isConstrainedScalar(node: Json): boolean {
  if ('const' in node) return false; // discriminators (`type: splunk_hec`) stay literal
  const types = Array.isArray(node.type) ? node.type : [node.type];
  if (types.some((t) => typeof t === 'string' && SCALAR_TYPES.has(t))) return true;
  if ('enum' in node) return true;
  return types.includes('string') && ('pattern' in node || 'format' in node || 'maxLength' in node);
}

/** Inlines `#/$defs/…` references (the zod output has none today; a future recursive type would need more). */
function inlineRefs(node: unknown, defs: Json, seen: string[] = []): unknown {
  if (Array.isArray(node)) return node.map((item) => inlineRefs(item, defs, seen));
  if (!isObject(node)) return node;
  const ref = node.$ref;
  if (typeof ref === 'string') {
    const name = /^#\/\$defs\/(.+)$/.exec(ref)?.[1];
    if (!name || !(name in defs)) throw new Error(`gen-helm-schema: cannot resolve $ref ${ref}`);
    if (seen.includes(name)) throw new Error(`gen-helm-schema: recursive $ref ${ref} cannot be inlined`);
    const { $ref: _ref, ...rest } = node;
    return { ...(inlineRefs(defs[name], defs, [...seen, name]) as Json), ...(inlineRefs(rest, defs, seen) as Json) };
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, inlineRefs(v, defs, seen)]));
}

/** Every constrained scalar also accepts a `${VAR}` string (keeping its description on the outside). */
export function relaxForEnvReferences(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(relaxForEnvReferences);
  if (!isObject(node)) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, relaxForEnvReferences(v)]));
    } else if (['items', 'oneOf', 'anyOf', 'allOf', 'additionalProperties', 'not'].includes(key)) {
      out[key] = relaxForEnvReferences(value);
    } else {
      out[key] = value;
    }
  }
  if (!isConstrainedScalar(out)) return out;
  const { description, default: defaultValue, ...inner } = out;
  return {
    ...(description !== undefined ? { description } : {}),
    ...(defaultValue !== undefined ? { default: defaultValue } : {}),
    anyOf: [inner, { type: 'string', pattern: ENV_REFERENCE_PATTERN }],
  };
}

/** The `config` key: the configuration schema, draft-07-compatible and relaxed for `${VAR}`. */
export function helmConfigSchema(): Json {
  const { $schema: _schema, $defs, ...config } = configJsonSchema();
  const inlined = inlineRefs(config, isObject($defs) ? $defs : {}) as Json;
  return {
    ...(relaxForEnvReferences(inlined) as Json),
    description:
      'The alertbridge configuration file, as YAML (docs/configuration.md), rendered into a ConfigMap mounted at /etc/alertbridge/config.yaml. `${VAR}` references are expanded from the container environment (existingSecret, extraEnv) when alertbridge starts; cross-field rules are checked by `alertbridge validate`. When redis.enabled and redis.url is unset, the chart sets redis.url to its own Redis.',
  };
}

// --- the rest of the values, by hand -------------------------------------------------------------------------

const str = (description: string, extra: Json = {}): Json => ({ type: 'string', description, ...extra });
const bool = (description: string): Json => ({ type: 'boolean', description });
const int = (description: string, minimum = 0, extra: Json = {}): Json => ({
  type: 'integer',
  minimum,
  description,
  ...extra,
});
const obj = (description: string, properties: Record<string, Json>, extra: Json = {}): Json => ({
  type: 'object',
  description,
  properties,
  additionalProperties: false,
  ...extra,
});
/** A Kubernetes structure passed through to the manifest as is (resources, affinity, …). */
const k8s = (description: string): Json => ({ type: 'object', description });
const k8sList = (description: string): Json => ({ type: 'array', description, items: { type: 'object' } });
const stringMap = (description: string): Json => ({
  type: 'object',
  description,
  additionalProperties: { type: 'string' },
});
const nullable = (schema: Json): Json => {
  const { description, ...rest } = schema;
  return { description, anyOf: [rest, { type: 'null' }] };
};
const imageSchema = (description: string, extra: Record<string, Json> = {}): Json =>
  obj(description, {
    repository: str('Image repository.', { minLength: 1 }),
    tag: str('Image tag.'),
    pullPolicy: str('Image pull policy.', { enum: ['Always', 'IfNotPresent', 'Never'] }),
    ...extra,
  });
const probe = (description: string): Json => nullable(k8s(`${description} (a Kubernetes Probe); null disables it.`));
const DURATION = '^[0-9]+(ms|s|m|h)$';

export function helmValuesSchema(): Json {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'alertbridge Helm chart values',
    description:
      'Values of the alertbridge chart. Generated by scripts/gen-helm-schema.ts from the configuration schema (the `config` key) and hand-written descriptions (the rest); do not edit.',
    type: 'object',
    additionalProperties: false,
    properties: {
      global: { type: 'object', description: 'Values shared with a parent chart (unused here).' },
      replicaCount: int(
        'Pods of the daemon (ignored when autoscaling.enabled). Replicas share one Redis: one poller per (source, resource) through leases; webhooks, push and deliveries spread over all.',
        1,
      ),
      image: imageSchema('The alertbridge image (built from the repository Dockerfile).', {
        tag: str('Image tag; default: the chart appVersion.'),
        digest: str('Image digest (`sha256:…`); overrides tag when set.', { pattern: '^(sha256:[0-9a-f]{64})?$' }),
      }),
      imagePullSecrets: k8sList('Secrets for pulling the image (`[{name: …}]`).'),
      nameOverride: str('Replaces the chart name in resource names.'),
      fullnameOverride: str('Replaces the full resource name (release-chart).'),
      serviceAccount: obj("The pods' ServiceAccount.", {
        create: bool('Create a ServiceAccount.'),
        name: str('Its name; default: the full name when created, `default` otherwise.'),
        annotations: stringMap('Annotations, e.g. `azure.workload.identity/client-id` for `auth: workload_identity`.'),
        automountServiceAccountToken: bool('Mount a Kubernetes API token (alertbridge does not use the API).'),
      }),
      config: helmConfigSchema(),
      existingSecret: str(
        "Name of an existing Secret with alertbridge's secrets (your secret values never go through the chart; the only Secret it makes holds the Redis password it generates).",
      ),
      existingSecretEnv: bool(
        'Expose every key of existingSecret as an environment variable (envFrom), for `${VAR}` in config.',
      ),
      existingSecretFiles: bool(
        'Mount existingSecret under /etc/alertbridge/secrets (a file per key), for `*_file` keys in config.',
      ),
      extraEnv: k8sList('Extra environment variables (Kubernetes EnvVar list).'),
      extraEnvFrom: k8sList('Extra envFrom sources.'),
      extraVolumes: k8sList('Extra pod volumes (e.g. a CA bundle for `ca_file`).'),
      extraVolumeMounts: k8sList('Extra mounts of the alertbridge container.'),
      containerPort: int(
        'Container port for HTTP (webhooks, push, probes, metrics); must be the port of config.server.listen.',
        1,
        { maximum: 65535 },
      ),
      service: obj('The Service in front of the pods.', {
        type: str('Service type.', { enum: ['ClusterIP', 'NodePort', 'LoadBalancer'] }),
        port: int('Service port.', 1, { maximum: 65535 }),
        annotations: stringMap('Service annotations.'),
      }),
      ingress: obj(
        'An Ingress for the webhook routes only (Graph needs a public HTTPS URL: set config.server.public_url).',
        {
          enabled: bool('Create the Ingress.'),
          className: str('IngressClass name.'),
          annotations: stringMap('Ingress annotations (e.g. cert-manager.io/cluster-issuer).'),
          hosts: {
            type: 'array',
            description: 'Hosts served.',
            minItems: 1,
            items: obj('A host.', { host: str('Host name.', { minLength: 1 }) }, { required: ['host'] }),
          },
          paths: {
            type: 'array',
            description: 'Paths routed to alertbridge (default: /webhooks/graph and /ingest).',
            minItems: 1,
            items: { type: 'string', pattern: '^/' },
          },
          pathType: str('Ingress pathType.', { enum: ['Prefix', 'ImplementationSpecific', 'Exact'] }),
          tls: k8sList('Ingress TLS entries (`[{secretName, hosts}]`).'),
        },
      ),
      serviceMonitor: obj('A Prometheus Operator ServiceMonitor for /metrics.', {
        enabled: bool('Create the ServiceMonitor (needs the monitoring.coreos.com CRDs).'),
        interval: str('Scrape interval.', { pattern: DURATION }),
        scrapeTimeout: str('Scrape timeout.', { pattern: DURATION }),
        labels: stringMap('Labels your Prometheus selects ServiceMonitors by.'),
        namespace: str('Namespace of the ServiceMonitor; default: the release namespace.'),
        metricRelabelings: k8sList('metricRelabelings of the endpoint.'),
        relabelings: k8sList('relabelings of the endpoint.'),
      }),
      dashboard: obj('A Grafana dashboard ConfigMap for the Grafana sidecar.', {
        enabled: bool('Create the dashboard ConfigMap.'),
        namespace: str('Namespace of the ConfigMap; default: the release namespace.'),
        labels: stringMap('Labels the Grafana sidecar looks for (grafana_dashboard: "1").'),
        annotations: stringMap('Annotations, e.g. grafana_folder.'),
      }),
      podDisruptionBudget: obj('A PodDisruptionBudget for the daemon.', {
        enabled: bool('Create the PodDisruptionBudget.'),
        maxUnavailable: {
          description: 'Pods that may be down at once (number or percentage).',
          anyOf: [
            { type: 'integer', minimum: 0 },
            { type: 'string', pattern: '^[0-9]+%$' },
          ],
        },
        minAvailable: {
          description: 'Pods that must stay up; when set, replaces maxUnavailable.',
          anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^[0-9]+%$' }, { type: 'null' }],
        },
      }),
      autoscaling: obj('A HorizontalPodAutoscaler (autoscaling/v2).', {
        enabled: bool('Create the HPA (replicaCount is then ignored).'),
        minReplicas: int('Fewest replicas.', 1),
        maxReplicas: int('Most replicas.', 1),
        targetCPUUtilizationPercentage: int('Target average CPU utilisation (% of requests).', 1),
        targetMemoryUtilizationPercentage: nullable(
          int('Target average memory utilisation (% of requests); null: CPU only.', 1),
        ),
        behavior: k8s('HPA scaling behavior.'),
      }),
      resources: k8s('Resources of the alertbridge container.'),
      terminationGracePeriodSeconds: nullable(
        int(
          'Seconds before SIGKILL; default (null): preStopSleepSeconds + config.pipeline.drain_timeout_ms + 10 s.',
          1,
        ),
      ),
      preStopSleepSeconds: int('Seconds the pod keeps serving after being marked terminating (0: no preStop hook).', 0),
      livenessProbe: probe('Liveness probe (GET /healthz)'),
      readinessProbe: probe('Readiness probe (GET /readyz: Redis answers and every sink started)'),
      startupProbe: probe('Startup probe'),
      podSecurityContext: k8s('Pod securityContext (default: non-root uid/gid 10001, seccomp RuntimeDefault).'),
      securityContext: k8s(
        'Container securityContext (default: read-only root filesystem, no privilege escalation, all capabilities dropped).',
      ),
      tmpSizeLimit: str('Size limit of the emptyDir at /tmp.', { pattern: '^[0-9]+(Ki|Mi|Gi)?$' }),
      podAnnotations: stringMap('Pod annotations.'),
      podLabels: stringMap('Pod labels (e.g. azure.workload.identity/use: "true").'),
      priorityClassName: str('PriorityClass of the pods.'),
      nodeSelector: stringMap('Node selector.'),
      tolerations: k8sList('Tolerations.'),
      affinity: k8s('Affinity; default (empty): soft anti-affinity spreading replicas over nodes.'),
      topologySpreadConstraints: k8sList('Topology spread constraints.'),
      redis: obj(
        "The chart's optional single-node Redis (official image, AOF, noeviction). Production: an external replicated Redis via config.redis.url.",
        {
          enabled: bool('Deploy the Redis StatefulSet and point config.redis.url at it (unless set).'),
          image: imageSchema('The Redis image (7.x).'),
          maxmemory: str('Redis maxmemory (e.g. 400mb); keep it below the memory limit.', {
            pattern: '^[0-9]+([kKmMgG][bB]?|[bB])?$',
          }),
          appendfsync: str('AOF fsync policy.', { enum: ['everysec', 'always'] }),
          auth: obj(
            'Redis password: from existingSecret, or a Secret the chart generates at install and keeps on upgrades.',
            {
              enabled: bool('Require a password (default true).'),
              existingSecret: str(
                'Secret holding the password; empty: the chart generates `<fullname>-redis` (key `redis-password`).',
              ),
              existingSecretKey: str('Key of the password in existingSecret.', { minLength: 1 }),
            },
          ),
          persistence: obj('The Redis data volume.', {
            enabled: bool('Use a PersistentVolumeClaim (otherwise an emptyDir: queued records are lost with the pod).'),
            size: str('Volume size.', { pattern: '^[0-9]+(Mi|Gi|Ti)$' }),
            storageClass: str('StorageClass; "" uses the cluster default.'),
            accessModes: { type: 'array', description: 'Access modes.', items: { type: 'string' }, minItems: 1 },
          }),
          resources: k8s('Resources of the Redis container.'),
          podSecurityContext: k8s("Pod securityContext of Redis (default uid/gid 999, the image's redis user)."),
          securityContext: k8s('Container securityContext of Redis.'),
          nodeSelector: stringMap('Node selector.'),
          tolerations: k8sList('Tolerations.'),
          affinity: k8s('Affinity.'),
        },
      ),
      networkPolicy: obj(
        "NetworkPolicies: alertbridge accepts HTTP only; the chart's Redis accepts only alertbridge pods.",
        {
          enabled: bool('Create the NetworkPolicies (default true).'),
          ingressFrom: k8sList("NetworkPolicyPeers allowed to reach alertbridge's container port; empty: anyone."),
          redisFrom: k8sList("NetworkPolicyPeers allowed to reach the chart's Redis besides alertbridge pods."),
        },
      ),
    },
  };
}

export function renderHelmSchema(): string {
  return `${JSON.stringify(helmValuesSchema(), null, 2)}\n`;
}

const invokedAs = process.argv[1];
if (invokedAs && realpathSync(fileURLToPath(import.meta.url)) === realpathSync(invokedAs)) {
  const target = join(root, HELM_SCHEMA_PATH);
  const content = renderHelmSchema();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== content) {
      console.error(`${HELM_SCHEMA_PATH} is stale: run npx tsx scripts/gen-helm-schema.ts`);
      process.exit(1);
    }
    console.log(`${HELM_SCHEMA_PATH} is up to date`);
  } else {
    writeFileSync(target, content);
    console.log(`wrote ${HELM_SCHEMA_PATH}`);
  }
}
