/** Schemas of the sinks: where records go (CONTRACT.md "Configuration", "The record"). */
import { z } from 'zod';
import { RESOURCES } from '../record/types.js';
import { checkEntraAuth, entraShape, inferAuth } from './entra.js';
import {
  checkProxyUrl,
  CLOUDS,
  componentName,
  count,
  CLOUD_NAMES,
  crossCheck,
  filePath,
  hasSecret,
  hostPort,
  httpsUrl,
  httpUrl,
  millis,
  proxyUrlPair,
  secretPair,
  tenantId,
  type AuthMethod,
} from './fields.js';

export const SinkFilterSchema = z
  .strictObject({
    min_severity: z
      .enum(['informational', 'low', 'medium', 'high'])
      .optional()
      .describe('Only records at least this severe. Records of `unknown` severity pass only when this is unset.'),
    resources: z.array(z.enum(RESOURCES)).min(1).optional().describe('Only records of these Graph resources.'),
    providers: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Only records whose `provider` is one of these (e.g. `microsoftDefenderForEndpoint`).'),
    sources: z.array(z.string().min(1)).min(1).optional().describe('Only records ingested by these sources (by name).'),
  })
  .describe('Which records this sink receives. Default: all. Conditions combine with AND.');

/** Fields every sink has: identity, format, and the pipeline's batching, retry and dead-letter settings. */
const sinkCommonShape = {
  name: componentName('sink'),
  format: z
    .enum(['envelope', 'graph', 'ocsf'])
    .default('envelope')
    .describe(
      'Record format: `envelope` (alertbridge.record/v1 JSON), `graph` (the Graph object verbatim) or `ocsf` (OCSF Detection Finding, class 2004).',
    ),
  filter: SinkFilterSchema.optional(),
  batch: z
    .strictObject({
      max_records: count(500, 1, 10_000, 'Most records handed to the sink in one delivery.'),
    })
    .prefault({})
    .describe('Batching of deliveries.'),
  retry: z
    .strictObject({
      max_attempts: count(10, 1, 1000, 'Delivery attempts before a record is dead-lettered.'),
      initial_backoff_ms: millis(1000, 'Wait before the first retry; doubles (with jitter) on each further attempt.'),
      max_backoff_ms: millis(300_000, 'Longest wait between attempts. A `Retry-After` from the peer is honoured.'),
    })
    .superRefine(
      ...crossCheck((value, addIssue) => {
        const { initial_backoff_ms: initial, max_backoff_ms: max } = value;
        if (typeof initial === 'number' && typeof max === 'number' && initial > max) {
          addIssue(['initial_backoff_ms'], `must not exceed max_backoff_ms (${max})`);
        }
      }),
    )
    .prefault({})
    .describe('Retry of failed deliveries (retryable errors only; permanent errors dead-letter at once).'),
  concurrency: count(1, 1, 64, 'Deliveries in flight at once for this sink.'),
  dead_letter: z
    .strictObject({
      max_entries: count(
        100_000,
        1,
        100_000_000,
        'Most dead letters kept. Nothing is ever dropped: once full, records that fail for good stay in the sink queue (tried again at least 30 s apart), `alertbridge_dead_letter_full_total` counts it and an error is logged, until `alertbridge dlq replay` or `purge` makes room.',
      ),
    })
    .prefault({})
    .describe('Dead-letter queue of records that could not be delivered.'),
};

/** How often a sink whose credentials the peer refuses tries again; it holds its records meanwhile. */
function authPauseMs(refusal: string) {
  return millis(
    60_000,
    `While ${refusal}, the sink pauses: records stay queued without spending attempts, /readyz is false, \`alertbridge_sink_ready\` is 0, and delivery is retried this often (secret files are re-read each time).`,
    { min: 100 },
  );
}

/** The common fields alone, for `SinkCommonConfig`. */
export const SinkCommonSchema = z.strictObject(sinkCommonShape);

export const FileSinkSchema = z.strictObject({
  type: z.literal('file').describe('Appends NDJSON, one record per line, to a file or stdout.'),
  ...sinkCommonShape,
  path: filePath('File to append to (created if missing); `-` is standard output.'),
});

