/**
 * Entra ID credentials through @azure/identity — no hand-written OAuth. The authority comes from the source's
 * cloud (or `authority_url`); an extra CA (`ca_file`) is added to Node's trusted roots, never replacing them.
 * Given the Graph client's undici dispatcher, the credential sends its HTTP requests through it, so the token
 * endpoint is reached the way Graph is: the same proxy (`proxy_url` or HTTPS_PROXY/NO_PROXY) and the same CAs.
 */
import { readFileSync } from 'node:fs';
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
  type TokenCredential,
  type TokenCredentialOptions,
} from '@azure/identity';
import { request, type Dispatcher } from 'undici';
import { withSystemRoots } from '../util/tls.js';

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
type HttpClient = NonNullable<TokenCredentialOptions['httpClient']>;
type PipelineRequest = Parameters<HttpClient['sendRequest']>[0];
type PipelineResponse = Awaited<ReturnType<HttpClient['sendRequest']>>;
type HttpHeaders = PipelineResponse['headers'];

/** core-rest-pipeline's header bag (case-insensitive), for the responses of {@link undiciHttpClient}. */
function responseHeaders(raw: Record<string, string | string[] | undefined>): HttpHeaders {
  const map = new Map<string, { name: string; value: string }>();
  const headers: HttpHeaders = {
    get: (name) => map.get(name.toLowerCase())?.value,
    has: (name) => map.has(name.toLowerCase()),
    set: (name, value) => void map.set(name.toLowerCase(), { name, value: String(value) }),
    delete: (name) => void map.delete(name.toLowerCase()),
    toJSON: (o) =>
      Object.fromEntries([...map.values()].map((h) => [o?.preserveCase ? h.name : h.name.toLowerCase(), h.value])),
    [Symbol.iterator]: function* () {
      for (const h of map.values()) yield [h.name, h.value] as [string, string];
    },
  };
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  return headers;
}

/**
 * The last transport failure (no HTTP answer: a proxy's 407, a refused connection) of a credential's requests on a
 * dispatcher, cleared by the next answer. MSAL reports such failures as a bare `endpoints_resolution_error`; this
 * lets the Graph client say what actually happened.
 */
const transportErrors = new WeakMap<Dispatcher, Error>();

export function lastTransportError(dispatcher: Dispatcher): Error | undefined {
  return transportErrors.get(dispatcher);
}

/**
 * The credential's HTTP client on an undici dispatcher. Token requests are small form posts with string bodies;
 * `request.timeout` (set by {@link requestTimeout}) and the abort signal are both honoured.
 */
function undiciHttpClient(dispatcher: Dispatcher): HttpClient {
  return {
    async sendRequest(req: PipelineRequest): Promise<PipelineResponse> {
      if (req.body != null && typeof req.body !== 'string')
        throw new Error(`unsupported request body for ${req.method} ${new URL(req.url).pathname}`);
      const signals = [req.abortSignal, req.timeout ? AbortSignal.timeout(req.timeout) : undefined].filter(
        (s): s is AbortSignal => s !== undefined,
      );
      let res: Dispatcher.ResponseData;
      let bodyAsText: string;
      try {
        res = await request(req.url, {
          method: req.method,
          headers: req.headers.toJSON(),
          body: req.body ?? undefined,
          dispatcher,
          ...(signals.length ? { signal: AbortSignal.any(signals) } : {}),
        });
        bodyAsText = await res.body.text();
      } catch (err) {
        transportErrors.set(dispatcher, err as Error);
        throw err;
      }
      transportErrors.delete(dispatcher);
      return { request: req, status: res.statusCode, headers: responseHeaders(res.headers), bodyAsText };
    },
  };
}

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
  return withSystemRoots(readFileSync(caFile, 'utf8'));
}

/** @param dispatcher where the credential's HTTP requests go (the Graph client's); Node's defaults without it. */
export function createCredential(login: EntraLogin, dispatcher?: Dispatcher): TokenCredential {
  const ca = trustedCa(login.ca_file);
  const host = new URL(login.authority_url).hostname;
  const options = {
    authorityHost: login.authority_url,
    // Instance discovery asks login.microsoftonline.com about the authority: needless for the public clouds we
    // know, and impossible for private authorities (a proxy, the simulator).
    disableInstanceDiscovery: !PUBLIC_AUTHORITIES.has(host),
    ...(ca ? { tlsOptions: { ca } } : {}),
    ...(login.request_timeout_ms ? { additionalPolicies: [requestTimeout(login.request_timeout_ms)] } : {}),
    ...(dispatcher ? { httpClient: undiciHttpClient(dispatcher) } : {}),
  };
  switch (login.auth) {
    case 'client_secret':
      return new ClientSecretCredential(login.tenant_id!, login.client_id!, login.client_secret!, options);
    case 'certificate':
      return new ClientCertificateCredential(
        login.tenant_id!,
        login.client_id!,
        {
          certificatePath: login.certificate_file!,
          ...(login.certificate_password ? { certificatePassword: login.certificate_password } : {}),
        } as { certificatePath: string },
        options,
      );
    case 'workload_identity':
      return new WorkloadIdentityCredential({ ...options, tenantId: login.tenant_id, clientId: login.client_id });
    case 'managed_identity':
      // (ManagedIdentityCredential replaces additionalPolicies with its own: the Graph client's deadline covers it.)
      return login.client_id
        ? new ManagedIdentityCredential({ clientId: login.client_id })
        : new ManagedIdentityCredential();
  }
}
