/**
 * The Graph source's tokens against the simulator, through the real @azure/identity path: a token Graph refuses
 * (401) is replaced by a genuinely new one, and only so often.
 */
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { createCredential } from '../../src/entra/credential.js';
import { metricValue } from '../helpers/pipeline.js';
import { captureLogger, graphSourceConfig, pollNow, simulatorHooks, type GraphHarness } from '../helpers/graph.js';
import { simulatorLogin } from '../helpers/simulator.js';

const A: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-0000000000a1',
  clientId: 'app-auth',
  clientSecret: 'secret-auth',
};

const sim = await startSimulator({ tenants: [A], seed: 11 });
const harness = simulatorHooks(sim, { revokeTokens: null, slowTokenMs: null });
let h: GraphHarness | undefined;

const tokenRequests = () => sim.requestLog.filter((e) => e.resource === 'token');

describe('graph_security source: tokens', () => {
  it('gets a genuinely new token when Graph refuses a revoked one (401), and the poll goes on', async () => {
    h = await harness();
    for (let i = 0; i < 5; i++) sim.create(A.tenantId, 'alerts_v2');
    // Late-evidence re-reads would add list requests of their own; this test counts the ones of one window.
    const src = h.source(
      graphSourceConfig(sim, { name: 'contoso', ...A, extra: '    late_evidence: { reread_after_ms: [] }' }),
    );
    const poller = src.pollers[0]!;
    expect(await pollNow(poller)).toMatchObject({ accepted: 5 });
    expect(tokenRequests()).toHaveLength(1);

    // An admin revokes the app's tokens: the cached one (valid for another hour) is refused from now on.
    sim.setFaults({ revokeTokens: 'issued' });
    for (let i = 0; i < 3; i++) sim.create(A.tenantId, 'alerts_v2');
    sim.clearLog();
    const after = await pollNow(poller);
    expect(after).toMatchObject({ accepted: 3, gaps: [] });
    const seen = sim.requestLog
      .filter((e) => e.resource === 'alerts_v2' || e.resource === 'token')
      .map((e) => [e.resource, e.status, e.fault]);
    expect(seen).toEqual([
      ['alerts_v2', 401, 'revoked'],
      ['token', 200, undefined],
      ['alerts_v2', 200, undefined],
    ]);
    // and the new token is kept: the next poll asks for none
    sim.clearLog();
    expect(await pollNow(poller)).toMatchObject({ accepted: 0 });
    expect(tokenRequests()).toHaveLength(0);
  });

  it('does not loop on a token Graph keeps refusing: one new token, then a clear error naming source and tenant', async () => {
    h = await harness();
    const { logger, lines } = captureLogger();
    const src = h.source(graphSourceConfig(sim, { name: 'fabrikam', ...A }), logger);
    const poller = src.pollers[0]!;
    sim.setFaults({ revokeTokens: 'all' });
    expect(await pollNow(poller)).toBeNull();
    const graph401 = () => sim.requestLog.filter((e) => e.resource === 'alerts_v2' && e.status === 401);
    // the cached token, then one new token: two attempts, two tokens
    expect(graph401()).toHaveLength(2);
    expect(tokenRequests()).toHaveLength(2);
    const err = lines.find((l) => l.level === 50)!;
    expect(String(err.err)).toMatch(
      new RegExp(
        `GET alerts_v2 for source 'fabrikam' \\(tenant ${A.tenantId}\\) failed: HTTP 401 InvalidAuthenticationToken.*a new token was refused too`,
      ),
    );
    expect(JSON.stringify(lines)).not.toContain(A.clientSecret);

    // Polls right after do not ask Entra ID for yet another token: new tokens are forced at most once a minute.
    expect(await pollNow(poller)).toBeNull();
    expect(await pollNow(poller)).toBeNull();
    expect(graph401()).toHaveLength(4);
    expect(tokenRequests()).toHaveLength(2);

    // Once Graph accepts tokens again, the same client recovers with the token it has.
    sim.setFaults({ revokeTokens: null, slowTokenMs: null });
    expect(await pollNow(poller)).not.toBeNull();
    expect(tokenRequests()).toHaveLength(2);
  });

  it('applies request_timeout_ms to token requests: a stalled token endpoint fails the poll with a clear error', async () => {
    h = await harness();
    const { logger, lines } = captureLogger();
    // The token endpoint answers after 20 s; the source allows 1 s. (Without the timeout the poll would succeed.)
    sim.setFaults({ slowTokenMs: 20_000 });
    const src = h.source(
      graphSourceConfig(sim, { name: 'slowtoken', ...A, extra: '    request_timeout_ms: 1000' }),
      logger,
    );
    expect(await pollNow(src.pollers[0]!)).toBeNull();
    const err = lines.find((l) => l.level === 50)!;
    expect(String(err.err)).toBe(
      `getting a token for source 'slowtoken' (tenant ${A.tenantId}) failed: no answer within 1000 ms (request_timeout_ms)`,
    );
    expect(
      await metricValue(h.tp.metrics, 'alertbridge_graph_requests_total', {
        source: 'slowtoken',
        resource: 'token',
        code: 'timeout',
      }),
    ).toBe(1);
    // once Entra ID answers again, so does the source
    sim.setFaults({ slowTokenMs: null });
    expect(await pollNow(src.pollers[0]!)).not.toBeNull();
  });

  it('cuts each HTTP request of the credential itself at request_timeout_ms (MSAL ignores abort signals)', async () => {
    sim.setFaults({ slowTokenMs: 20_000 });
    const cred = createCredential({ ...simulatorLogin(sim, A), request_timeout_ms: 1000 });
    // (without the timeout this resolves with a token after 20 s)
    await expect(cred.getToken(`${sim.url}/.default`)).rejects.toThrow(/network_error/);
  });
});