export const SplunkHecSinkSchema = z
  .strictObject({
    type: z.literal('splunk_hec').describe('Splunk HTTP Event Collector.'),
    ...sinkCommonShape,
    url: httpUrl('HEC base URL, e.g. `https://splunk.example.com:8088`.'),
    ...secretPair('token', 'HEC token.'),
    index: z.string().min(1).optional().describe("Splunk index. Default: the token's default index."),
    sourcetype: z.string().min(1).default('alertbridge:record').describe('Splunk `sourcetype` of each event.'),
    source: z
      .string()
      .min(1)
      .optional()
      .describe('Splunk `source` of each event. Default: `alertbridge:{source name}`.'),
    host: z.string().min(1).optional().describe("Splunk `host` of each event. Default: this machine's host name."),
    gzip: z.boolean().default(false).describe('Compress request bodies with gzip.'),
    ca_file: filePath('Extra trusted CA certificates (PEM) for `url`.').optional(),
    tls_verify: z
      .boolean()
      .default(true)
      .describe('Verify the HEC server certificate. Turn off only for testing; prefer `ca_file`.'),
    ...proxyUrlPair('the HEC requests'),
    max_events: count(500, 1, 100_000, 'Most events per HEC request; larger batches are split.'),
    max_bytes: count(
      1_000_000,
      1024,
      1_000_000_000,
      'Largest HEC request body (before gzip); larger batches are split.',
    ),
    request_timeout_ms: millis(30_000, 'Timeout of one HEC request.'),
    auth_pause_ms: millis(
      60_000,
      'While HEC refuses the token (401/403), the sink pauses: records stay queued without spending attempts, /readyz is false, and HEC is asked again at most this often, by one delivery for all queued batches (token_file is re-read each time).',
      { min: 100 },
    ),
    ack: z
      .strictObject({
        enabled: z
          .boolean()
          .default(false)
          .describe('Wait for indexer acknowledgement before a delivery counts (the token must have it enabled).'),
        timeout_ms: millis(300_000, 'How long to wait for an acknowledgement before resending the batch.'),
        poll_interval_ms: millis(1000, 'Time between acknowledgement status checks.'),
      })
      .prefault({})
      .describe('HEC indexer acknowledgement.'),
  })
  .superRefine(
    ...crossCheck((value, addIssue) => {
      if (!hasSecret(value, 'token')) addIssue(['token'], 'required (or token_file)');
      checkProxyUrl(value, addIssue);
    }),
  );

export const KafkaSaslSchema = z
  .strictObject({
    mechanism: z
      .enum(['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer'])
      .describe(
        "SASL mechanism. `oauthbearer` takes a token from `oauth_token` or, with `tenant_id`/`client_id`/`client_secret`, from Entra ID (Event Hubs' Kafka endpoint).",
      ),
    username: z.string().min(1).optional().describe('User name (`plain`, `scram-*`).'),
    ...secretPair('password', 'Password (`plain`, `scram-*`).'),
    ...secretPair('oauth_token', 'Bearer token (`oauthbearer`), typically a file kept fresh by a sidecar.'),
    tenant_id: tenantId('Entra ID tenant issuing the bearer token (`oauthbearer`).').optional(),
    client_id: z.string().min(1).optional().describe('Entra ID application (client) id (`oauthbearer`).'),
    ...secretPair('client_secret', 'Entra ID client secret (`oauthbearer`).'),
    scope: z
      .string()
      .min(1)
      .optional()
      .describe('Token scope (`oauthbearer` with Entra ID). Default: `https://{host of the first broker}/.default`.'),
    cloud: z
      .enum(CLOUD_NAMES)
      .optional()
      .describe(
        'Microsoft cloud of the Entra ID tenant (`oauthbearer`): `global` (default), `usgov`, `usgov_dod` or `china`. Sets the default `authority_url`.',
      ),
    authority_url: httpsUrl(
      'Entra ID authority override (`oauthbearer`). Default: from `cloud` (https://login.microsoftonline.com for `global`).',
      {
        allowLoopbackHttp: true,
      },
    ).optional(),
    ca_file: filePath('Extra trusted CA certificates (PEM) for `authority_url` (`oauthbearer`).').optional(),
  })
  .superRefine(
    ...crossCheck((value, addIssue) => {
      const mechanism = value.mechanism;
      if (typeof mechanism !== 'string') return;
      const entra = value.tenant_id !== undefined || value.client_id !== undefined || hasSecret(value, 'client_secret');
      if (mechanism !== 'oauthbearer' || !entra) {
        for (const key of ['cloud', 'authority_url', 'ca_file'] as const) {
          if (value[key] !== undefined)
            addIssue([key], 'only used with mechanism oauthbearer and tenant_id/client_id/client_secret');
        }
      }
      if (mechanism !== 'oauthbearer') {
        if (value.username === undefined) addIssue(['username'], `required for mechanism ${mechanism}`);
        if (!hasSecret(value, 'password'))
          addIssue(['password'], `required for mechanism ${mechanism} (or password_file)`);
        return;
      }
      const token = hasSecret(value, 'oauth_token');
      if (token && entra) {
        addIssue([], 'set either oauth_token or tenant_id/client_id/client_secret, not both');
      } else if (!token && !entra) {
        addIssue([], 'oauthbearer needs oauth_token (or oauth_token_file), or tenant_id, client_id and client_secret');
      } else if (entra) {
        if (value.tenant_id === undefined) addIssue(['tenant_id'], 'required with client_id/client_secret');
        if (value.client_id === undefined) addIssue(['client_id'], 'required with tenant_id/client_secret');
        if (!hasSecret(value, 'client_secret'))
          addIssue(['client_secret'], 'required with tenant_id/client_id (or client_secret_file)');
      }
    }),
  )
  .describe('SASL authentication. Default: none.');

