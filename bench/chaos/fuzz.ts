/**
 * Fuzzed webhook traffic (fast-check, seeded) against a running daemon — random JSON, mutated alerts, bytes that are
 * not JSON, deep nesting, prototype keys, bodies over the limit, wrong or missing credentials and content types,
 * forged and well-formed change notifications with nonsense ids, validation tokens, lifecycle events, unknown
 * sources — interleaved with a stream of valid pushes. The daemon must stay up, answer every request with a 2xx or
 * 4xx (a 5xx is a bug here: Redis is up), deliver every valid record, and deliver nothing it did not accept.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Agent, fetch as undiciFetch } from 'undici';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { startDaemon } from '../lib/daemon.js';
import { graphAlerts } from '../lib/records.js';
import { startBenchRedis } from '../lib/redis.js';
import { seeded, until } from '../lib/stats.js';
import { DeliveryCounter } from '../lib/tail.js';
import { PUSH_TOKEN, PushSender, tally, type ChaosResult, type ScenarioOptions } from './common.js';

const T: TenantCredentials = {
  tenantId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
  clientId: 'fuzz-app',
  clientSecret: 'fuzz-secret',
};
const STATE = 'fuzz-client-state';

interface FuzzRequest {
  kind: string;
  path: string;
  body: string | Uint8Array;
  headers: Record<string, string>;
  /** A validation request: the answer must echo this. */
  echo?: string;
}

