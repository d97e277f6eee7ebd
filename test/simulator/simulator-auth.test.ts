import { ClientCertificateCredential } from '@azure/identity';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callSimulator, DEMO_TENANT, startSimulator, type Simulator } from '../../src/simulator/index.js';
import { createSimulatorTls } from '../../src/simulator/tls.js';
import { simulatorCredential } from '../helpers/simulator.js';

const OTHER = {
  tenantId: '22222222-3333-4444-5555-666666666666',
  clientId: 'aaaaaaaa-0000-4000-8000-000000000001',
  clientSecret: 'other-secret',
};

const credential = simulatorCredential;

describe('simulator: Entra ID token flow', () => {
  let now = Date.parse('2026-03-01T10:00:00Z');
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({
      tenants: [{ ...DEMO_TENANT }, OTHER],
      clock: () => new Date(now),
      initial: { alerts_v2: 3 },
    });
  });
  afterAll(() => sim.close());

  it('writes the CA it serves with, and answers OpenID metadata pointing at itself', async () => {
    expect(await readFile(sim.caFile, 'utf8')).toBe(sim.caPem);
    expect(sim.caPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const r = await callSimulator(sim, `/${DEMO_TENANT.tenantId}/v2.0/.well-known/openid-configuration`);
    const meta = r.json as Record<string, string | undefined>;
    expect(r.status).toBe(200);
    expect(meta.token_endpoint).toBe(`${sim.authorityHost}/${DEMO_TENANT.tenantId}/oauth2/v2.0/token`);
    expect(meta.issuer).toBe(`${sim.authorityHost}/${DEMO_TENANT.tenantId}/v2.0`);
    expect(meta.jwks_uri?.startsWith(sim.url)).toBe(true);
    expect(meta.authorization_endpoint?.startsWith(sim.url)).toBe(true);
  });

  it('issues a token to @azure/identity for the right secret, and Graph accepts it for that tenant', async () => {
    sim.clearLog();
    const token = await credential(sim).getToken(`${sim.url}/.default`);
    expect(token.token.split('.')).toHaveLength(3);
    // @azure/identity computes expiry from expires_in on its own (wall) clock.
    expect(token.expiresOnTimestamp - Date.now()).toBeGreaterThan(3500_000);
    const r = await callSimulator(sim, '/v1.0/security/alerts_v2', { token: token.token });
    expect(r.status).toBe(200);
    expect((r.json as { value: unknown[] }).value).toHaveLength(3);
    const tokenCall = sim.requestLog.find((e) => e.resource === 'token');
    expect(tokenCall).toMatchObject({
      method: 'POST',
      status: 200,
      tenant: DEMO_TENANT.tenantId,
      clientId: DEMO_TENANT.clientId,
    });
    expect(sim.requestLog.at(-1)).toMatchObject({
      path: '/v1.0/security/alerts_v2',
      status: 200,
      tenant: DEMO_TENANT.tenantId,
      resource: 'alerts_v2',
    });
  });

  it('rejects a wrong secret with Microsoft\u2019s AADSTS7000215 error, through @azure/identity and raw', async () => {
    await expect(
      credential(sim, DEMO_TENANT, 'wrong').getToken('https://graph.microsoft.com/.default'),
    ).rejects.toThrow(/AADSTS7000215/);
    const r = await callSimulator(sim, `/${DEMO_TENANT.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: DEMO_TENANT.clientId,
        client_secret: 'nope',
        grant_type: 'client_credentials',
        scope: 'https://graph.microsoft.com/.default',
      }).toString(),
    });
    expect(r.status).toBe(401);
    const err = r.json as Record<string, unknown>;
    expect(err.error).toBe('invalid_client');
    expect(err.error_codes).toEqual([7000215]);
    expect(String(err.error_description)).toMatch(/^AADSTS7000215: Invalid client secret provided\./);
    expect(err).toHaveProperty('trace_id');
    expect(err).toHaveProperty('correlation_id');
    expect(err).toHaveProperty('timestamp');
  });

  it('rejects unknown tenants and clients, and scopes without /.default', async () => {
    const form = (extra: Record<string, string>): string =>
      new URLSearchParams({
        client_id: DEMO_TENANT.clientId,
        client_secret: DEMO_TENANT.clientSecret,
        grant_type: 'client_credentials',
        scope: 'https://graph.microsoft.com/.default',
        ...extra,
      }).toString();
    const post = (tenant: string, body: string) =>
      callSimulator(sim, `/${tenant}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
    const unknownTenant = await post('99999999-9999-4999-8999-999999999999', form({}));
    expect(unknownTenant.status).toBe(400);
    expect((unknownTenant.json as { error_codes: number[] }).error_codes).toEqual([90002]);
    const unknownClient = await post(DEMO_TENANT.tenantId, form({ client_id: OTHER.clientId }));
    expect(unknownClient).toMatchObject({ status: 400, json: { error: 'unauthorized_client', error_codes: [700016] } });
    const badScope = await post(
      DEMO_TENANT.tenantId,
      form({ scope: 'https://graph.microsoft.com/SecurityAlert.Read.All' }),
    );
    expect(badScope).toMatchObject({ status: 400, json: { error: 'invalid_scope' } });
  });

  it('answers Graph 401 InvalidAuthenticationToken without a token, for an expired one, and for another simulator\u2019s', async () => {
    const missing = await callSimulator(sim, '/v1.0/security/alerts_v2');
    expect(missing.status).toBe(401);
    expect(missing.json).toMatchObject({
      error: { code: 'InvalidAuthenticationToken', message: 'Access token is empty.' },
    });

    sim.setFaults({ tokenLifetimeS: 60 });
    const short = await credential(sim, OTHER).getToken(`${sim.url}/.default`);
    sim.setFaults({ tokenLifetimeS: null });
    // MSAL stamps expiry in whole seconds: allow one second.
    expect(short.expiresOnTimestamp - Date.now()).toBeLessThanOrEqual(61_000);
    expect((await callSimulator(sim, '/v1.0/security/incidents', { token: short.token })).status).toBe(200);
    now += 61_000;
    const expired = await callSimulator(sim, '/v1.0/security/incidents', { token: short.token });
    expect(expired.status).toBe(401);
    expect(expired.json).toMatchObject({
      error: { code: 'InvalidAuthenticationToken', message: expect.stringMatching(/expired/) },
    });

    const stranger = await startSimulator({ clock: () => new Date(now) });
    try {
      const foreign = await credential(stranger).getToken(`${stranger.url}/.default`);
      const r = await callSimulator(sim, '/v1.0/security/alerts_v2', { token: foreign.token });
      expect(r.status).toBe(401);
    } finally {
      await stranger.close();
    }
  });

  it('serves each tenant only its own data, by the token\u2019s tenant', async () => {
    const created = sim.create(OTHER.tenantId, 'alerts_v2');
    const token = await credential(sim, OTHER).getToken(`${sim.url}/.default`);
    const mine = await callSimulator(sim, '/v1.0/security/alerts_v2', { token: token.token });
    const value = (mine.json as { value: Array<{ id: string; tenantId: string }> }).value;
    expect(value.map((a) => a.id)).toContain(created.id);
    expect(value.map((a) => a.id).sort()).toEqual(
      sim
        .list(OTHER.tenantId, 'alerts_v2')
        .map((a) => a.id)
        .sort(),
    );
    expect(new Set(value.map((a) => a.tenantId))).toEqual(new Set([OTHER.tenantId]));
    expect(sim.requestLog.at(-1)?.tenant).toBe(OTHER.tenantId);
  });

  it('accepts certificate credentials (client_assertion) signed by the registered certificate only', async () => {
    const app = await createSimulatorTls();
    const good = {
      tenantId: '33333333-4444-4555-8666-777777777777',
      clientId: 'bbbbbbbb-0000-4000-8000-000000000002',
      clientSecret: 'unused',
      certificatePem: app.certPem,
    };
    // Registered with another certificate (the CA's, another key) than the one the client signs with.
    const wrong = { ...good, clientId: 'cccccccc-0000-4000-8000-000000000003', certificatePem: app.caPem };
    const certSim = await startSimulator({ tenants: [good, wrong] });
    try {
      const opts = {
        authorityHost: certSim.authorityHost,
        disableInstanceDiscovery: true,
        tlsOptions: { ca: certSim.caPem },
      };
      const pem = { certificate: app.certPem + app.keyPem };
      const token = await new ClientCertificateCredential(good.tenantId, good.clientId, pem, opts).getToken(
        `${certSim.url}/.default`,
      );
      expect((await callSimulator(certSim, '/v1.0/security/alerts_v2', { token: token.token })).status).toBe(200);
      await expect(
        new ClientCertificateCredential(wrong.tenantId, wrong.clientId, pem, opts).getToken(`${certSim.url}/.default`),
      ).rejects.toThrow(/AADSTS700027/);
    } finally {
      await certSim.close();
    }
  });
});
