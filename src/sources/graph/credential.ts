/**
 * Entra ID credentials through @azure/identity — no hand-written OAuth. The authority comes from the source's
 * cloud (or `authority_url`); an extra CA (`ca_file`) is added to Node's trusted roots, never replacing them.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
  type TokenCredential,
  type TokenCredentialOptions,
} from '@azure/identity';

export interface EntraLogin {
  tenant_id?: string;
  client_id?: string;
  auth: 'client_secret' | 'certificate' | 'workload_identity' | 'managed_identity';
  client_secret?: string;
  certificate_file?: string;
  certificate_password?: string;
  authority_url: string;
  ca_file?: string;
  /** Timeout of each HTTP request to Entra ID (the source's `request_timeout_ms`). */
  request_timeout_ms?: number;
}

type Policy = NonNullable<TokenCredentialOptions['additionalPolicies']>[number];

/**
 * Gives every HTTP request of a credential a timeout: @azure/identity's MSAL flows ignore `getToken`'s abort signal
 * and set none, so a stalled token endpoint would stall the source. `PipelineRequest.timeout` aborts the request.
 */
function requestTimeout(ms: number): Policy {
  return {
    position: 'perCall',
    policy: {
      name: 'alertbridgeRequestTimeout',
      sendRequest(request, next) {
        request.timeout = ms;
        return next(request);
      },
    },
  };
}

const PUBLIC_AUTHORITIES = new Set(['login.microsoftonline.com', 'login.microsoftonline.us', 'login.chinacloudapi.cn']);

/** Trusted roots plus the source's extra CA, or undefined when there is none (Node's defaults apply). */
export function trustedCa(caFile: string | undefined): string[] | undefined {
  if (!caFile) return undefined;
  return [...rootCertificates, readFileSync(caFile, 'utf8')];
}

export function createCredential(login: EntraLogin): TokenCredential {
  const ca = trustedCa(login.ca_file);
  const host = new URL(login.authority_url).hostname;
  const options = {
    authorityHost: login.authority_url,
    // Instance discovery asks login.microsoftonline.com about the authority: needless for the public clouds we
    // know, and impossible for private authorities (a proxy, the simulator).
    disableInstanceDiscovery: !PUBLIC_AUTHORITIES.has(host),
    ...(ca ? { tlsOptions: { ca } } : {}),
    ...(login.request_timeout_ms ? { additionalPolicies: [requestTimeout(login.request_timeout_ms)] } : {}),
  };
  switch (login.auth) {
    case 'client_secret':
      return new ClientSecretCredential(login.tenant_id!, login.client_id!, login.client_secret!, options);
    case 'certificate':
      return new ClientCertificateCredential(login.tenant_id!, login.client_id!,
        { certificatePath: login.certificate_file!, ...(login.certificate_password ? { certificatePassword: login.certificate_password } : {}) } as { certificatePath: string },
        options);
    case 'workload_identity':
      return new WorkloadIdentityCredential({ ...options, tenantId: login.tenant_id, clientId: login.client_id });
    case 'managed_identity':
      // (ManagedIdentityCredential replaces additionalPolicies with its own: the Graph client's deadline covers it.)
      return login.client_id ? new ManagedIdentityCredential({ clientId: login.client_id }) : new ManagedIdentityCredential();
  }
}
