/**
 * Entra ID (Azure AD) credentials, shared by the Graph source and the Event Hubs sink: the same four ways to get a
 * token, the same secrets, the same clouds.
 */
import { z } from 'zod';
import { AUTH_METHODS, CLOUD_NAMES, filePath, hasSecret, httpsUrl, secretPair, type AuthMethod } from './fields.js';

/** Fields of an Entra ID client-credentials login, minus `tenant_id` (required or not depending on the user). */
export function entraShape(usedFor: string) {
  return {
    client_id: z
      .string()
      .min(1)
      .optional()
      .describe(
        `Application (client) id (a GUID) of the Entra ID app registration${usedFor}. Required except with \`auth: managed_identity\`, where it selects a user-assigned identity.`,
      ),
    auth: z
      .enum(AUTH_METHODS)
      .optional()
      .describe(
        'How to obtain tokens. Default: `client_secret` when `client_secret`/`client_secret_file` is set, `certificate` when `certificate_file` is set. `workload_identity` uses the federated token of AKS workload identity (`AZURE_FEDERATED_TOKEN_FILE`); `managed_identity` the Azure VM or container identity.',
      ),
    ...secretPair('client_secret', 'Client secret of the app registration (`auth: client_secret`).'),
    certificate_file: filePath(
      "PEM file holding the app registration's certificate and its private key (`auth: certificate`).",
    ).optional(),
    ...secretPair('certificate_password', 'Passphrase of the private key in `certificate_file`, when it is encrypted.'),
    cloud: z
      .enum(CLOUD_NAMES)
      .default('global')
      .describe(
        'Microsoft cloud: `global`, `usgov` (GCC High, L4), `usgov_dod` (DoD, L5) or `china` (21Vianet). Sets the default endpoints (`authority_url`; `graph_url` for a Graph source).',
      ),
    authority_url: httpsUrl(
      'Entra ID authority override. Default: from `cloud` (https://login.microsoftonline.com for `global`).',
      {
        allowLoopbackHttp: true,
      },
    ).optional(),
  };
}

/** The method in force: the explicit `auth`, else inferred from which credential is present. */
export function inferAuth(value: Record<string, unknown>): AuthMethod | undefined {
  if (typeof value.auth === 'string') return value.auth as AuthMethod;
  const secret = hasSecret(value, 'client_secret');
  const certificate = value.certificate_file !== undefined;
  if (secret && !certificate) return 'client_secret';
  if (certificate && !secret) return 'certificate';
  return undefined;
}

type AddIssue = (path: (string | number)[], message: string) => void;

/** Cross-field rules of an Entra login. Runs on unvalidated data: only presence is checked here. */
export function checkEntraAuth(value: Record<string, unknown>, addIssue: AddIssue): void {
  const secret = hasSecret(value, 'client_secret');
  const certificate = value.certificate_file !== undefined;
  const auth = value.auth;
  if (auth === undefined) {
    if (secret && certificate) {
      addIssue(
        ['auth'],
        'both client_secret and certificate_file are set: choose one with auth: client_secret or auth: certificate',
      );
    } else if (!secret && !certificate) {
      addIssue(
        ['auth'],
        'required: set client_secret (or client_secret_file) or certificate_file, or auth: workload_identity or managed_identity',
      );
    }
  } else if (typeof auth === 'string' && (AUTH_METHODS as readonly string[]).includes(auth)) {
    if (auth === 'client_secret' && !secret) {
      addIssue(['client_secret'], 'required with auth: client_secret (or set client_secret_file)');
    }
    if (auth === 'certificate' && !certificate) addIssue(['certificate_file'], 'required with auth: certificate');
    if (auth !== 'client_secret' && secret) {
      addIssue(
        [value.client_secret !== undefined ? 'client_secret' : 'client_secret_file'],
        `not used with auth: ${auth}`,
      );
    }
    if (auth !== 'certificate' && certificate) addIssue(['certificate_file'], `not used with auth: ${auth}`);
  }
  if (hasSecret(value, 'certificate_password') && !certificate) {
    addIssue(
      [value.certificate_password !== undefined ? 'certificate_password' : 'certificate_password_file'],
      'only used with certificate_file',
    );
  }
  if (value.client_id === undefined && auth !== 'managed_identity') {
    addIssue(['client_id'], 'required (except with auth: managed_identity)');
  }
}
