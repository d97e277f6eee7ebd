/** Schemas of the sources: where records come from (CONTRACT.md "Configuration"). */
import { z } from 'zod';
import { RESOURCES, type Resource } from '../record/types.js';
import { checkEntraAuth, entraShape, inferAuth } from './entra.js';
import {
  checkProxyUrl,
  CLOUDS,
  componentName,
  count,
  crossCheck,
  cronExpression,
  filePath,
  hasSecret,
  hostPort,
  httpsUrl,
  isRecord,
  millis,
  proxyUrlPair,
  secretPair,
  tenantId,
  type AddIssue,
  type AuthMethod,
} from './fields.js';
import { checkTenants, graphTenantSchema, type TenantOf } from './tenants.js';

/** Graph change notifications for the source (legacy `alerts` only; polling stays on as the safety net). */
export const GraphWebhookSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        'Subscribe to Graph change notifications for legacy `alerts`, delivered to `server.public_url`. Needs `SecurityEvents.ReadWrite.All`, `alerts` in `resources` and `server.public_url`. Retired with legacy alerts on 2026-10-15 in the global cloud (`alertbridge validate` warns).',
      ),
    ...secretPair(
      'client_state',
      'Shared value Graph echoes in every notification, checked on receipt (at most 128 characters). Required when `enabled`.',
      { maxLength: 128 },
    ),
    resource_filter: z
      .string()
      .min(1)
      .optional()
      .describe(
        "OData `$filter` for the subscription resource, e.g. `vendorInformation/provider eq 'ASC'`. Default: all alerts.",
      ),
    expiration_minutes: z
      .number()
      .int()
      .min(1)
      .max(43_200)
      .default(4320)
      .describe(
        'Lifetime asked for each subscription (Graph allows at most 43200 minutes for security alerts). It is renewed once half of it has passed, and recreated when Graph no longer knows it.',
      ),
  })
  .superRefine(
    ...crossCheck((value, addIssue) => {
      if (value.enabled === true && !hasSecret(value, 'client_state')) {
        addIssue(['client_state'], 'required when webhook.enabled is true (or set client_state_file)');
      }
    }),
  )
  .describe('Graph change notifications (webhooks).');

/** Write-back of SIEM triage to Graph (`POST /sync/{source}`, docs/sync.md). */
export const GraphSyncSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        'Accept triage changes (status, classification, determination, assignment, comments, incident tags) at `POST /sync/{source}` and write them to Graph. Needs `SecurityAlert.ReadWrite.All` (alerts_v2) and/or `SecurityIncident.ReadWrite.All` (incidents) granted to the app.',
      ),
    ...secretPair('token', 'Bearer token a SIEM sends to `/sync/{source}` (`Authorization: Bearer …`).'),
    ...secretPair(
      'hmac_secret',
      'Key of an HMAC-SHA256 signature of the request body (as for partner push). With `token` too, a request needs both.',
    ),
    hmac_replay_window_ms: millis(
      300_000,
      'Signed requests whose timestamp is further than this from now are rejected (replay protection).',
    ),
    max_attempts: count(
      10,
      1,
      1000,
      "Times a change is tried when Graph keeps failing (429/5xx after the client's own retries, network errors) before it is dead-lettered as `failed`. Each try waits twice as long as the one before (from 1 s, at most 5 min).",
    ),
    kafka: z
      .strictObject({
        brokers: z.array(hostPort('A bootstrap broker.', 'kafka:9092')).min(1).describe('Bootstrap brokers.'),
        topic: z.string().min(1).describe('Topic the SIEM writes changes to (each message: one change or an array).'),
        group_id: z
          .string()
          .min(1)
          .default('alertbridge-sync')
          .describe("Consumer group; offsets are committed only after a message's changes are queued."),
        tls: z
          .strictObject({
            enabled: z.boolean().default(false).describe('Connect with TLS.'),
            ca_file: filePath('Extra trusted CA certificates (PEM).').optional(),
            cert_file: filePath('Client certificate (PEM) for mutual TLS, with `key_file`.').optional(),
            key_file: filePath('Client key (PEM) for mutual TLS.').optional(),
            reject_unauthorized: z.boolean().default(true).describe('Verify the broker certificate.'),
          })
          .prefault({})
          .describe('TLS to the brokers.'),
        sasl: z
          .strictObject({
            mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).describe('SASL mechanism.'),
            username: z.string().min(1).describe('User name.'),
            ...secretPair('password', 'Password.'),
          })
          .optional()
          .describe('SASL authentication (OAUTHBEARER is not offered for this input yet).'),
      })
      .optional()
      .describe(
        'Also read changes from a Kafka topic, for SIEMs that can only write to one (docs/sync.md). The messages are the bodies `POST /sync/{source}` takes.',
      ),
    outcome_ttl_ms: millis(
      604_800_000,
      'How long a change and its outcome stay queryable (`GET /sync/{source}/changes/{id}`, `alertbridge sync status`) after it finished (default 7 days).',
      { min: 60_000 },
    ),
  })
  .superRefine(
    ...crossCheck((value, addIssue) => {
      if (value.enabled === true && !hasSecret(value, 'token') && !hasSecret(value, 'hmac_secret')) {
        addIssue([], 'sync.enabled needs token or hmac_secret (or their _file forms), or both');
      }
    }),
  )
  .describe('Write-back of SIEM triage to Graph.');

