/** Config of the `kafka` sink: its fields and defaults, the only place they are stated. */
import { z } from 'zod';
import {
  authPauseMs,
  CLOUDS,
  CLOUD_NAMES,
  count,
  crossCheck,
  filePath,
  hasSecret,
  hostPort,
  httpsUrl,
  KAFKA_TOPIC,
  millis,
  nameTemplate,
  secretPair,
  sinkCommonShape,
  tenantId,
} from '../kit.js';

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
  topic: nameTemplate(
    KAFKA_TOPIC,
    'Topic to produce to, e.g. `security-alerts` or `alerts.{tenant_id}` (a batch goes to each of its topics in one request).',
  ).default('security-alerts'),
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

export type KafkaSinkConfig = z.output<typeof KafkaSinkSchema>;
/** What a caller building the sink without the loader (tests, benchmarks) writes: the config before defaults. */
export type KafkaSinkOptions = Omit<z.input<typeof KafkaSinkSchema>, 'type'>;

/** The registry's name for this sink's schema. */
export const schema = KafkaSinkSchema;
