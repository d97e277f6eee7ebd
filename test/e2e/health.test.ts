/**
 * Health records (issue 18 item 1) end to end through `alertbridge run` against the simulator and a real Redis: a
 * provider missing behind a 206, a tenant whose secret is wrong (and the window that keeps failing meanwhile), and an
 * app without the read permission each reach the sink that opted in (`filter.resources: [..., health]`) as one
 * record when the condition starts and one when it ends — not one per poll — and never reach the sink that did not.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { freePort } from '../../src/util/redis-server.js';
import { redisUrl } from '../helpers/redis.js';
import { e2eWorkspace, graphSourceYaml, ndjsonLines, startDaemon, type StartedDaemon } from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';

const GAP: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-0000000018a1',
  clientId: 'app-gap',
  clientSecret: 'secret-gap',
};
/** The simulated Entra ID knows this app with another secret than the one configured: until the test "rotates" it. */
const WRONG: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-0000000018a2',
  clientId: 'app-wrong',
  clientSecret: 'secret-the-admin-set',
};
/** An app consented for incidents only: alerts_v2 reads are 403. */
const NOPERM: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-0000000018a3',
  clientId: 'app-noperm',
  clientSecret: 'secret-noperm',
  roles: ['SecurityIncident.Read.All'],
};
const { dir, prefix } = e2eWorkspace('health');
let sim: Simulator;
let daemon: StartedDaemon;
const optedIn = join(dir, 'health.ndjson');
const ocsfOut = join(dir, 'health-ocsf.ndjson');
const plain = join(dir, 'plain.ndjson');
const config = join(dir, 'config.yaml');

interface Health {
  schema: string;
  key: string;
  revision: string;
  source: string;
  tenant_id: string;
  resource: string;
  status: 'raised' | 'cleared';
  data: {
    condition: string;
    status: string;
    source: string;
    tenant_id: string;
    resource: string;
    provider: string | null;
    first_seen: string;
    last_seen: string;
    cleared_at: string | null;
    observations: number;
    detail: Record<string, unknown> | null;
    last_detail: Record<string, unknown> | null;
  };
}
const parsed = (path: string) => ndjsonLines(path).map((l) => JSON.parse(l) as Record<string, unknown>);
const health = (): Health[] =>
  parsed(optedIn).filter((r) => r.schema === 'alertbridge.health/v1') as unknown as Health[];
const of = (condition: string, source: string) =>
  health().filter((r) => r.data.condition === condition && r.data.source === source);
/** Token requests and Graph reads of one app, as the simulator logged them. */
const requestsOf = (t: TenantCredentials) => sim.requestLog.filter((e) => e.tenant === t.tenantId).length;

beforeAll(async () => {
  sim = await startSimulator({ tenants: [GAP, WRONG, NOPERM], seed: 18 });
  const port = await freePort();
  const fast = `    poll_interval_ms: 1000\n    stuck_window_alert_ms: 2000\n`;
  writeFileSync(
    config,
    `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { listen: "127.0.0.1:${port}" }
log: { level: info, format: json }
pipeline: { takeover_ms: 3000 }
sources:
${graphSourceYaml(sim, GAP, { name: 'gappy', resources: ['alerts'], extra: fast })}
${graphSourceYaml(sim, { ...WRONG, clientSecret: 'secret-configured' }, { name: 'wrongsecret', resources: ['alerts_v2'], extra: fast })}
${graphSourceYaml(sim, NOPERM, { name: 'noperm', resources: ['alerts_v2'], extra: fast })}
sinks:
  - { name: siem, type: file, path: "${optedIn}", filter: { resources: [alerts, alerts_v2, health] } }
  - { name: lake, type: file, path: "${ocsfOut}", format: ocsf, filter: { resources: [health] } }
  - { name: plain, type: file, path: "${plain}" }
`,
  );
  // Alerts of every provider; one of them "times out" behind a 206 from the start.
  const created = Array.from({ length: 40 }, () => sim.create(GAP.tenantId, 'alerts'));
  const missing = (created[0]!.vendorInformation as { provider: string }).provider;
  sim.setFaults({ partialProvider: missing });
  daemon = startDaemon(config, port);
}, 90_000);

afterAll(async () => {
  await daemon?.stop();
  await sim?.close();
});