const KafkaSinkObject = z.strictObject({
  type: z.literal('kafka').describe('Apache Kafka (or a Kafka-compatible endpoint such as Event Hubs or Redpanda).'),
  ...sinkCommonShape,
  brokers: z.array(hostPort('Bootstrap broker.', 'kafka:9092')).min(1).describe('Bootstrap brokers, `host:port`.'),
  topic: z
    .string()
    .regex(/^(?:[A-Za-z0-9._-]|\{resource\})+$/, {
      error: 'must be letters, digits, ".", "_", "-" (and {resource})',
    })
    .max(249)
    .default('security-alerts')
    .describe("Topic to produce to. `{resource}` is replaced by the record's resource (`alerts_v2`, `incidents`, …)."),
  client_id: z.string().min(1).default('alertbridge').describe('Kafka client id.'),
  compression: z
    .enum(['gzip', 'none', 'snappy', 'lz4', 'zstd'])
    .default('gzip')
    .describe(
      'Compression of produced batches: `gzip`, `none`, `snappy`, `lz4` or `zstd` (each tested against a real broker; see docs/kafka.md).',
    ),
  max_message_bytes: count(
    1_000_000,
    1024,
    100_000_000,
    "Largest message; a bigger record is dead-lettered instead of failing its batch. Keep below the broker's `message.max.bytes`.",
  ),
  request_timeout_ms: millis(30_000, 'Timeout of one produce request.'),
  auth_pause_ms: authPauseMs(
    'the brokers refuse authentication (SASL) or authorization (ACLs), or a topic does not exist (auto-create off)',
  ),
  tls: z
    .strictObject({
      enabled: z.boolean().default(false).describe('Connect with TLS.'),
      ca_file: filePath('Extra trusted CA certificates (PEM).').optional(),
      cert_file: filePath('Client certificate (PEM) for mutual TLS; with `key_file`.').optional(),
      key_file: filePath('Private key (PEM) of `cert_file`.').optional(),
      reject_unauthorized: z.boolean().default(true).describe('Verify the broker certificate.'),
    })
    .superRefine(
      ...crossCheck((value, addIssue) => {
        if ((value.cert_file === undefined) !== (value.key_file === undefined)) {
          addIssue([value.cert_file === undefined ? 'cert_file' : 'key_file'], 'cert_file and key_file go together');
        }
        if (value.enabled === false) {
          for (const key of ['ca_file', 'cert_file', 'key_file'] as const) {
            if (value[key] !== undefined) addIssue([key], 'only used with tls.enabled: true');
          }
        }
      }),
    )
    .prefault({})
    .describe('TLS to the brokers.'),
  sasl: KafkaSaslSchema.optional(),
});

/** Fills the Entra token scope from the first broker, which is what Event Hubs' Kafka endpoint expects. */
export const KafkaSinkSchema = KafkaSinkObject.transform((value) => {
  const sasl = value.sasl;
  if (sasl?.tenant_id === undefined) return value;
  const host = value.brokers[0]?.replace(/:\d+$/, '') ?? '';
  const scope = sasl.scope ?? `https://${host}/.default`;
  return {
    ...value,
    sasl: { ...sasl, scope, authority_url: sasl.authority_url ?? CLOUDS[sasl.cloud ?? 'global'].authority_url },
  };
});

