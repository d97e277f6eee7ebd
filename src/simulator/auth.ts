/**
 * The simulated Microsoft Entra ID: OpenID metadata, instance discovery, JWKS and the client-credentials token
 * endpoint, with the error bodies MSAL and `@azure/identity` parse. Access tokens are real RS256 JWTs (signed with
 * the server's TLS key, published at `jwks_uri`) carrying tenant, app and expiry, so Graph routes can check them
 * statelessly and a token from another simulator or tenant fails like a foreign token does in Graph.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  constants,
  randomUUID,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { aadError, parseForm, type SimRequest, type SimResponse } from './http-util.js';
import type { TenantCredentials } from './types.js';

/** Claims of an access token the simulator issued and verified. */
export interface AccessClaims {
  tid: string;
  appid: string;
  aud: string;
  roles: string[];
  iat: number;
  exp: number;
  /** Issue number of the token at this simulator (1, 2, …), so that tokens issued before a point can be revoked. */
  xms_seq?: number;
}

export type Verified = { ok: true; claims: AccessClaims } | { ok: false; message: string };

/** Application permissions every simulated app has been granted (admin consent is assumed). */
export const ROLES = [
  'SecurityAlert.Read.All',
  'SecurityAlert.ReadWrite.All',
  'SecurityIncident.Read.All',
  'SecurityIncident.ReadWrite.All',
  'SecurityEvents.Read.All',
  'SecurityEvents.ReadWrite.All',
];

/** Audiences Graph accepts: the clouds' Graph hosts; loopback hosts stand for the simulator itself. */
const GRAPH_HOSTS = [
  'graph.microsoft.com',
  'graph.microsoft.us',
  'dod-graph.microsoft.us',
  'microsoftgraph.chinacloudapi.cn',
];

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface AuthorityOptions {
  tenants: readonly TenantCredentials[];
  /** PEM private key that signs access tokens. */
  keyPem: string;
  /** Token lifetime in seconds, read per request (a fault knob can shorten it). */
  lifetimeS: () => number;
  /** Host names (besides loopback) that count as this Graph, for the audience check. */
  hostnames: readonly string[];
}

export class Authority {
  private readonly key: KeyObject;
  private readonly publicKey: KeyObject;
  private readonly kid: string;
  /** Tells this simulator's tokens from another's in the same process (they share the cached signing key). */
  private readonly instance = randomUUID();
  private issuedCount = 0;

  constructor(private readonly opts: AuthorityOptions) {
    this.key = createPrivateKey(opts.keyPem);
    this.publicKey = createPublicKey(this.key);
    this.kid = createHash('sha1')
      .update(this.publicKey.export({ type: 'spki', format: 'der' }))
      .digest('base64url');
  }

  /** Access tokens issued so far. */
  get issued(): number {
    return this.issuedCount;
  }

  knowsTenant(tenant: string): boolean {
    return this.opts.tenants.some((t) => t.tenantId === tenant);
  }

  /** `GET /{tenant}/v2.0/.well-known/openid-configuration`: what MSAL reads to find the token endpoint. */
  openidConfiguration(req: SimRequest, tenant: string): SimResponse {
    if (!this.knowsTenant(tenant)) return unknownTenant(req, tenant);
    const base = `${req.origin}/${tenant}`;
    return {
      status: 200,
      body: {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${req.origin}/${tenant}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${base}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${req.origin}/oidc/userinfo`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'tid', 'roles'],
        kerberos_endpoint: `${base}/kerberos`,
        tenant_region_scope: 'WW',
        cloud_instance_name: 'microsoftonline.com',
        cloud_graph_host_name: 'graph.windows.net',
        msgraph_host: new URL(req.origin).host,
        rbac_url: 'https://pas.windows.net',
      },
      log: { resource: 'openid-configuration', tenant },
    };
  }

  /** `GET /common/discovery/instance`: instance discovery, for clients that do not disable it. */
  instanceDiscovery(req: SimRequest): SimResponse {
    const host = new URL(req.origin).host;
    return {
      status: 200,
      body: {
        tenant_discovery_endpoint: `${req.origin}/{tenant}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      },
      log: { resource: 'instance-discovery' },
    };
  }

  /** `GET /{tenant}/discovery/v2.0/keys`: the key that signs access tokens. */
  jwks(): SimResponse {
    const jwk = this.publicKey.export({ format: 'jwk' });
    return {
      status: 200,
      body: { keys: [{ kty: 'RSA', use: 'sig', kid: this.kid, n: jwk.n, e: jwk.e }] },
      log: { resource: 'jwks' },
    };
  }