/** Builds `n` fuzzed requests from a seed (the same seed, the same traffic). */
function fuzzRequests(n: number, seed: number, template: Record<string, unknown>): FuzzRequest[] {
  const dice = seeded(seed);
  const sample = <T>(arb: fc.Arbitrary<T>): T => fc.sample(arb, { numRuns: 1, seed: Math.floor(dice() * 2 ** 31) })[0]!;
  const json = { 'content-type': 'application/json' };
  const auth = { ...json, authorization: `Bearer ${PUSH_TOKEN}` };
  const notification = (id: unknown, state: unknown = STATE) => ({
    subscriptionId: sample(fc.uuid()),
    clientState: state,
    changeType: 'updated',
    resource: `security/alerts/${String(id)}`,
    resourceData: { id },
    tenantId: T.tenantId,
  });
  const kinds: Array<() => FuzzRequest> = [
    () => ({ kind: 'push: random JSON', path: '/ingest/push', body: sample(fc.json({ maxDepth: 4 })), headers: auth }),
    () => {
      // A real alert with a few fields replaced by random JSON, under a fresh id (so it cannot shadow a valid one).
      const obj: Record<string, unknown> = { ...template, id: `fuzz-${Math.floor(dice() * 1e9)}` };
      for (const k of Object.keys(obj).filter((k) => k !== 'id' && dice() < 0.15))
        obj[k] = sample(fc.jsonValue({ maxDepth: 2 }));
      return {
        kind: 'push: mutated alert',
        path: '/ingest/push',
        body: JSON.stringify(dice() < 0.5 ? obj : [obj, sample(fc.jsonValue({ maxDepth: 2 }))]),
        headers: auth,
      };
    },
    () => ({
      kind: 'push: bytes',
      path: '/ingest/push',
      body: sample(fc.uint8Array({ maxLength: 2048 })),
      headers: auth,
    }),
    () => ({
      kind: 'push: truncated JSON',
      path: '/ingest/push',
      body: JSON.stringify([template]).slice(0, Math.floor(dice() * 3000)),
      headers: auth,
    }),
    () => ({
      kind: 'push: deep nesting',
      path: '/ingest/push',
      body: '['.repeat(50_000) + ']'.repeat(50_000),
      headers: auth,
    }),
    () => ({
      kind: 'push: prototype keys',
      path: '/ingest/push',
      body: `{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},"id":"fuzz-proto-${Math.floor(dice() * 1e9)}","value":[{"__proto__":null}]}`,
      headers: auth,
    }),
    () => ({
      kind: 'push: over max_body_bytes',
      path: '/ingest/push',
      body: JSON.stringify(Array.from({ length: 400 }, () => template)),
      headers: auth,
    }),
    () => ({
      kind: 'push: bad credentials',
      path: '/ingest/push',
      body: JSON.stringify(template),
      headers: {
        ...json,
        ...(dice() < 0.5
          ? { authorization: `Bearer ${sample(fc.string({ maxLength: 40 })).replace(/[^\x20-\x7e]/g, 'x')}` }
          : {}),
      },
    }),
    () => ({
      kind: 'push: content type',
      path: '/ingest/push',
      body: JSON.stringify(template),
      headers: {
        authorization: `Bearer ${PUSH_TOKEN}`,
        'content-type': sample(
          fc.constantFrom(
            'text/plain',
            'application/xml',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
          ),
        ),
      },
    }),
    () => ({
      kind: 'notify: random JSON',
      path: '/webhooks/graph/graph',
      body: sample(fc.json({ maxDepth: 4 })),
      headers: json,
    }),
    () => ({
      kind: 'notify: random value',
      path: '/webhooks/graph/graph',
      body: JSON.stringify({ value: sample(fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 })) }),
      headers: json,
    }),
    () => ({
      kind: 'notify: forged clientState',
      path: '/webhooks/graph/graph',
      body: JSON.stringify({ value: [notification('x', sample(fc.string({ maxLength: 130 })))] }),
      headers: json,
    }),
    () => ({
      kind: 'notify: nonsense ids',
      path: '/webhooks/graph/graph',
      body: JSON.stringify({
        value: Array.from({ length: 1 + Math.floor(dice() * 3) }, () =>
          notification(
            sample(
              fc.oneof(
                fc.string({ maxLength: 600 }),
                fc.constantFrom('../../../etc/passwd', '%2e%2e%2f', '?$top=999', '#', '', ' '),
                fc.integer(),
              ),
            ),
          ),
        ),
      }),
      headers: json,
    }),
    () => {
      const token = sample(fc.string({ minLength: 1, maxLength: 200 }));
      return {
        kind: 'validation token',
        path: `/webhooks/graph/graph${dice() < 0.5 ? '/lifecycle' : ''}?validationToken=${encodeURIComponent(token)}`,
        body: '',
        headers: { 'content-type': 'text/plain' },
        echo: token,
      };
    },
    () => ({
      kind: 'lifecycle: random',
      path: '/webhooks/graph/graph/lifecycle',
      body: JSON.stringify({
        value: [
          {
            subscriptionId: sample(fc.string({ maxLength: 40 })),
            clientState: dice() < 0.5 ? STATE : 'nope',
            lifecycleEvent: sample(
              fc.oneof(
                fc.constantFrom('missed', 'reauthorizationRequired', 'subscriptionRemoved'),
                fc.string({ maxLength: 30 }),
              ),
            ),
          },
        ],
      }),
      headers: json,
    }),
    () => ({
      kind: 'unknown source',
      path: `/webhooks/graph/${encodeURIComponent(sample(fc.string({ minLength: 1, maxLength: 20 })))}`,
      body: '{"value":[]}',
      headers: json,
    }),
  ];
  return Array.from({ length: n }, () => kinds[Math.floor(dice() * kinds.length)]!());
}

