/**
 * The configuration schema: the single source of truth for parsing, defaults, secrets, the generated JSON Schema
 * (`config/schema.json`) and the reference (`docs/configuration.md`). Keys are snake_case with units in their names;
 * every object is strict (unknown keys are errors); every field has a description.
 *
 * Sources are in `sources.ts`, sinks in `sinks.ts`, field helpers in `fields.ts`. Load files with `load.ts`, which
 * adds `${VAR}` expansion, `*_file` secrets and readable error messages around `ConfigSchema`.
 */
import { z } from 'zod';
import {
  SECRET_KEYS,
  count,
  crossCheck,
  filePath,
  hostPort,
  httpsUrl,
  isRecord,
  millis,
  secretPair,
  type AddIssue,
  type SecretKey,
} from './fields.js';
import {
  defaultPollInterval,
  DefenderStreamingSourceSchema,
  GraphSourceSchema,
  SourceSchema,
  WebhookSourceSchema,
} from './sources.js';
import { expandTenants, TENANT_SEPARATOR } from './tenants.js';
import { EventHubsSinkSchema, KafkaSinkSchema, SinkCommonSchema, SinkSchema, SplunkHecSinkSchema } from './sinks.js';
import { plaintextSecrets } from './plaintext.js';
import { secretLeafPaths } from './schema-walk.js';

export { AUTH_METHODS, CLOUDS, SECRET_KEYS, type AuthMethod, type Cloud, type SecretKey } from './fields.js';
export {
  DefenderStreamingSourceSchema,
  EventHubsSinkSchema,
  GraphSourceSchema,
  KafkaSinkSchema,
  SinkSchema,
  SourceSchema,
  SplunkHecSinkSchema,
  WebhookSourceSchema,
};

/** `redis.url`'s default: a `url` other than it names a server, which `redis.sentinel` excludes. */
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0';

