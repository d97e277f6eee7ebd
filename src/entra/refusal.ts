/**
 * Telling "Entra ID refuses the app" from "Entra ID is unreachable", for the sinks that get tokens through
 * `@azure/identity` (kafka OAUTHBEARER, azure_event_hubs with a namespace). A refusal (wrong tenant, client id or
 * secret, a revoked certificate) only an operator can fix, so the sink pauses; an outage is retried.
 */

/** OAuth error codes of a token request Entra ID refuses for the request's own sake (RFC 6749 §5.2). */
const REFUSAL_CODES =
  /^(invalid_client|unauthorized_client|invalid_tenant|invalid_grant|invalid_scope|invalid_request|unsupported_grant_type|invalid_resource)\b/;

/**
 * `@azure/identity` reports Entra's answers in two ways: `AuthenticationError` with the HTTP status (400/401/403 is a
 * refusal), or — for the MSAL-based credentials such as `ClientSecretCredential` — `AuthenticationRequiredError`
 * without a status, whose message starts with the OAuth error code (`invalid_client: … AADSTS7000215: Invalid
 * client secret provided …`).
 */
export function isEntraRefusal(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const status = (err as { statusCode?: unknown }).statusCode;
  if (err.name === 'AuthenticationError' && typeof status === 'number') return [400, 401, 403].includes(status);
  return (
    (err.name === 'AuthenticationRequiredError' || err.name === 'AuthenticationError') &&
    REFUSAL_CODES.test(err.message)
  );
}