const GRAPH_DEFAULT_POLL_INTERVAL_MS = 60_000;

/** alerts_v2 `serviceSource` values (Graph's `microsoft.graph.security.serviceSource`). */
export const SERVICE_SOURCES = [
  'unknown',
  'microsoftDefenderForEndpoint',
  'microsoftDefenderForIdentity',
  'microsoftDefenderForCloudApps',
  'microsoftDefenderForOffice365',
  'microsoft365Defender',
  'azureAdIdentityProtection',
  'microsoftAppGovernance',
  'dataLossPrevention',
  'microsoftDefenderForCloud',
  'microsoftSentinel',
  'microsoftInsiderRiskManagement',
] as const;
export const SEVERITIES = ['unknown', 'informational', 'low', 'medium', 'high'] as const;
export const ALERT_STATUSES = ['unknown', 'new', 'inProgress', 'resolved'] as const;
export const INCIDENT_STATUSES = ['active', 'resolved', 'inProgress', 'redirected', 'awaitingAction'] as const;

/** Source-side filters, compiled into Graph's `$filter` (documented filterable properties only). */
export const GraphFilterSchema = z
  .strictObject({
    service_source: z
      .array(z.enum(SERVICE_SOURCES))
      .min(1)
      .optional()
      .describe('alerts_v2 only: read only alerts of these `serviceSource` values. Default: all.'),
    severity: z
      .array(z.enum(SEVERITIES))
      .min(1)
      .optional()
      .describe('alerts_v2 and incidents: only these severities. Default: all.'),
    status: z
      .array(z.enum([...new Set([...ALERT_STATUSES, ...INCIDENT_STATUSES])] as [string, ...string[]]))
      .min(1)
      .optional()
      .describe(
        `alerts_v2 and incidents: only these statuses; each resource takes the values it knows (alerts_v2: ${ALERT_STATUSES.join(', ')}; incidents: ${INCIDENT_STATUSES.join(', ')}). Default: all.`,
      ),
  })
  .describe(
    'Filters Graph applies before sending (`$filter=… and serviceSource in (…)`): fewer requests and nothing unwanted in the queues. Legacy `alerts`, secure scores and control profiles are not filtered.',
  );