export const RedisSchema = z
  .strictObject({
    url: z
      .url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' })
      .default(DEFAULT_REDIS_URL)
      .describe(
        'Redis holding the queues, dedup state and cursors: `redis://[user:password@]host:port/db`, or `rediss://` for TLS. Not used with `sentinel` or `cluster`.',
      ),
    key_prefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]+$/, { error: 'must be letters, digits, "_", ".", ":" or "-"' })
      .max(100)
      .default('alertbridge')
      .describe('Prefix of every Redis key, so that several deployments can share one Redis.'),
    username: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Redis ACL user (Redis 6+; managed offerings such as ElastiCache with RBAC, Azure Managed Redis), unless given in `url`. Without it, `password` authenticates the `default` user.',
      ),
    ...secretPair('password', 'Redis password (AUTH), unless given in `url`.'),
    sentinel: z
      .strictObject({
        master_name: z
          .string()
          .min(1)
          .describe('The name the sentinels monitor the primary under (`sentinel monitor <name> …`).'),
        nodes: z
          .array(hostPort('A sentinel, `host:port`.', 'sentinel-0.redis:26379'))
          .min(1, { error: 'at least one sentinel is required' })
          .describe(
            'Sentinels to ask for the current primary, `host:port` each (usually three). Any one that answers is enough.',
          ),
        username: z
          .string()
          .min(1)
          .optional()
          .describe("The sentinels' own ACL user, when they have one (`redis.username` is the data servers')."),
        ...secretPair(
          'password',
          "The sentinels' own password (`requirepass` in sentinel.conf), when they have one; `redis.password` is the data servers'.",
        ),
        tls: z
          .boolean()
          .default(false)
          .describe(
            'Use TLS to the sentinels and to the servers they name (with `redis.tls` for the CA and verification).',
          ),
      })
      .optional()
      .describe(
        'Redis Sentinel: alertbridge asks these sentinels for the current primary and follows it after a failover (every connection, the queues included). Leave `url` out when this is set. See docs/redis-ha.md.',
      ),
    cluster: z
      .strictObject({
        nodes: z
          .array(hostPort('A cluster node, `host:port`.', 'redis-0.redis:6379'))
          .min(1, { error: 'at least one cluster node is required' })
          .describe(
            'Some nodes of the Redis Cluster, `host:port` each (a few primaries is enough: the others are learnt from `CLUSTER SLOTS`). For a managed service, its cluster endpoint.',
          ),
        tls: z
          .boolean()
          .default(false)
          .describe('Use TLS to every node (with `redis.tls` for the CA and verification).'),
      })
      .optional()
      .describe(
        'Redis Cluster (OSS cluster protocol: self-hosted, Azure Managed Redis with the OSS cluster policy, ElastiCache or MemoryDB in cluster mode). `redis.username` and `redis.password` authenticate to every node. Leave `url` and `sentinel` out when this is set. Key layout and what `durability.replicas` means here: docs/redis-ha.md.',
      ),
    connect_timeout_ms: millis(10_000, 'How long opening a connection to Redis may take before it is retried.', {
      min: 100,
      max: 600_000,
    }),
    command_timeout_ms: millis(
      10_000,
      'How long a command (a dedup, a cursor move, a check) waits for its reply before it fails (a push gets 503, a poll is retried), so that a Redis that stopped answering without closing the connection does not hold requests forever. Blocking reads of the queues are not bounded by it. Must be larger than `durability.timeout_ms`.',
      { min: 100, max: 600_000 },
    ),
    tls: z
      .strictObject({
        ca_file: filePath(
          'Extra trusted CA certificates (PEM) for a `rediss://` URL, `sentinel.tls` or `cluster.tls`.',
        ).optional(),
        reject_unauthorized: z.boolean().default(true).describe('Verify the Redis server certificate.'),
      })
      .prefault({})
      .describe('TLS settings, used with a `rediss://` URL, `sentinel.tls: true` or `cluster.tls: true`.'),
    durability: z
      .strictObject({
        replicas: count(
          0,
          0,
          16,
          'Acknowledge a write (202 to a push, a cursor move) only once this many replicas have it (Redis `WAIT`); otherwise the push gets 503 and the poll is retried.',
        ),
        aof_fsync: z
          .boolean()
          .default(false)
          .describe(
            'Also wait until the primary has fsynced the write to its append-only file (`WAITAOF`, Redis 7.2+; on older servers a start-up warning says what `appendfsync` gives instead).',
          ),
        timeout_ms: millis(1000, 'How long a write waits for the replicas and the fsync before it is refused.', {
          max: 60_000,
        }),
      })
      .prefault({})
      .describe(
        'What "durably in Redis" means before alertbridge acknowledges (see docs/operations.md#durability). Default: the primary\'s memory, one write.',
      ),
  })
  .superRefine(
    ...crossCheck((value, addIssue) => {
      const tls = value.tls;
      const sentinel = isRecord(value.sentinel) ? value.sentinel : undefined;
      if (sentinel && typeof value.url === 'string' && value.url !== DEFAULT_REDIS_URL) {
        addIssue(['url'], 'not used with redis.sentinel (the sentinels name the primary): remove one of the two');
      }
      const cluster = isRecord(value.cluster) ? value.cluster : undefined;
      if (cluster && typeof value.url === 'string' && value.url !== DEFAULT_REDIS_URL) {
        addIssue(['url'], 'not used with redis.cluster (the cluster nodes are the servers): remove one of the two');
      }
      if (cluster && sentinel) {
        addIssue(['cluster'], 'redis.cluster and redis.sentinel exclude each other: keep the one your Redis is');
      }
      const tlsOn = cluster
        ? cluster.tls === true
        : sentinel
          ? sentinel.tls === true
          : typeof value.url === 'string' && value.url.startsWith('rediss://');
      if (!tlsOn && isRecord(tls) && tls.ca_file !== undefined) {
        addIssue(
          ['tls', 'ca_file'],
          cluster
            ? 'only used with cluster.tls: true'
            : sentinel
              ? 'only used with sentinel.tls: true'
              : 'only used with a rediss:// url',
        );
      }
      const durability = isRecord(value.durability) ? value.durability : {};
      const waitMs = typeof durability.timeout_ms === 'number' ? durability.timeout_ms : 1000;
      const commandMs = typeof value.command_timeout_ms === 'number' ? value.command_timeout_ms : 10_000;
      if (waitMs >= commandMs) {
        addIssue(
          ['durability', 'timeout_ms'],
          `must be less than redis.command_timeout_ms (${commandMs}): the wait is a command`,
        );
      }
    }),
  )
  .describe('The Redis server.');

