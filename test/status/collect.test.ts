/**
 * What the status report reads from Redis, written there by the real components (budget, cursor skips, write-back
 * queue) rather than by hand: the budget of each tenant of an MSSP source on its own, a failing and a stuck window,
 * skips, and the write-back queue and failures.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { HealthReporter } from '../../src/health/reporter.js';
import { keysFor } from '../../src/pipeline/keys.js';
import { RequestBudget } from '../../src/sources/graph/budget.js';
import { skipCursor } from '../../src/sources/graph/cursor.js';
import { collectStatus } from '../../src/status/collect.js';
import { SyncQueue, syncKeys } from '../../src/sync/queue.js';
import { silentLogger } from '../helpers/pipeline.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('status-collect');
const keys = keysFor(prefix);
const redis = new Redis(redisUrl());
afterAll(async () => {
  await deletePrefix(prefix);
  redis.disconnect();
});

const A = 'aaaaaaaa-1111-4111-8111-111111111111';
const B = 'bbbbbbbb-2222-4222-8222-222222222222';
const C = 'cccccccc-3333-4333-8333-333333333333';

const res = parseConfig(
  `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
sources:
  - name: mssp
    type: graph_security
    client_id: app
    client_secret: s
    resources: [alerts_v2]
    request_budget_per_minute: 100
    stuck_window_alert_ms: 60000
    tenants:
      - { name: fabrikam, tenant_id: ${A} }
      - { name: contoso, tenant_id: ${B}, request_budget_per_minute: 40 }
  - name: triage
    type: graph_security
    tenant_id: ${C}
    client_id: app
    client_secret: s
    resources: [incidents]
    sync: { enabled: true, token: t }
  - { name: partner, type: webhook, token: t }
sinks:
  - { name: out, type: file, path: /dev/null }
`,
  { baseDir: '/', env: {} },
);
if (!res.ok) throw new Error(res.errors.join('\n'));
const config = res.config;

describe('collectStatus', () => {
  it('reports each tenant, window, budget and write-back queue from what the components wrote', async () => {
    // Three Graph requests of fabrikam, one of contoso: each tenant's budget is its own.
    const budget = (tenant: string, limit: number) => new RequestBudget(redis, keys.budget(tenant, 'app'), limit);
    for (let i = 0; i < 3; i++) await budget(A, 100).take();
    await budget(B, 40).take();
    // fabrikam: failing for 10 s; contoso: failing for 2 min (stuck), and skipped once by an operator.
    const now = Date.now();
    await redis.hset(keys.cursor('mssp/fabrikam', 'alerts_v2'), {
      last_started_at: String(now),
      failing_since: String(now - 10_000),
      last_error: 'Graph answered 503',
    });
    await skipCursor(redis, prefix, 'mssp/contoso', 'alerts_v2', new Date(now - 3_600_000), 'test');
    await redis.hset(keys.cursor('mssp/contoso', 'alerts_v2'), {
      failing_since: String(now - 120_000),
      last_error: 'Graph answered 403',
    });
    // Write-back: two changes queued, one of them failed for good.
    const queue = new SyncQueue(redis, syncKeys(prefix, 'triage'));
    const change = { key: `${C}/incidents/microsoft365Defender/1`, status: 'resolved' } as never;
    await queue.enqueue([
      { id: 'c1', change, requestedBy: 'test', requestedAt: new Date().toISOString() },
      { id: 'c2', change, requestedBy: 'test', requestedAt: new Date().toISOString() },
    ]);
    await redis.rpush(keys.syncDead('triage'), 'c0');

    const r = await collectStatus(config, redis);
    const src = (name: string) => r.sources.find((s) => s.name === name)!;
    expect(r.sources.map((s) => s.name)).toEqual(['mssp/fabrikam', 'mssp/contoso', 'triage', 'partner']);
    expect(src('mssp/fabrikam').budget).toEqual({ used_last_minute: 3, limit_per_minute: 100 });
    expect(src('mssp/contoso').budget).toEqual({ used_last_minute: 1, limit_per_minute: 40 });
    expect(src('mssp/fabrikam').resources).toEqual([
      expect.objectContaining({
        resource: 'alerts_v2',
        state: 'failing',
        last_error: 'Graph answered 503',
        failing_since: new Date(now - 10_000).toISOString(),
        watermark: null,
        lag_seconds: null,
        skips: 0,
      }),
    ]);
    const contoso = src('mssp/contoso').resources[0]!;
    expect(contoso).toMatchObject({ state: 'stuck', last_error: 'Graph answered 403', skips: 1, last_poll_at: null });
    // The skip set the watermark an hour back: that is the lag.
    expect(contoso.lag_seconds).toBeGreaterThanOrEqual(3599);
    expect(contoso.lag_seconds).toBeLessThan(3700);
    expect(src('triage').resources[0]!.state).toBe('never_polled');
    expect(src('triage').write_back).toEqual({ queued: 2, failed: 1 });
    expect(src('mssp/fabrikam').write_back).toBeNull();
    expect(src('partner')).toEqual({
      name: 'partner',
      type: 'webhook',
      resources: [],
      budget: null,
      write_back: null,
      partitions: null,
      conditions: [],
    });
    expect(r.sinks[0]).toMatchObject({
      name: 'out',
      state: 'no_replica',
      dead_letters: 0,
      oldest_queued_age_seconds: null,
    });
  });

  it('lists the active health conditions the reporter keeps, and marks the source, resource or sink of each', async () => {
    const emitted: unknown[] = [];
    const reporter = new HealthReporter({
      redis,
      keys,
      emit: async (records) => emitted.push(...records),
      logger: silentLogger,
    });
    const contoso = { source: 'mssp/contoso', tenant_id: B, resource: '*' };
    await reporter.observe(contoso, [
      { kind: 'credentials_refused', subject: contoso, message: 'secret refused', detail: { error: 'AADSTS7000215' } },
    ]);
    const triage = { source: 'triage', tenant_id: C, resource: 'incidents' };
    await reporter.observe(triage, [
      { kind: 'tenant_silent', subject: triage, message: 'nothing new', detail: { since: 'x' } },
    ]);
    await reporter.observe(triage, [
      { kind: 'tenant_silent', subject: triage, message: 'nothing new', detail: { since: 'y' } },
    ]);
    await reporter.observe({ sink: 'out' }, [
      { kind: 'dead_letters', subject: { sink: 'out' }, message: '2 dead letters', count: 2 },
    ]);
    expect(emitted).toHaveLength(3); // raised once each: the reporter really recorded them

    let r = await collectStatus(config, redis);
    // Oldest first; conditions first seen in the same millisecond may come in either order.
    expect(
      r.active_conditions
        .map((c) => [c.kind, c.source ?? c.sink, c.resource])
        .sort((a, b) => a[0]!.localeCompare(b[0]!)),
    ).toEqual([
      ['credentials_refused', 'mssp/contoso', '*'],
      ['dead_letters', 'out', null],
      ['tenant_silent', 'triage', 'incidents'],
    ]);
    const seen = r.active_conditions.map((c) => Date.parse(c.first_seen));
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    const silent = r.active_conditions.find((c) => c.kind === 'tenant_silent')!;
    expect(silent).toMatchObject({
      key: 'health:triage/incidents/tenant_silent',
      severity: 'medium',
      tenant_id: C,
      sink: null,
      provider: null,
      message: 'nothing new',
      observations: 2,
      count: null,
      detail: { since: 'x' },
      last_detail: { since: 'y' },
    });
    expect(Date.parse(silent.last_seen)).toBeGreaterThanOrEqual(Date.parse(silent.first_seen));
    expect(r.active_conditions.find((c) => c.kind === 'dead_letters')!.count).toBe(2);
    const src = (name: string) => r.sources.find((s) => s.name === name)!;
    // A source-wide condition marks the source and each of its resources; others stay unmarked.
    expect(src('mssp/contoso').conditions).toEqual(['credentials_refused']);
    expect(src('mssp/contoso').resources[0]!.conditions).toEqual(['credentials_refused']);
    expect(src('mssp/fabrikam').conditions).toEqual([]);
    expect(src('triage').resources[0]!.conditions).toEqual(['tenant_silent']);
    expect(r.sinks[0]!.conditions).toEqual(['dead_letters']);

    // Cleared: gone from the list and from the markers.
    await reporter.observe(contoso, [], { clears: ['credentials_refused'] });
    r = await collectStatus(config, redis);
    expect(r.active_conditions.map((c) => c.kind).sort()).toEqual(['dead_letters', 'tenant_silent']);
    expect(r.sources.find((s) => s.name === 'mssp/contoso')!.conditions).toEqual([]);
  });
});