/** The fields of a `graph_security` source, apart from its `tenants` (built from some of them). */
const graphSourceFields = {
  type: z
    .literal('graph_security')
    .describe('Polls the Microsoft Graph Security API of one tenant, or of each of its `tenants`.'),
  name: componentName('source'),
  tenant_id: tenantId(
    'Entra ID tenant to read alerts from: its GUID or a verified domain. Required, unless `tenants` lists them.',
  ),
  ...entraShape(' (one app can serve many tenants once each has granted admin consent)'),
  graph_url: httpsUrl(
    'Microsoft Graph endpoint override. Default: from `cloud` (https://graph.microsoft.com for `global`).',
    {
      allowLoopbackHttp: true,
    },
  ).optional(),
  ca_file: filePath('Extra trusted CA certificates (PEM) for `graph_url` and `authority_url`.').optional(),
  resources: z
    .array(z.enum(RESOURCES))
    .min(1)
    .default((): Resource[] => ['alerts_v2', 'incidents'])
    .describe(
      'Graph resources to ingest: `alerts_v2`, `incidents`, `alerts` (legacy, federated; the only one with change notifications; retired on 2026-10-15 in the global cloud, where `alertbridge validate` warns about it), `secure_scores`, `secure_score_control_profiles`. Default: `[alerts_v2, incidents]`.',
    ),
  poll_interval_ms: z
    .number()
    .int()
    .min(1000)
    .max(86_400_000)
    .optional()
    .describe(
      `Time between polls of each resource. Default: ${GRAPH_DEFAULT_POLL_INTERVAL_MS} (one minute) unless \`poll_schedule\` is set; not both.`,
    ),
  poll_schedule: cronExpression(
    'Poll on a cron schedule instead of an interval, e.g. `*/5 * * * *` (5 fields, or 6 with seconds first). Not with `poll_interval_ms`.',
  ).optional(),
  initial_lookback_ms: millis(86_400_000, 'How far back the very first poll of a resource reaches (default one day).'),
  overlap_ms: millis(
    300_000,
    'Each poll re-reads this much before the last watermark, to catch late-indexed alerts; the overlap is deduplicated.',
    { min: 0 },
  ),
  future_skew_ms: millis(
    300_000,
    "How far past the poll's start an update time may lie. Later ones (an alert dated 2099) are delivered, logged and counted (`alertbridge_graph_future_items_total`) but never move the watermark, which would otherwise stop polling.",
    { min: 0 },
  ),
  stuck_window_alert_ms: millis(
    3_600_000,
    'A window whose every poll has failed this long (Graph answering 500 for hours) is reported as stuck: an error log naming the window at each failed poll, `alertbridge_poll_stuck_seconds`, and a readiness detail. `alertbridge cursor skip` moves past it.',
    { min: 1000 },
  ),
  expect_alerts_within_ms: z
    .number()
    .int()
    .min(60_000)
    .optional()
    .describe(
      'A tenant silent this long is a health condition (`tenant_silent`, docs/health.md): no new record of an alert or incident resource since the later of its watermark and the first poll. Off when unset.',
    ),
  budget_exhausted_alert_ms: millis(
    600_000,
    'The request budget exhausted this long (every request of the tenant waiting for a slot) is a health condition (`budget_exhausted`, docs/health.md).',
    { min: 1000 },
  ),
  page_size: count(500, 1, 1000, 'Objects requested per page (`$top`). Legacy alerts apply it per provider.'),
  request_budget_per_minute: count(
    150,
    1,
    10_000,
    'Graph requests per minute this source may make, counted in any 60 s by arrival at Graph (a request holds its slot until its answer is back). Graph allows 150 per minute per app per tenant on security resources.',
  ),
  request_timeout_ms: millis(
    30_000,
    'Timeout of one Graph or token request. A Graph request still unanswered twice this long after taking its budget slot (a wait for a connection included) is abandoned and tried again.',
  ),
  ...proxyUrlPair('Graph and the token endpoint of this source'),
  max_response_bytes: count(
    16_777_216,
    65_536,
    1_073_741_824,
    "Largest Graph response body read (default 16 MiB). A larger page is abandoned as it streams in (never buffered whole) and asked for again with half its `$top`, down to one object; a single object larger than this fails its window with an error that says so. Parsing a page takes about three times its size in heap: with the image's `--max-old-space-size=192`, 16 MiB leaves room for the rest; raise both together.",
  ),
  webhook: GraphWebhookSchema.prefault({}),
  sync: GraphSyncSchema.prefault({}),
  filter: GraphFilterSchema.prefault({}),
  late_evidence: z
    .strictObject({
      reread_after_ms: z
        .array(z.number().int().min(1000).max(86_400_000))
        .max(4)
        .default(() => [300_000, 1_800_000])
        .describe(
          "alerts_v2 created this long ago are listed once more, for each value (Defender adds evidence and entities after an alert is first listed, sometimes without moving lastUpdateDateTime). Each costs one list request per poll from the tenant's budget. `[]` turns it off.",
        ),
    })
    .prefault({})
    .describe('Re-reads of recent alerts for evidence that arrives late.'),
};