export const ServerSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('Serve HTTP: webhooks, partner push, `/healthz`, `/readyz`, `/metrics`.'),
    listen: hostPort(
      'Address to listen on, `host:port` (`[::]:8080` for IPv6; port 0 picks a free port).',
      '0.0.0.0:8080',
    ).default('0.0.0.0:8080'),
    public_url: httpsUrl(
      'The https URL at which Microsoft Graph reaches this server (e.g. through an ingress); needed for webhook subscriptions. http:// is accepted for loopback addresses only (the simulator).',
      { allowLoopbackHttp: true },
    ).optional(),
    max_body_bytes: count(1_048_576, 1024, 104_857_600, 'Largest accepted request body.'),
    request_timeout_ms: millis(10_000, 'Time allowed to receive a request and answer it.'),
    status: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            'Serve `GET /status` (HTML) and `GET /status.json` (what `alertbridge status --json` prints). Without `token`, they answer only when `listen` is a loopback address (403 otherwise).',
          ),
        ...secretPair(
          'token',
          'Token the status page requires: `Authorization: Bearer <token>`, or HTTP Basic with it as the password (what a browser prompts for).',
        ),
      })
      .prefault({})
      .describe('The read-only status page (docs/operations.md).'),
  })
  .describe('The HTTP server.');

export const LogSchema = z
  .strictObject({
    level: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])
      .default('info')
      .describe('Least severe level logged.'),
    format: z
      .enum(['auto', 'json', 'pretty'])
      .default('auto')
      .describe(
        '`json` (one object per line), `pretty` (for people), or `auto`: pretty on a terminal, JSON otherwise.',
      ),
  })
  .describe('Logging (to standard error).');

export const PipelineSchema = z
  .strictObject({
    dedup_ttl_ms: millis(
      604_800_000,
      'How long a delivered `(key, revision)` is remembered (default seven days); a revision older than this may be delivered again.',
    ),
    dispatch_batch_max: count(
      1000,
      1,
      100_000,
      'Ingest-queue entries one dispatch round moves to the sink queues, counted in hundreds: a round reads ⌈dispatch_batch_max / 100⌉ entries (10 by default). An entry is one staged batch, the records accepted from one emit (1 to 500 of them), so the records a round moves depend on the emits, not on this figure alone.',
    ),
    drain_timeout_ms: millis(
      30_000,
      'On SIGTERM/SIGINT/SIGHUP, the bound on the whole stop: in-flight deliveries finish within it (exit 0) or are left queued for the next start (exit 2).',
      { min: 0 },
    ),
    takeover_ms: millis(
      30_000,
      'How long work held by a replica that stopped answering (a batch in delivery, a poll lease, a subscription lease) waits before another replica takes it over. Shorter means faster failover, longer tolerates longer pauses (GC, slow sinks).',
      { min: 1000 },
    ),
  })
  .describe('The queue between sources and sinks.');

export const SecuritySchema = z
  .strictObject({
    require_tls: z
      .boolean()
      .default(false)
      .describe(
        'Refuse to start when a secret would travel unencrypted to a host other than this machine (loopback): a `splunk_hec` token over `http://`, `kafka` SASL credentials without `tls.enabled`, an `azure_event_hubs` key with `UseDevelopmentEmulator=true`, the Redis password over `redis://`. Off: each such case is logged as a warning at start, naming the component and host.',
      ),
  })
  .describe('Policy checks on the configuration.');

export const ConfigSchema = z
  .strictObject({
    redis: RedisSchema.prefault({}),
    server: ServerSchema.prefault({}),
    log: LogSchema.prefault({}),
    pipeline: PipelineSchema.prefault({}),
    security: SecuritySchema.prefault({}),
    sources: z
      .array(SourceSchema)
      .default(() => [])
      .describe(
        'Where records come from: Graph Security tenants (`graph_security`), partner push (`webhook`), and the Defender XDR Streaming API read from an Event Hub (`defender_streaming`).',
      ),
    sinks: z
      .array(SinkSchema)
      .min(1, { error: 'at least one sink is required' })
      .describe('Where records go. Every record goes to every sink whose `filter` it passes.'),
  })
  .superRefine(...crossCheck(checkReferences))
  // A source's `tenants` run as sources of their own (tenants.ts): everything past the loader sees those.
  .transform((config) => ({ ...config, sources: expandTenants(config.sources, defaultPollInterval) }))
  .describe('alertbridge configuration');