  /** `POST /{tenant}/oauth2/v2.0/token`, client-credentials grant (secret or certificate assertion). */
  token(req: SimRequest, tenant: string): SimResponse {
    const form = parseForm(req.rawBody);
    const clientId = form.client_id ?? assertionSubject(form.client_assertion) ?? '';
    const logged = (r: SimResponse): SimResponse => ({
      ...r,
      log: { resource: 'token', tenant, clientId: clientId || undefined },
    });
    if (!this.knowsTenant(tenant)) return logged(unknownTenant(req, tenant));
    if (!clientId) {
      return logged(
        aadError(
          req,
          400,
          'invalid_request',
          900144,
          "The request body must contain the following parameter: 'client_id'.",
        ),
      );
    }
    if (form.grant_type !== 'client_credentials') {
      return logged(
        aadError(req, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.'),
      );
    }
    const app = this.opts.tenants.find((t) => t.tenantId === tenant && t.clientId === clientId);
    if (!app) {
      return logged(
        aadError(
          req,
          400,
          'unauthorized_client',
          700016,
          `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
        ),
      );
    }
    const scope = form.scope ?? '';
    const resource = scope.split(' ').find((s) => s.endsWith('/.default'));
    if (!resource) {
      return logged(
        aadError(
          req,
          400,
          'invalid_scope',
          1002012,
          `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        ),
      );
    }
    const failure = this.checkClient(req, form, app, tenant);
    if (failure) return logged(failure);
    const lifetime = Math.max(1, Math.floor(this.opts.lifetimeS()));
    const iat = Math.floor(req.now.getTime() / 1000);
    const aud = resource.slice(0, -'/.default'.length);
    const token = this.sign({
      aud,
      iss: `https://sts.windows.net/${tenant}/`,
      iat,
      nbf: iat,
      exp: iat + lifetime,
      app_displayname: 'alertbridge',
      appid: app.clientId,
      appidacr: form.client_assertion ? '2' : '1',
      idp: `https://sts.windows.net/${tenant}/`,
      idtyp: 'app',
      oid: uuidOf(`${tenant}/${app.clientId}`),
      roles: app.roles ?? ROLES,
      sub: uuidOf(`${tenant}/${app.clientId}`),
      tid: tenant,
      uti: randomUUID().replace(/-/g, '').slice(0, 22),
      ver: '1.0',
      xms_sim: this.instance,
      xms_seq: ++this.issuedCount,
    });
    return logged({
      status: 200,
      headers: { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' },
      body: { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token },
    });
  }

  /** Checks `Authorization: Bearer …` of a Graph request; the message is Graph's for each failure. */
  verify(header: string | undefined, now: Date): Verified {
    const token = /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
    if (!token) return { ok: false, message: 'Access token is empty.' };
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, message: 'IDX14100: JWT is not well formed, there are no dots (.).' };
    const [h, p, s] = parts as [string, string, string];
    if (!verify('sha256', Buffer.from(`${h}.${p}`), this.publicKey, Buffer.from(s, 'base64url'))) {
      return { ok: false, message: 'Access token validation failure. Invalid signature.' };
    }
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as AccessClaims & { xms_sim?: string };
    if (claims.xms_sim !== this.instance)
      return { ok: false, message: 'Access token validation failure. Invalid signature.' };
    if (!this.knowsTenant(claims.tid))
      return { ok: false, message: 'Access token validation failure. Invalid tenant.' };
    if (!this.graphAudience(claims.aud))
      return { ok: false, message: 'Access token validation failure. Invalid audience.' };
    if (claims.exp <= now.getTime() / 1000)
      return { ok: false, message: 'Lifetime validation failed, the token is expired.' };
    return { ok: true, claims };
  }

  private graphAudience(aud: string): boolean {
    let host: string;
    try {
      host = new URL(aud).hostname.replace(/^\[|\]$/g, '');
    } catch {
      return false;
    }
    return GRAPH_HOSTS.includes(host) || ['127.0.0.1', 'localhost', '::1', ...this.opts.hostnames].includes(host);
  }

  private checkClient(
    req: SimRequest,
    form: Record<string, string>,
    app: TenantCredentials,
    tenant: string,
  ): SimResponse | null {
    if (form.client_secret !== undefined) {
      if (form.client_secret === app.clientSecret) return null;
      return aadError(
        req,
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
      );
    }
    if (form.client_assertion !== undefined && form.client_assertion_type === JWT_BEARER) {
      const problem = checkAssertion(form.client_assertion, app, `${req.origin}/${tenant}`, req.now);
      return problem
        ? aadError(req, 401, 'invalid_client', 700027, `Client assertion failed signature validation. ${problem}`)
        : null;
    }
    return aadError(
      req,
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
  }

  private sign(payload: Record<string, unknown>): string {
    const header = { typ: 'JWT', alg: 'RS256', kid: this.kid, x5t: this.kid };
    const data = `${b64json(header)}.${b64json(payload)}`;
    return `${data}.${sign('sha256', Buffer.from(data), this.key).toString('base64url')}`;
  }
}

function unknownTenant(req: SimRequest, tenant: string): SimResponse {
  return {
    ...aadError(
      req,
      400,
      'invalid_tenant',
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
    ),
    log: { resource: 'token', tenant },
  };
}

/** Why a certificate assertion is not acceptable, or null. Verified only when the app has a certificate. */
function checkAssertion(jwt: string, app: TenantCredentials, authority: string, now: Date): string | null {
  const [h, p, s] = jwt.split('.');
  if (!h || !p || !s) return 'The assertion is not a JWT.';
  let header: { alg?: string };
  let claims: { iss?: string; sub?: string; aud?: string; exp?: number };
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as typeof header;
    claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    return 'The assertion is not a JWT.';
  }
  if (claims.sub !== app.clientId || claims.iss !== app.clientId) return 'The assertion iss/sub is not the client id.';
  if (typeof claims.aud !== 'string' || !claims.aud.startsWith(authority))
    return `The assertion audience must be ${authority}/oauth2/v2.0/token.`;
  if (typeof claims.exp !== 'number' || claims.exp <= now.getTime() / 1000) return 'The assertion is expired.';
  if (!app.certificatePem) return null;
  const key = createPublicKey(app.certificatePem);
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const ok =
    header.alg === 'PS256'
      ? verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig)
      : header.alg === 'RS256' && verify('sha256', data, key, sig);
  return ok ? null : 'The signature does not match the certificate registered for the app.';
}

function assertionSubject(jwt: string | undefined): string | null {
  try {
    const payload = jwt?.split('.')[1];
    return payload
      ? ((JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: string }).sub ?? null)
      : null;
  } catch {
    return null;
  }
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A stable GUID-shaped id (service principal object id) for a name. */
function uuidOf(name: string): string {
  const h = createHash('sha1').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