const EventHubsSinkObject = z
  .strictObject({
    type: z.literal('azure_event_hubs').describe('Azure Event Hubs.'),
    ...sinkCommonShape,
    ...secretPair(
      'connection_string',
      'Shared access connection string (`Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=…]`). Or use `fully_qualified_namespace` with Entra ID.',
    ),
    fully_qualified_namespace: z
      .string()
      .regex(/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/, {
        error: 'must be a host name (e.g. my-ns.servicebus.windows.net)',
      })
      .optional()
      .describe(
        'Namespace host, e.g. `my-ns.servicebus.windows.net`, for Entra ID auth (role Azure Event Hubs Data Sender).',
      ),
    tenant_id: tenantId('Entra ID tenant of the namespace (with `fully_qualified_namespace`).').optional(),
    ...entraShape(' (with `fully_qualified_namespace`)'),
    event_hub_name: z
      .string()
      .min(1)
      .optional()
      .describe('Event hub to send to. Default: the `EntityPath` of `connection_string`.'),
    max_batch_bytes: count(
      1_048_576,
      1024,
      104_857_600,
      'Largest batch sent at once. The tier caps it: 262144 (256 KB) on Basic, 1048576 (1 MB) on Standard and above.',
    ),
    auth_pause_ms: authPauseMs(
      'the hub refuses the key or token (or Entra ID refuses the app), or the event hub does not exist',
    ),
    transport: z
      .enum(['amqp', 'websocket'])
      .optional()
      .describe(
        '`amqp`: AMQP over TLS on port 5671, never proxied. `websocket`: AMQP over WebSockets on port 443 (`wss://<namespace>/$servicebus/websocket`), through `proxy_url`, else the `HTTPS_PROXY` / `NO_PROXY` environment. Default: `websocket` with `proxy_url`, else `amqp`.',
      ),
    ...secretPair(
      'proxy_url',
      'HTTP proxy for the connection to the namespace and the Entra ID token requests, `http://[user:password@]host:port` (CONNECT tunnels; TLS stays end to end). Implies `transport: websocket`. Default: none; with `transport: websocket`, the `HTTPS_PROXY` / `NO_PROXY` environment.',
    ),
  })
  .superRefine(
    ...crossCheck((value, addIssue) => {
      const connection = hasSecret(value, 'connection_string');
      const namespace = value.fully_qualified_namespace !== undefined;
      if (connection && namespace) {
        addIssue(['fully_qualified_namespace'], 'set either connection_string or fully_qualified_namespace, not both');
      } else if (!connection && !namespace) {
        addIssue([], 'needs connection_string (or connection_string_file) or fully_qualified_namespace');
      }
      const entraKeys = ['tenant_id', 'client_id', 'auth', 'client_secret', 'client_secret_file', 'certificate_file'];
      if (namespace) {
        checkEntraAuth(value, addIssue);
        if (value.tenant_id === undefined && value.auth !== 'managed_identity') {
          addIssue(['tenant_id'], 'required with fully_qualified_namespace (except with auth: managed_identity)');
        }
      } else if (connection) {
        for (const key of entraKeys) {
          if (value[key] !== undefined) addIssue([key], 'only used with fully_qualified_namespace');
        }
      }
      checkProxyUrl(value, addIssue);
      if (value.transport === 'amqp' && hasSecret(value, 'proxy_url')) {
        addIssue(['transport'], 'must be websocket with proxy_url (AMQP on port 5671 cannot go through an HTTP proxy)');
      }
      const entityPath =
        typeof value.connection_string === 'string' ? entityPathOf(value.connection_string) : undefined;
      if (value.event_hub_name === undefined) {
        if (namespace) addIssue(['event_hub_name'], 'required with fully_qualified_namespace');
        else if (typeof value.connection_string === 'string' && entityPath === undefined) {
          addIssue(['event_hub_name'], 'required (connection_string has no EntityPath)');
        }
      } else if (entityPath !== undefined && entityPath !== value.event_hub_name) {
        addIssue(['event_hub_name'], 'differs from the EntityPath of connection_string');
      }
    }),
  );

function entityPathOf(connectionString: string): string | undefined {
  const match = /(?:^|;)\s*EntityPath\s*=\s*([^;]+)/i.exec(connectionString);
  return match?.[1]?.trim();
}

/** Fills `event_hub_name` from the connection string, the transport, and the auth method and authority for Entra ID. */
export const EventHubsSinkSchema = EventHubsSinkObject.transform((value) => {
  const event_hub_name =
    value.event_hub_name ??
    (value.connection_string !== undefined ? entityPathOf(value.connection_string) : undefined) ??
    '';
  const transport = value.transport ?? (value.proxy_url !== undefined ? 'websocket' : 'amqp');
  if (value.fully_qualified_namespace === undefined) return { ...value, event_hub_name, transport };
  return {
    ...value,
    event_hub_name,
    transport,
    auth: inferAuth(value) as AuthMethod,
    authority_url: value.authority_url ?? CLOUDS[value.cloud].authority_url,
  };
});

export const SinkSchema = z
  .discriminatedUnion('type', [FileSinkSchema, SplunkHecSinkSchema, KafkaSinkSchema, EventHubsSinkSchema])
  .describe('A destination for records, by `type`.');