export type GraphSourceFields = typeof graphSourceFields;

const GraphTenantSchema = graphTenantSchema(graphSourceFields);

const GraphSourceObject = z
  .strictObject({
    ...graphSourceFields,
    tenant_id: graphSourceFields.tenant_id.optional(),
    tenants: z
      .array(GraphTenantSchema)
      .min(1)
      .optional()
      .describe(
        'Customer tenants read with this one multi-tenant app registration (an MSSP), instead of `tenant_id`. Each entry runs as its own source named `{source}/{tenant}`: its own request budget, cursors, failure state, leases, metric labels and records (`source: {source}/{tenant}`), as separate sources would. Each tenant must have granted admin consent (`alertbridge tenants consent-url`). See docs/operations.md#mssp-many-tenants.',
      ),
  })
  .superRefine(
    ...crossCheck((value, addIssue) => {
      checkTenants(value, addIssue, checkResourceRules);
      checkEntraAuth(value, addIssue);
      checkProxyUrl(value, addIssue);
      checkResourceRules(value, addIssue);
    }),
  );

/**
 * The rules between a source's polling fields (poll interval or schedule, resources, filter, webhook), on unvalidated
 * data. Also run for each tenant entry on its effective settings (tenants.ts), with `scope` naming what reads them.
 */
function checkResourceRules(value: Record<string, unknown>, addIssue: AddIssue, scope = 'source'): void {
  if (value.poll_interval_ms !== undefined && value.poll_schedule !== undefined) {
    addIssue(['poll_schedule'], 'set either poll_interval_ms or poll_schedule, not both');
  }
  const resources = value.resources;
  if (!Array.isArray(resources)) return;
  resources.forEach((resource, i) => {
    if (resources.indexOf(resource) < i) addIssue(['resources', i], `duplicate resource "${String(resource)}"`);
  });
  const filter = value.filter;
  if (isRecord(filter) && Array.isArray(filter.status)) {
    const statuses = filter.status as string[];
    for (const [resource, known] of [
      ['alerts_v2', ALERT_STATUSES],
      ['incidents', INCIDENT_STATUSES],
    ] as const) {
      if (resources.includes(resource) && !statuses.some((st) => (known as readonly string[]).includes(st))) {
        addIssue(
          ['filter', 'status'],
          `none of ${statuses.join(', ')} is a status of ${resource} (${known.join(', ')}): ${resource} would be read unfiltered`,
        );
      }
    }
  }
  if (isRecord(filter) && filter.service_source !== undefined && !resources.includes('alerts_v2')) {
    addIssue(['filter', 'service_source'], `applies to alerts_v2 only, which this ${scope} does not read`);
  }
  const webhook = value.webhook;
  if (isRecord(webhook) && webhook.enabled === true && !resources.includes('alerts')) {
    addIssue(['webhook', 'enabled'], 'change notifications exist only for legacy alerts: add alerts to resources');
  }
}

/** Fills what the user may leave out: the auth method, the cloud's endpoints, the poll interval. */
export const GraphSourceSchema = GraphSourceObject.transform((value) => ({
  ...value,
  // Validation requires it without `tenants`; with them, expandTenants (tenants.ts) sets each entry's.
  tenant_id: value.tenant_id ?? '',
  auth: inferAuth(value) as AuthMethod,
  graph_url: value.graph_url ?? CLOUDS[value.cloud].graph_url,
  authority_url: value.authority_url ?? CLOUDS[value.cloud].authority_url,
  poll_interval_ms: defaultPollInterval(value),
  /** For a source expanded from a `tenants` entry: the source it was listed under and the entry's name. */
  tenant_of: undefined as TenantOf | undefined,
}));

