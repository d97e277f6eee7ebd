/** Entra ID logins and tokens from the simulator, for tests that reach its Graph API or token endpoint directly. */
import { ClientSecretCredential } from '@azure/identity';
import type { EntraLogin } from '../../src/entra/credential.js';
import { DEMO_TENANT } from '../../src/simulator/index.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';

/** A client-secret credential for a tenant of the simulator, trusting its CA the way the Graph client does. */
export function simulatorCredential(
  sim: Simulator,
  t: TenantCredentials = DEMO_TENANT,
  secret = t.clientSecret,
): ClientSecretCredential {
  return new ClientSecretCredential(t.tenantId, t.clientId, secret, {
    authorityHost: sim.authorityHost,
    disableInstanceDiscovery: true,
    additionallyAllowedTenants: ['*'],
    tlsOptions: { ca: sim.caPem },
  });
}

/** A Graph access token for the simulator (the demo tenant unless told). */
export async function simulatorToken(sim: Simulator, t: TenantCredentials = DEMO_TENANT): Promise<string> {
  return (await simulatorCredential(sim, t).getToken(`${sim.url}/.default`)).token;
}

/** The login a source or sink would configure for a tenant of the simulator (client secret, its authority and CA). */
export function simulatorLogin(
  sim: Simulator,
  t: TenantCredentials = DEMO_TENANT,
): EntraLogin & { auth: 'client_secret' } {
  return {
    auth: 'client_secret',
    tenant_id: t.tenantId,
    client_id: t.clientId,
    client_secret: t.clientSecret,
    authority_url: sim.authorityHost,
    ca_file: sim.caFile,
  };
}
