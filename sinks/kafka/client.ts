/**
 * The kafkajs client options of the `kafka` sink that are not about producing: TLS, SASL (PLAIN, SCRAM-SHA-256/512,
 * OAUTHBEARER) and where kafkajs's logs go.
 *
 * Secrets held in files are re-read each time the client authenticates a new connection, so a rotated password
 * or a token file kept fresh by a sidecar is picked up without a restart (credentials that "fail quietly" after a
 * rotation are a known pain of other connectors). The value read when the config was loaded is the fallback.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import kafkajs, { type LogEntry, type OauthbearerProviderResponse, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import { createCredential, isEntraRefusal, RetryableError, withSystemRoots } from '../kit.js';
import type { KafkaSinkConfig } from './config.js';

const { logLevel } = kafkajs;

/** `tls` of a kafka sink, defaults applied by its schema. */
export type KafkaTlsOptions = KafkaSinkConfig['tls'];

/** `sasl` of a kafka sink. The config loader has already read each `*_file` into its value. */
export type KafkaSaslOptions = NonNullable<KafkaSinkConfig['sasl']>;

/**
 * Name of the error the token provider throws when Entra ID refuses the app's credentials: like a SASL refusal, a
 * condition only an operator can fix, so the sink pauses on it.
 */
export const CREDENTIALS_REFUSED = 'KafkaCredentialsRefusedError';

/** Reads a PEM or secret file for the sink's start; a missing file is a configuration error, said plainly. */
function readConfigFile(path: string, what: string, sink: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`kafka sink '${sink}': cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The current content of a secret file, or undefined when it cannot be read right now. */
function freshSecret(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8').replace(/[\r\n]+$/, '') || undefined;
  } catch {
    return undefined;
  }
}

/**
 * kafkajs `ssl`: false without TLS, else Node TLS options with the configured CA and client certificate. `ca_file`
 * is extra, as documented: Node's `ca` replaces the bundled roots, so they are passed along with it (a broker with
 * a public certificate still verifies when a corporate CA is added).
 */
export function tlsOptions(tls: KafkaTlsOptions | undefined, sink: string): ConnectionOptions | false {
  if (!tls?.enabled) return false;
  return {
    rejectUnauthorized: tls.reject_unauthorized,
    ...(tls.ca_file !== undefined && { ca: withSystemRoots(readConfigFile(tls.ca_file, 'tls.ca_file', sink)) }),
    ...(tls.cert_file !== undefined && { cert: readConfigFile(tls.cert_file, 'tls.cert_file', sink) }),
    ...(tls.key_file !== undefined && { key: readConfigFile(tls.key_file, 'tls.key_file', sink) }),
  };
}

/** kafkajs `sasl`, or undefined without SASL. */
export function saslOptions(
  sasl: KafkaSaslOptions | undefined,
  brokers: readonly string[],
  sink: string,
  logger: Logger,
): SASLOptions | undefined {
  if (!sasl) return undefined;
  if (sasl.mechanism !== 'oauthbearer') {
    const username = sasl.username ?? '';
    // A getter: kafkajs reads `password` at every authentication, so a rotated password_file takes effect.
    return {
      mechanism: sasl.mechanism,
      username,
      get password() {
        return freshSecret(sasl.password_file) ?? sasl.password ?? '';
      },
    };
  }
  return { mechanism: 'oauthbearer', oauthBearerProvider: oauthBearerProvider(sasl, brokers, sink, logger) };
}

/** Marks an error as final for kafkajs's own retrier too, so it is not retried twice. */
function final<E extends Error>(err: E, retriable: boolean): E {
  return Object.assign(err, { retriable });
}

/**
 * Bearer tokens for SASL/OAUTHBEARER: from Entra ID (client credentials, scope `https://{namespace}/.default`, the
 * form Event Hubs' Kafka endpoint takes; `@azure/identity` caches and refreshes them), or from a token string/file.
 * kafkajs asks on every new connection and on re-authentication. `client_secret_file` is read again on each of
 * those; a changed secret gets a credential of its own (the old one's cached token says nothing about the new secret).
 */
function oauthBearerProvider(
  sasl: KafkaSaslOptions,
  brokers: readonly string[],
  sink: string,
  logger: Logger,
): () => Promise<OauthbearerProviderResponse> {
  if (sasl.tenant_id !== undefined && sasl.client_id !== undefined) {
    const scope = sasl.scope ?? `https://${(brokers[0] ?? '').replace(/:\d+$/, '')}/.default`;
    let current: { secret: string; credential: ReturnType<typeof createCredential> } | undefined;
    const credentialFor = (secret: string) => {
      if (current?.secret !== secret) {
        current = {
          secret,
          credential: createCredential({
            auth: 'client_secret',
            tenant_id: sasl.tenant_id,
            client_id: sasl.client_id,
            client_secret: secret,
            authority_url: sasl.authority_url ?? 'https://login.microsoftonline.com',
            ca_file: sasl.ca_file,
          }),
        };
      }
      return current.credential;
    };
    return async () => {
      try {
        const token = await credentialFor(freshSecret(sasl.client_secret_file) ?? sasl.client_secret ?? '').getToken(
          scope,
        );
        if (!token) throw new Error('Entra ID returned no token');
        logger.debug(
          { scope, expires_at: new Date(token.expiresOnTimestamp).toISOString() },
          'got an Entra ID token for kafka',
        );
        return { value: token.token };
      } catch (err) {
        const message = `getting an Entra ID token (scope ${scope}) for kafka sink '${sink}': ${(err as Error).message}`;
        // A wrong tenant, client or secret: a person must fix it (the sink pauses). Outages are retried.
        if (isEntraRefusal(err))
          throw final(Object.assign(new Error(message, { cause: err }), { name: CREDENTIALS_REFUSED }), false);
        throw final(new RetryableError(message, { cause: err }), true);
      }
    };
  }
  return async () => {
    const value = freshSecret(sasl.oauth_token_file) ?? sasl.oauth_token;
    if (!value)
      throw final(
        new RetryableError(`kafka sink '${sink}': no bearer token in ${sasl.oauth_token_file ?? 'oauth_token'}`),
        true,
      );
    return { value };
  };
}

/**
 * kafkajs logs at ERROR every failure it is about to retry or hand back to the sink; the pipeline then logs,
 * counts and dead-letters what really failed. So kafkajs errors are warnings here: a broker restart that lost
 * nothing should not page anyone.
 */
export function kafkaLogCreator(logger: Logger) {
  const levels: Record<number, 'warn' | 'info' | 'debug'> = {
    [logLevel.ERROR]: 'warn',
    [logLevel.WARN]: 'warn',
    [logLevel.INFO]: 'info',
    [logLevel.DEBUG]: 'debug',
  };
  return () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...fields } = entry;
      // Per-request protocol errors ("Response Produce…") reach the sink again as the request's own error; and limiting
      // the retries of an idempotent producer is deliberate (see RETRY in kafka.ts), though kafkajs warns about it on each start.
      const quiet =
        (namespace === 'Connection' && message.startsWith('Response ')) ||
        message.startsWith('Limiting retries for the idempotent');
      const lvl = quiet ? 'debug' : (levels[level] ?? 'debug');
      logger[lvl]({ kafkajs: namespace, ...fields }, message);
    };
}