/** Rules that span sections. Runs on partly invalid data too, so that one pass reports everything. */
function checkReferences(value: Record<string, unknown>, addIssue: AddIssue): void {
  const sourceNames = uniqueNames(value.sources, 'sources', 'source', addIssue);
  uniqueNames(value.sinks, 'sinks', 'sink', addIssue);

  // A sink filter may name a source with tenants (all of them) or one of its tenants (`mssp/fabrikam`).
  const tenantNames = new Set<string>();
  elements(value.sources).forEach((source) => {
    if (!isRecord(source) || typeof source.name !== 'string') return;
    for (const tenant of elements(source.tenants)) {
      if (isRecord(tenant) && typeof tenant.name === 'string')
        tenantNames.add(`${source.name}${TENANT_SEPARATOR}${tenant.name}`);
    }
  });
  const known = [...sourceNames];
  const knownText = known.length > 0 ? `configured sources: ${known.join(', ')}` : 'no sources are configured';
  elements(value.sinks).forEach((sink, i) => {
    const filter = isRecord(sink) ? sink.filter : undefined;
    if (!isRecord(filter)) return;
    elements(filter.sources).forEach((name, j) => {
      if (typeof name === 'string' && !sourceNames.has(name) && !tenantNames.has(name)) {
        addIssue(['sinks', i, 'filter', 'sources', j], `unknown source "${name}" (${knownText})`);
      }
    });
  });

  // Streamed tables and the sinks that opt in to them: a table no sink takes, or a sink naming a table no source
  // passes through, is a mistake (rows read for nothing, a sink waiting for nothing).
  const tables = new Set<string>();
  elements(value.sources).forEach((source) => {
    if (isRecord(source) && source.type === 'defender_streaming')
      for (const t of elements(source.tables)) if (typeof t === 'string') tables.add(`streaming/${t}`);
  });
  const wanted = new Set<string>();
  elements(value.sinks).forEach((sink, i) => {
    const resources = isRecord(sink) && isRecord(sink.filter) ? elements(sink.filter.resources) : [];
    resources.forEach((resource, j) => {
      if (typeof resource !== 'string' || !resource.startsWith('streaming/')) return;
      wanted.add(resource);
      if (resource !== 'streaming/*' && !tables.has(resource)) {
        addIssue(
          ['sinks', i, 'filter', 'resources', j],
          `no defender_streaming source lists ${resource.slice('streaming/'.length)} in tables (${[...tables].map((t) => t.slice('streaming/'.length)).join(', ') || 'none'})`,
        );
      }
    });
  });
  elements(value.sources).forEach((source, i) => {
    if (!isRecord(source) || source.type !== 'defender_streaming') return;
    elements(source.tables).forEach((t, j) => {
      if (typeof t === 'string' && !wanted.has('streaming/*') && !wanted.has(`streaming/${t}`)) {
        addIssue(
          ['sources', i, 'tables', j],
          `no sink takes its rows: name streaming/${t} (or streaming/*) in a sink's filter.resources`,
        );
      }
    });
  });

  // OCSF has no class for a raw Advanced Hunting row: a sink in that format cannot opt in to streamed tables.
  elements(value.sinks).forEach((sink, i) => {
    if (!isRecord(sink) || sink.format !== 'ocsf' || !isRecord(sink.filter)) return;
    elements(sink.filter.resources).forEach((resource, j) => {
      if (typeof resource === 'string' && resource.startsWith('streaming/')) {
        addIssue(
          ['sinks', i, 'filter', 'resources', j],
          `format ocsf has no class for rows of streamed tables (${resource}): give them a sink with format envelope or graph`,
        );
      }
    });
  });

  if (isRecord(value.security) && value.security.require_tls === true) {
    for (const p of plaintextSecrets(value)) addIssue(p.path, `${p.message} (security.require_tls is true)`);
  }

  // A defender_streaming source reads alerts through a graph_security source of the event's tenant (by GUID): a
  // source, a source's tenant (`mssp/fabrikam`), or a source with tenants (the entry with the event's tenant).
  const targets = new Map<string, unknown[]>();
  elements(value.sources).forEach((s) => {
    if (!isRecord(s) || s.type !== 'graph_security' || typeof s.name !== 'string') return;
    const tenants = elements(s.tenants).filter(isRecord);
    targets.set(s.name, Array.isArray(s.tenants) ? tenants.map((t) => t.tenant_id) : [s.tenant_id]);
    for (const t of tenants) {
      if (typeof t.name === 'string') targets.set(`${s.name}${TENANT_SEPARATOR}${t.name}`, [t.tenant_id]);
    }
  });
  const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const hasGuid = (ids: unknown[]) => ids.some((id) => typeof id === 'string' && guid.test(id));
  elements(value.sources).forEach((source, i) => {
    if (!isRecord(source) || source.type !== 'defender_streaming') return;
    if (typeof source.graph_source === 'string') {
      const ids = targets.get(source.graph_source);
      if (!ids) {
        const names = [...targets.keys()].filter((n) => !n.includes(TENANT_SEPARATOR));
        addIssue(
          ['sources', i, 'graph_source'],
          `unknown graph_security source "${source.graph_source}" (graph_security sources: ${names.join(', ') || 'none'})`,
        );
      } else if (ids.length === 1 && typeof ids[0] === 'string' && !guid.test(ids[0])) {
        addIssue(
          ['sources', i, 'graph_source'],
          `its tenant_id "${ids[0]}" is a domain; streamed events name the tenant by GUID: give that source its tenant GUID`,
        );
      } else if (!hasGuid(ids)) {
        addIssue(
          ['sources', i, 'graph_source'],
          'none of its tenants has a tenant GUID as tenant_id; streamed events name the tenant by GUID',
        );
      }
    } else if (![...targets.values()].some(hasGuid)) {
      addIssue(
        ['sources', i],
        'needs a graph_security source whose tenant_id is a tenant GUID: it reads the alerts the stream names',
      );
    }
  });

  const server = isRecord(value.server) ? value.server : {};
  elements(value.sources).forEach((source, i) => {
    if (!isRecord(source) || source.type !== 'graph_security' || !isRecord(source.webhook)) return;
    if (source.webhook.enabled === true && server.public_url === undefined) {
      addIssue(
        ['sources', i, 'webhook', 'enabled'],
        'needs server.public_url (the https URL Graph sends notifications to)',
      );
    }
  });
}