export async function fuzzWebhooks(
  o: ScenarioOptions & { requests?: number; records?: number } = {},
): Promise<ChaosResult> {
  const nFuzz = o.requests ?? 2000;
  const nValid = o.records ?? 5000;
  const seed = o.seed ?? 23;
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-chaos-fuzz-'));
  const redis = await startBenchRedis();
  const sim = await startSimulator({ tenants: [T], seed, dir: join(dir, 'sim') });
  const out = join(dir, 'out.ndjson');
  const counter = new DeliveryCounter([out]);
  const daemon = await startDaemon({
    config: `
redis: { url: "${redis.url}", key_prefix: "fuzz" }
server: { listen: "127.0.0.1:\${PORT}", public_url: "http://127.0.0.1:\${PORT}" }
log: { level: error, format: json }
pipeline: { takeover_ms: 2000 }
sources:
  - { name: push, type: webhook, token: ${PUSH_TOKEN} }
  - name: graph
    type: graph_security
    tenant_id: ${T.tenantId}
    client_id: ${T.clientId}
    client_secret: ${T.clientSecret}
    graph_url: ${sim.url}
    authority_url: ${sim.authorityHost}
    ca_file: ${sim.caFile}
    resources: [alerts]
    poll_interval_ms: 3600000
    webhook: { enabled: true, client_state: ${STATE} }
sinks:
  - { name: out, type: file, path: "${out}" }
`,
    dir,
    name: 'fuzz',
    runtime: o.runtime ?? 'tsx',
  });
  const sender = new PushSender(() => daemon.port, 50);
  const agent = new Agent({ keepAliveTimeout: 10_000 });
  try {
    const valid = graphAlerts(nValid, seed);
    const requests = fuzzRequests(nFuzz, seed, valid[0]!);
    const statuses = new Map<string, number>();
    const serverErrors: string[] = [];
    let badEcho = 0;
    const stream = sender.send(valid);
    for (const r of requests) {
      const res = await undiciFetch(`http://127.0.0.1:${daemon.port}${r.path}`, {
        method: 'POST',
        body: r.body,
        headers: r.headers,
        dispatcher: agent,
        signal: AbortSignal.timeout(15_000),
      }).then(
        async (x) => ({ status: x.status, text: await x.text() }),
        (err: Error) => ({ status: 0, text: err.message }),
      );
      const key = `${res.status}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      if (res.status === 0 || res.status >= 500)
        serverErrors.push(`${r.kind} → ${res.status} ${res.text.slice(0, 120)}`);
      if (r.echo !== undefined && (res.status !== 200 || res.text !== r.echo)) badEcho++;
    }
    await stream;
    log(
      `fuzz: ${nFuzz} requests, answers ${[...statuses]
        .sort()
        .map(([k, v]) => `${k}×${v}`)
        .join(' ')}`,
    );
    await until(
      () => {
        counter.poll();
        return [...sender.acked].every((id) => counter.seen.has(id));
      },
      120_000,
      250,
    );
    const health = await daemon.get('/healthz');
    const alive = daemon.alive();
    const pendingInfo = (await redis.client
      .xpending('fuzz:notifications', 'fetch', '-', '+', 10)
      .catch(() => [])) as Array<[string, string, number, number]>;
    const pending = pendingInfo.length;
    const pendingIds: string[] = [];
    for (const [entry, , , deliveries] of pendingInfo.slice(0, 3)) {
      const [[, fields] = ['', []]] = (await redis.client.xrange('fuzz:notifications', entry, entry)) as Array<
        [string, string[]]
      >;
      pendingIds.push(`${JSON.stringify(fields[fields.indexOf('id') + 1] ?? '?')} (fetched ${deliveries}×)`);
    }
    await daemon.stop();
    counter.close();
    const fuzzAccepted = [...counter.seen.keys()].filter((id) => !sender.acked.has(id));
    const unexpected = fuzzAccepted.filter((id) => !/\/fuzz-/.test(id));
    const notes = [
      `${nFuzz} fuzzed requests: ${[...statuses]
        .sort()
        .map(([k, v]) => `${k === '0' ? 'no answer' : k} × ${v}`)
        .join(', ')}`,
      `${serverErrors.length} answered 5xx or not at all${serverErrors.length ? `: ${serverErrors.slice(0, 3).join(' | ')}` : ''}`,
      `${badEcho} validation tokens not echoed exactly`,
      `${fuzzAccepted.length} fuzzed alerts accepted as records (valid shape, fresh ids); ${unexpected.length} records delivered that nobody sent`,
      `${pending} notifications still pending at the end${pending ? `, e.g. ids ${pendingIds.join(', ')}: their fetch failed with a retryable answer, so they are retried with backoff until their maximum age` : ''}`,
      alive && health.status === 200
        ? 'daemon up and healthy at the end'
        : `DAEMON ${alive ? `unhealthy (${health.status})` : 'EXITED'}`,
    ];
    const result = tally(
      `fuzzed webhook traffic (${nFuzz} requests) beside ${nValid.toLocaleString('en-US')} valid records`,
      sender.acked,
      counter.seen,
      (Date.now() - t0) / 1000,
      notes,
    );
    if (!alive) result.problems.push('the daemon exited');
    if (health.status !== 200) result.problems.push(`/healthz answered ${health.status}`);
    if (serverErrors.length) result.problems.push(`${serverErrors.length} requests answered 5xx or not at all`);
    if (unexpected.length) result.problems.push(`${unexpected.length} records delivered that nobody sent`);
    if (badEcho) result.problems.push(`${badEcho} validation tokens not echoed`);
    return result;
  } finally {
    counter.close();
    await daemon.kill();
    await agent.close();
    await sender.close();
    await sim.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