/** The poll interval in force: none with a cron schedule, else the one given or the default. */
export function defaultPollInterval(value: { poll_interval_ms?: number; poll_schedule?: string }): number | undefined {
  return value.poll_schedule === undefined ? (value.poll_interval_ms ?? GRAPH_DEFAULT_POLL_INTERVAL_MS) : undefined;
}

export const WebhookSourceSchema = z
  .strictObject({
    type: z.literal('webhook').describe('Accepts Graph-shaped alerts pushed by a partner to `POST /ingest/{name}`.'),
    name: componentName('source'),
    ...secretPair('token', 'Bearer token the partner sends (`Authorization: Bearer …`).'),
    ...secretPair(
      'hmac_secret',
      'Key of an HMAC-SHA256 signature of the request body sent by the partner. With `token` too, a request needs both.',
    ),
    hmac_replay_window_ms: millis(
      300_000,
      'Signed requests whose timestamp is further than this from now are rejected (replay protection).',
    ),
    tenant_id: tenantId('Tenant assigned to pushed alerts that carry none.').optional(),
    future_skew_ms: millis(
      300_000,
      'Pushed alerts whose update time (`lastUpdateDateTime`, `lastModifiedDateTime`) is further than this ahead of ' +
        "this server's clock are refused (422): a revision from the future would make every later update look stale.",
      { min: 0 },
    ),
  })
  .superRefine(
    ...crossCheck((value, addIssue) => {
      if (!hasSecret(value, 'token') && !hasSecret(value, 'hmac_secret')) {
        addIssue([], 'needs token or hmac_secret (or their _file forms), or both');
      }
    }),
  );