describe('health records through alertbridge run', () => {
  it('raises each condition once, however many polls see it, and only at the sinks that opted in', async () => {
    const missing = sim.faults.partialProvider as string;
    await waitFor(
      () => {
        daemon.alive();
        return (
          of('provider_gap', 'gappy').length &&
          of('credentials_refused', 'wrongsecret').length &&
          of('window_failing', 'wrongsecret').length &&
          of('permission_refused', 'noperm').length
        );
      },
      { timeoutMs: 90_000, what: 'the four conditions raised' },
    );
    // Many more polls see the same conditions: no more records.
    const before = { gap: requestsOf(GAP), wrong: requestsOf(WRONG) };
    await waitFor(
      () => {
        daemon.alive();
        return requestsOf(GAP) >= before.gap + 5 && requestsOf(WRONG) >= before.wrong + 5;
      },
      { timeoutMs: 60_000, what: 'five more polls of each source' },
    );
    const gap = of('provider_gap', 'gappy');
    expect(gap.map((r) => r.status)).toEqual(['raised']);
    expect(gap[0]).toMatchObject({
      key: `health:gappy/alerts/provider_gap/${missing}`,
      resource: 'health',
      source: 'gappy',
      tenant_id: GAP.tenantId,
      data: { resource: 'alerts', provider: missing, tenant_id: GAP.tenantId, cleared_at: null },
    });
    const window = gap[0]!.data.detail!.window as { from: string; to: string };
    expect(Date.parse(window.from)).toBeLessThan(Date.parse(window.to));
    expect(gap[0]!.revision).toBe(gap[0]!.data.first_seen);
    expect(of('credentials_refused', 'wrongsecret').map((r) => [r.key, r.status, r.data.resource])).toEqual([
      ['health:wrongsecret/*/credentials_refused', 'raised', '*'],
    ]);
    expect(of('window_failing', 'wrongsecret').map((r) => r.status)).toEqual(['raised']);
    expect(of('permission_refused', 'noperm').map((r) => [r.key, r.status])).toEqual([
      ['health:noperm/alerts_v2/permission_refused', 'raised'],
    ]);
    // The sink without `health` in its filter has alerts and no health record.
    expect(parsed(plain).length).toBeGreaterThan(0);
    expect(parsed(plain).filter((r) => r.schema !== 'alertbridge.record/v1')).toEqual([]);
    // The OCSF sink: Application Errors, one per condition change.
    const ocsf = parsed(ocsfOut);
    expect(ocsf.length).toBe(health().length);
    expect(new Set(ocsf.map((e) => e.class_uid))).toEqual(new Set([6008]));
    expect(ocsf.find((e) => (e.metadata as { correlation_uid: string }).correlation_uid === gap[0]!.key)).toMatchObject(
      { activity_id: 1, status: 'Failure', category_uid: 6, type_uid: 600801 },
    );
  }, 180_000);

  it('clears each condition once when it ends, with the window and a later revision', async () => {
    sim.setFaults({ partialProvider: null });
    // The admin sets the secret alertbridge was configured with.
    (sim.tenants.find((t) => t.clientId === WRONG.clientId) as { clientSecret: string }).clientSecret =
      'secret-configured';
    await waitFor(
      () => {
        daemon.alive();
        return (
          of('provider_gap', 'gappy').length === 2 &&
          of('credentials_refused', 'wrongsecret').length === 2 &&
          of('window_failing', 'wrongsecret').length === 2
        );
      },
      { timeoutMs: 90_000, what: 'the gap and the refusal cleared' },
    );
    const before = requestsOf(GAP);
    await waitFor(() => daemon.alive() ?? requestsOf(GAP) >= before + 5, {
      timeoutMs: 60_000,
      what: 'five more polls',
    });
    for (const [condition, source] of [
      ['provider_gap', 'gappy'],
      ['credentials_refused', 'wrongsecret'],
      ['window_failing', 'wrongsecret'],
    ] as const) {
      const [raised, cleared] = of(condition, source);
      expect([raised!.status, cleared!.status]).toEqual(['raised', 'cleared']);
      expect(cleared!.key).toBe(raised!.key);
      expect(cleared!.revision > raised!.revision).toBe(true);
      expect(cleared!.data.first_seen).toBe(raised!.data.first_seen);
      expect(cleared!.revision).toBe(cleared!.data.cleared_at);
      expect(cleared!.data.observations).toBeGreaterThan(1);
    }
    const [, gapCleared] = of('provider_gap', 'gappy');
    expect((gapCleared!.data.detail!.window as { from: string }).from).toBeTruthy();
    // The permission is still missing: still one record.
    expect(of('permission_refused', 'noperm').length).toBe(1);
    expect(parsed(plain).filter((r) => r.schema !== 'alertbridge.record/v1')).toEqual([]);
  }, 180_000);
});
