/** Config of the `azure_event_hubs` sink: its fields and defaults, the only place they are stated. */
import { z } from 'zod';
import {
  authPauseMs,
  checkEntraAuth,
  checkProxyUrl,
  CLOUDS,
  count,
  crossCheck,
  entraShape,
  EVENT_HUB_NAME,
  hasSecret,
  inferAuth,
  nameTemplate,
  secretPair,
  sinkCommonShape,
  tenantId,
  type AuthMethod,
} from '../kit.js';

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
    event_hub_name: nameTemplate(
      EVENT_HUB_NAME,
      'Event hub to send to, e.g. `alerts` or `{tenant}-alerts` (a template needs a namespace-level `connection_string`, without `EntityPath`, or `fully_qualified_namespace`). Default: the `EntityPath` of `connection_string`.',
    ).optional(),
    max_hub_clients: count(
      16,
      1,
      1000,
      'With a templated `event_hub_name`: producer clients kept open (one per hub, each an AMQP link); past it the least recently used idle one is closed, and opened again when a record needs it.',
    ),
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
      } else if (typeof value.event_hub_name === 'string' && value.event_hub_name.includes('{')) {
        if (entityPath !== undefined)
          addIssue(
            ['event_hub_name'],
            'a template names many hubs, but connection_string is for one (EntityPath): use a namespace-level policy without EntityPath',
          );
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

export type EventHubsSinkConfig = z.output<typeof EventHubsSinkSchema>;
/** What a caller building the sink without the loader (tests, benchmarks) writes: the config before defaults. */
export type EventHubsSinkInput = Omit<z.input<typeof EventHubsSinkObject>, 'type'>;

/** The registry's name for this sink's schema. */
export const schema = EventHubsSinkSchema;