const DefenderStreamingObject = z
  .strictObject({
    type: z
      .literal('defender_streaming')
      .describe(
        "Reads the Defender XDR Streaming API from the customer's Event Hub: each AlertInfo/AlertEvidence event makes the tenant's `graph_security` source read that alert from Graph (`via: streaming`), many events for one alert costing one request.",
      ),
    name: componentName('source'),
    ...secretPair(
      'connection_string',
      'Shared access connection string of the Event Hub the Streaming API writes to (`Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=…]`, a policy with Listen). Or use `fully_qualified_namespace` with Entra ID.',
    ),
    fully_qualified_namespace: z
      .string()
      .regex(/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/, {
        error: 'must be a host name (e.g. my-ns.servicebus.windows.net)',
      })
      .optional()
      .describe(
        'Namespace host, e.g. `my-ns.servicebus.windows.net`, for Entra ID auth (role Azure Event Hubs Data Receiver).',
      ),
    tenant_id: tenantId('Entra ID tenant of the namespace (with `fully_qualified_namespace`).').optional(),
    ...entraShape(' (with `fully_qualified_namespace`)'),
    event_hub_name: z
      .string()
      .min(1)
      .optional()
      .describe('Event hub to read. Default: the `EntityPath` of `connection_string`.'),
    consumer_group: z
      .string()
      .min(1)
      .default('$Default')
      .describe('Consumer group to read as (give alertbridge its own when other readers share the hub).'),
    graph_source: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The `graph_security` source that reads the alerts (its tenant, credentials and request budget); events of other tenants are skipped. Default: per event, the `graph_security` source whose `tenant_id` (a GUID) is the event's `tenantId`.",
      ),
    start_position: z
      .enum(['latest', 'earliest'])
      .default('latest')
      .describe(
        'Where a partition without a checkpoint starts: `latest` (new events only; polling covers the past) or `earliest` (everything the hub retains, at one Graph request per alert). Checkpoints live in Redis and win over this.',
      ),
    max_event_bytes: count(
      1_048_576,
      1024,
      104_857_600,
      'Events larger than this are skipped unread (counted as `oversized`). The Streaming API writes up to 1 MB per event on Standard.',
    ),
    tables: z
      .array(
        z
          .string()
          .regex(/^[A-Za-z][A-Za-z0-9]{0,99}$/, {
            error: 'must be an Advanced Hunting table name (letters and digits, e.g. DeviceProcessEvents)',
          })
          .refine((t) => t !== 'AlertInfo' && t !== 'AlertEvidence', {
            error: 'AlertInfo and AlertEvidence are read as triggers (the alert comes from Graph), not passed through',
          }),
      )
      .default([])
      .describe(
        'Other streamed Advanced Hunting tables to pass through as records of their own (`resource: streaming/<Table>`, e.g. `DeviceProcessEvents`, `EmailEvents`); a sink receives them only when its `filter.resources` names them (or `streaming/*`). Events of tables not listed are counted (`table_not_allowed`) and skipped.',
      ),
    tables_dedup_ttl_ms: millis(
      3_600_000,
      'How long a row of `tables:` is remembered for dedup (default one hour, instead of `pipeline.dedup_ttl_ms`): rows are telemetry, far more than alerts, each costs a Redis key for this long, and the stream repeats a row when a partition is read again after a crash, minutes later.',
    ),
  })
  .superRefine(
    ...crossCheck((value, addIssue) => {
      const connection = hasSecret(value, 'connection_string');
      const namespace = value.fully_qualified_namespace !== undefined;
      if (Array.isArray(value.tables)) {
        const seen = new Set<unknown>();
        value.tables.forEach((t, i) => {
          if (seen.has(t)) addIssue(['tables', i], `duplicate table "${String(t)}"`);
          seen.add(t);
        });
      }
      if (connection && namespace) {
        addIssue(['fully_qualified_namespace'], 'set either connection_string or fully_qualified_namespace, not both');
      } else if (!connection && !namespace) {
        addIssue([], 'needs connection_string (or connection_string_file) or fully_qualified_namespace');
      }
      if (namespace) {
        checkEntraAuth(value, addIssue);
        if (value.tenant_id === undefined && value.auth !== 'managed_identity') {
          addIssue(['tenant_id'], 'required with fully_qualified_namespace (except with auth: managed_identity)');
        }
        if (value.event_hub_name === undefined) addIssue(['event_hub_name'], 'required with fully_qualified_namespace');
      } else if (connection) {
        for (const key of [
          'tenant_id',
          'client_id',
          'auth',
          'client_secret',
          'client_secret_file',
          'certificate_file',
        ]) {
          if (value[key] !== undefined) addIssue([key], 'only used with fully_qualified_namespace');
        }
        const entityPath =
          typeof value.connection_string === 'string' ? entityPathOf(value.connection_string) : undefined;
        if (value.event_hub_name === undefined && typeof value.connection_string === 'string' && !entityPath) {
          addIssue(['event_hub_name'], 'required (connection_string has no EntityPath)');
        } else if (
          entityPath !== undefined &&
          value.event_hub_name !== undefined &&
          entityPath !== value.event_hub_name
        ) {
          addIssue(['event_hub_name'], 'differs from the EntityPath of connection_string');
        }
      }
    }),
  );

function entityPathOf(connectionString: string): string | undefined {
  return /(?:^|;)\s*EntityPath\s*=\s*([^;]+)/i.exec(connectionString)?.[1]?.trim();
}

/** Fills `event_hub_name` from the connection string, and the auth method and authority for Entra ID. */
export const DefenderStreamingSourceSchema = DefenderStreamingObject.transform((value) => {
  const event_hub_name =
    value.event_hub_name ?? (value.connection_string !== undefined ? entityPathOf(value.connection_string) : '') ?? '';
  if (value.fully_qualified_namespace === undefined) return { ...value, event_hub_name };
  return {
    ...value,
    event_hub_name,
    auth: inferAuth(value) as AuthMethod,
    authority_url: value.authority_url ?? CLOUDS[value.cloud].authority_url,
  };
});

export const SourceSchema = z
  .discriminatedUnion('type', [GraphSourceSchema, WebhookSourceSchema, DefenderStreamingSourceSchema])
  .describe('A source of records, by `type`.');
