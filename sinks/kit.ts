/**
 * The sink kit: the one import a sink makes (besides its own folder and npm packages). Like Vector's sink
 * `prelude` and the Collector's exporterhelper, it holds what every sink would otherwise repeat:
 *
 * - the sink contract (types.ts) and the two error kinds with the HTTP classification (src/util/errors.ts);
 * - the config fields a sink's schema is built from, and the fields every sink shares (`sinkCommonShape`);
 * - the lifecycle: {@link Lifecycle} (background start, in-flight tracking that close drains, idempotent close safe
 *   without start);
 * - secret files read again when a credential is refused ({@link readSecretFile});
 * - the credential pause ({@link AuthPause}), used the same way by every sink: `pause.run(deliver)`;
 * - templates of where a record lands (`topic: "alerts.{tenant_id}"`), the same fields and checks in every sink
 *   ({@link NameTemplate}, {@link nameTemplate} for the schema), and the one rule for a record whose rendered name
 *   is invalid ({@link destinationOf});
 * - Entra ID credentials and refusal detection, TLS roots and the HTTP proxy dispatcher.
 *
 * A sink imports nothing from src/ directly (enforced by eslint's no-restricted-imports): what it needs from the
 * rest of alertbridge comes through here, so the boundary is one file.
 */
export * from './types.js';
export { classifyHttpStatus, parseRetryAfter, PermanentError, RetryableError } from '../src/util/errors.js';
export { AuthPause, type AuthPauseOptions } from './kit/auth-pause.js';
export { Lifecycle } from './kit/lifecycle.js';
export { readSecretFile } from './kit/secret-file.js';
export { probeNames, type ProbeNames, type ProbeSample } from './kit/probe-names.js';
export { destinationOf } from './kit/destinations.js';
export {
  EVENT_HUB_NAME,
  KAFKA_TOPIC,
  NameTemplate,
  nameTemplate,
  SPLUNK_INDEX,
  SPLUNK_SOURCETYPE,
  TEMPLATE_FIELDS,
  type NameRule,
  type TemplateField,
} from '../src/record/name-template.js';
export { createCredential, type EntraLogin } from '../src/entra/credential.js';
export { isEntraRefusal } from '../src/entra/refusal.js';
export { httpDispatcher, redactUrlsIn } from '../src/util/http-proxy.js';
export { withSystemRoots } from '../src/util/tls.js';
export { TimeoutError, withTimeout } from '../src/util/timeout.js';
export { authPauseMs, sinkCommonShape } from '../src/config/sink-common.js';
export {
  checkProxyUrl,
  CLOUDS,
  CLOUD_NAMES,
  count,
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
} from '../src/config/fields.js';
export { checkEntraAuth, entraShape, inferAuth } from '../src/config/entra.js';