function elements(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function uniqueNames(list: unknown, key: string, kind: string, addIssue: AddIssue): Set<string> {
  const seen = new Set<string>();
  elements(list).forEach((item, i) => {
    const name = isRecord(item) ? item.name : undefined;
    if (typeof name !== 'string') return;
    if (seen.has(name)) addIssue([key, i, 'name'], `duplicate ${kind} name "${name}"`);
    seen.add(name);
  });
  return seen;
}

/** The validated configuration, defaults applied. */
export type Config = z.output<typeof ConfigSchema>;
/** The configuration as written (before defaults), e.g. for tests that build one in code. */
export type ConfigInput = z.input<typeof ConfigSchema>;
export type RedisConfig = z.output<typeof RedisSchema>;
export type ServerConfig = z.output<typeof ServerSchema>;
export type LogConfig = z.output<typeof LogSchema>;
export type PipelineConfig = z.output<typeof PipelineSchema>;
export type SecurityConfig = z.output<typeof SecuritySchema>;
export type SourceConfig = z.output<typeof SourceSchema>;
export type GraphSourceConfig = z.output<typeof GraphSourceSchema>;
export type WebhookSourceConfig = z.output<typeof WebhookSourceSchema>;
export type DefenderStreamingSourceConfig = z.output<typeof DefenderStreamingSourceSchema>;
export type SinkConfig = z.output<typeof SinkSchema>;
export type SinkCommonConfig = z.output<typeof SinkCommonSchema>;
export type SplunkHecSinkConfig = z.output<typeof SplunkHecSinkSchema>;
export type KafkaSinkConfig = z.output<typeof KafkaSinkSchema>;
export type EventHubsSinkConfig = z.output<typeof EventHubsSinkSchema>;
export type SourceType = SourceConfig['type'];
export type SinkType = SinkConfig['type'];

/**
 * Where secrets sit in a `Config`, as pino `redact` paths (`sources[*].client_secret`, `sinks[*].sasl.password`, …).
 * Derived from the schema, so a new secret field is redacted without touching the logger.
 */
export const SECRET_PATHS: readonly string[] = Object.freeze(secretLeafPaths(ConfigSchema));

/** Whether a key name holds a secret (`token`, `client_secret`, …), wherever it appears. */
export function isSecretKey(key: string): key is SecretKey {
  return (SECRET_KEYS as readonly string[]).includes(key);
}
