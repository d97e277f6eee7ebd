/**
 * Write-back of SIEM triage (issue 15), end to end through `alertbridge run` against the simulator: changes posted
 * to `/sync/{source}` land in Graph (the simulator's objects), the updated object reaches the sink at once as a
 * `via: sync` revision (and the poll that reads it again is absorbed by dedup), stale writes are conflicts, repeated
 * ones no-ops, and a tenant whose app lacks the ReadWrite permission gets one clear error and a dead-lettered change.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { freePort } from '../../src/util/redis-server.js';
import { runCli } from '../helpers/cli.js';
import { redisUrl } from '../helpers/redis.js';
import {
  e2eWorkspace,
  graphSourceYaml,
  ndjsonLines,
  postSync,
  startDaemon,
  type StartedDaemon,
} from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';
import { keysFor } from '../../src/pipeline/keys.js';

const T: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-00000000c15a',
  clientId: 'app-sync',
  clientSecret: 'secret-sync',
};
/** An app whose admin consented to read only. */
const RO: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-00000000c15b',
  clientId: 'app-readonly',
  clientSecret: 'secret-readonly',
  roles: ['SecurityAlert.Read.All', 'SecurityIncident.Read.All'],
};
const TOKEN = 'sync-test-token';
const { dir, prefix } = e2eWorkspace('sync');
let sim: Simulator;
let daemon: StartedDaemon;
let port: number;
const out = join(dir, 'out.ndjson');
const config = join(dir, 'config.yaml');
const outcomesFile = join(dir, 'outcomes.ndjson');
/** Every change id the tests got back, with the outcome they saw. */
const seen = new Map<string, string>();

interface Line {
  key: string;
  id: string;
  resource: string;
  revision: string;
  via: string;
  status: string;
  changes?: Array<{ field: string; from: unknown; to: unknown }>;
  data: Record<string, unknown>;
}
const lines = (): Line[] => ndjsonLines(out).map((l) => JSON.parse(l) as Line);

async function post(source: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await postSync(port, source, TOKEN, body);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

interface Outcome {
  outcome: string;
  reason: string | null;
  revision_before: string | null;
  revision_after: string | null;
  fields: Array<{ field: string; from: unknown; to: unknown }>;
}
async function outcomeOf(source: string, id: string): Promise<Outcome> {
  return waitFor(
    async () => {
      daemon.alive();
      const res = await fetch(`http://127.0.0.1:${port}/sync/${source}/changes/${id}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const body = (await res.json()) as { outcome: Outcome | null };
      if (body.outcome) seen.set(id, body.outcome.outcome);
      return body.outcome;
    },
    { timeoutMs: 60_000, what: `the outcome of change ${id}` },
  );
}

const patches = (id: string) => sim.requestLog.filter((e) => e.method === 'PATCH' && e.path.endsWith(`/${id}`));

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T, RO], seed: 15 });
  port = await freePort();
  const sync = `    poll_interval_ms: 1000\n    sync: { enabled: true, token: ${TOKEN} }\n`;
  writeFileSync(
    config,
    `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { listen: "127.0.0.1:${port}" }
log: { level: info, format: json }
pipeline: { takeover_ms: 3000 }
sources:
${graphSourceYaml(sim, T, { name: 'contoso', resources: ['alerts_v2', 'incidents'], extra: sync })}
${graphSourceYaml(sim, RO, { name: 'readonly', resources: ['alerts_v2'], extra: sync })}
sinks:
  - { name: out, type: file, path: "${out}" }
  - { name: outcomes, type: file, path: "${outcomesFile}", filter: { resources: [sync_outcomes] } }
`,
  );
  daemon = startDaemon(config, port);
  await daemon.ready();
}, 90_000);

afterAll(async () => {
  await daemon?.stop();
  await sim?.close();
});

describe('POST /sync/{source} through alertbridge run', () => {
  it('writes status, classification, assignment and a comment to Graph, and the new revision reaches the sink once', async () => {
    const alert = sim.create(T.tenantId, 'alerts_v2', {
      status: 'new',
      classification: null,
      determination: null,
      assignedTo: null,
    });
    const id = String(alert.id);
    await waitFor(() => lines().some((l) => l.id === id), { timeoutMs: 60_000, what: 'the alert polled' });
    const polled = lines().find((l) => l.id === id)!;

    const res = await post('contoso', {
      key: polled.key,
      status: 'resolved',
      classification: 'truePositive',
      determination: 'malware',
      assigned_to: 'analyst@contoso.com',
      comment: 'Closed from Splunk: confirmed malware, host reimaged.',
      expected_revision: polled.revision,
    });
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(1);
    const [changeId] = res.body.ids as string[];

    const outcome = await outcomeOf('contoso', changeId!);
    expect(outcome.outcome).toBe('applied');
    const now = sim.list(T.tenantId, 'alerts_v2').find((a) => a.id === id)!;
    expect(now).toMatchObject({
      status: 'resolved',
      classification: 'truePositive',
      determination: 'malware',
      assignedTo: 'analyst@contoso.com',
    });
    expect((now.comments as Array<{ comment: string }>).at(-1)!.comment).toBe(
      'Closed from Splunk: confirmed malware, host reimaged.',
    );
    expect(now.lastUpdateDateTime).not.toBe(polled.revision);
    expect(patches(id)).toHaveLength(1);
    expect(outcome.revision_after).toBe(now.lastUpdateDateTime);

    // The new revision, as Graph answered the PATCH, is delivered with via: sync ...
    await waitFor(() => lines().some((l) => l.id === id && l.via === 'sync'), {
      timeoutMs: 30_000,
      what: 'the via: sync revision at the sink',
    });
    // ... and once only: the polls that read it again after that are duplicates.
    const polls = daemon.output().split('poll finished').length;
    await waitFor(() => daemon.output().split('poll finished').length > polls + 2, {
      timeoutMs: 30_000,
      what: 'two more polls',
    });
    // The revision the write produced reaches the sink exactly once, as via: sync. (A poll between the comment
    // and the PATCH may see the comment's own revision: a real, earlier revision, delivered as such.)
    const revisions = lines().filter((l) => l.id === id);
    const final = revisions.filter((l) => l.revision === now.lastUpdateDateTime);
    expect(final.map((l) => l.via)).toEqual(['sync']);
    expect(final[0]!.status).toBe('resolved');
    // `changes` lists exactly the fields the write changed (the comment is not a tracked field).
    expect(final[0]!.changes).toEqual([
      { field: 'status', from: 'new', to: 'resolved' },
      { field: 'assignedTo', from: null, to: 'analyst@contoso.com' },
      { field: 'classification', from: null, to: 'truePositive' },
      { field: 'determination', from: null, to: 'malware' },
    ]);
    expect(new Set(revisions.map((l) => l.revision)).size).toBe(revisions.length);
  }, 120_000);

  it('refuses a stale write: no PATCH, a conflict with both revisions', async () => {
    const alert = sim.create(T.tenantId, 'alerts_v2', { status: 'new' });
    const id = String(alert.id);
    const seen = String(alert.lastUpdateDateTime);
    const moved = sim.update(T.tenantId, 'alerts_v2', id); // someone changed it in the portal meanwhile
    const res = await post('contoso', {
      resource: 'alerts_v2',
      id,
      status: 'resolved',
      classification: 'falsePositive',
      expected_revision: seen,
    });
    expect(res.status).toBe(202);
    const outcome = await outcomeOf('contoso', (res.body.ids as string[])[0]!);
    expect(outcome.outcome).toBe('conflict');
    expect(outcome.reason).toContain(seen);
    expect(outcome.reason).toContain(String(moved.lastUpdateDateTime));
    expect(patches(id)).toHaveLength(0);
  }, 60_000);

  it('applies the same change once: the second is a no-op; an incident and an alert in one request are both applied', async () => {
    const alert = sim.create(T.tenantId, 'alerts_v2', { status: 'new', assignedTo: null });
    const incident = sim.create(T.tenantId, 'incidents', { status: 'active', customTags: [] });
    const change = {
      resource: 'alerts_v2',
      id: String(alert.id),
      status: 'inProgress',
      assigned_to: 'soc@contoso.com',
    };
    const first = await post('contoso', [
      change,
      {
        resource: 'incidents',
        id: String(incident.id),
        status: 'resolved',
        classification: 'truePositive',
        determination: 'compromisedAccount', // the alert name: stored as the incident's compromisedUser
        custom_tags: ['splunk', 'closed-by-soc'],
      },
    ]);
    expect(first.status).toBe(202);
    const [alertChange, incidentChange] = first.body.ids as string[];
    expect((await outcomeOf('contoso', alertChange!)).outcome).toBe('applied');
    expect((await outcomeOf('contoso', incidentChange!)).outcome).toBe('applied');
    expect(sim.list(T.tenantId, 'incidents').find((i) => i.id === incident.id)).toMatchObject({
      status: 'resolved',
      classification: 'truePositive',
      determination: 'compromisedUser',
      customTags: ['splunk', 'closed-by-soc'],
    });

    const again = await post('contoso', change);
    const second = await outcomeOf('contoso', (again.body.ids as string[])[0]!);
    expect(second.outcome).toBe('noop');
    expect(patches(String(alert.id))).toHaveLength(1);
    expect(patches(String(incident.id))).toHaveLength(1);
  }, 60_000);

  it('403 (no ReadWrite permission): one clear error naming source, tenant and permission; the change dead-lettered', async () => {
    const alert = sim.create(RO.tenantId, 'alerts_v2', { status: 'new' });
    const res = await post('readonly', { resource: 'alerts_v2', id: String(alert.id), status: 'resolved' });
    expect(res.status).toBe(202);
    const changeId = (res.body.ids as string[])[0]!;
    const outcome = await outcomeOf('readonly', changeId);
    expect(outcome.outcome).toBe('failed');
    expect(outcome.reason).toContain('SecurityAlert.ReadWrite.All');
    const errors = daemon
      .output()
      .split('\n')
      .filter((l) => l.includes('403') && l.includes(String(alert.id)));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("source 'readonly'");
    expect(errors[0]).toContain(RO.tenantId);
    expect(errors[0]).toContain('SecurityAlert.ReadWrite.All');
    expect(errors[0]).toContain('"level":50');
    // Graph was asked once: no retry of a 403
    expect(sim.requestLog.filter((e) => e.method === 'PATCH' && e.path.endsWith(String(alert.id)))).toHaveLength(1);
    // dead-lettered
    const redis = new (await import('ioredis')).Redis(redisUrl());
    try {
      expect(await redis.lrange(keysFor(prefix).syncDead('readonly'), 0, -1)).toEqual([changeId]);
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it('400 with the index and reason of each bad item, the allowed values of an unknown enum; nothing queued', async () => {
    const res = await post('contoso', [
      { resource: 'alerts_v2', id: 'a1', status: 'closed' },
      { resource: 'alerts_v2', id: 'a2', status: 'resolved' },
      { resource: 'incidents', id: 'i1', determination: 'notMalicious' },
      { resource: 'alerts_v2', id: 'a3', custom_tags: ['x'] },
      { key: 'ffffffff-0000-4000-8000-000000000000/alerts_v2/x/y', status: 'resolved' },
    ]);
    expect(res.status).toBe(400);
    const errors = res.body.errors as Array<{ index: number; error: string }>;
    expect(errors.map((e) => e.index)).toEqual([0, 3, 4]);
    expect(errors[0]!.error).toBe('status "closed" is not valid for alerts_v2 (allowed: new, inProgress, resolved)');
    expect(errors[1]!.error).toContain('incidents only');
    expect(errors[2]!.error).toContain('not this source');
    const unauth = await fetch(`http://127.0.0.1:${port}/sync/contoso`, {
      method: 'POST',
      headers: { authorization: 'Bearer wrong', 'content-type': 'application/json' },
      body: JSON.stringify({ resource: 'alerts_v2', id: 'a1', status: 'resolved' }),
    });
    expect(unauth.status).toBe(401);
  }, 30_000);

  it('alertbridge sync queues a change for the daemon and waits for its outcome; sync status prints it', async () => {
    const alert = sim.create(T.tenantId, 'alerts_v2', { status: 'new' });
    const id = String(alert.id);
    const run = await runCli([
      'sync',
      '-c',
      config,
      '-s',
      'contoso',
      '--resource',
      'alerts_v2',
      '--id',
      id,
      '--status',
      'inProgress',
      '--comment',
      'Runbook step 3: isolating the host.',
      '--wait',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const [queued, done] = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(queued).toMatchObject({ queued: true });
    expect(done).toMatchObject({ change_id: queued!.change_id, state: 'applied', requested_by: 'cli' });
    expect(sim.list(T.tenantId, 'alerts_v2').find((a) => a.id === id)!.status).toBe('inProgress');

    const status = await runCli(['sync', 'status', '-c', config, '-s', 'contoso', '--id', String(queued!.change_id)]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'applied', outcome: { outcome: 'applied' } });

    const bad = await runCli([
      'sync',
      '-c',
      config,
      '-s',
      'contoso',
      '--resource',
      'alerts_v2',
      '--id',
      id,
      '--status',
      'closed',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('status "closed" is not valid for alerts_v2 (allowed: new, inProgress, resolved)');
  }, 90_000);

  it('sends one outcome record per change to the sink that opted in, and none to the others', async () => {
    expect(seen.size).toBeGreaterThanOrEqual(6);
    const records = await waitFor(
      () => {
        const got = ndjsonLines(outcomesFile).map(
          (l) => JSON.parse(l) as { schema: string; id: string; status: string; data: { outcome: string } },
        );
        return [...seen.keys()].every((id) => got.some((r) => r.id === id)) ? got : undefined;
      },
      { timeoutMs: 30_000, what: 'the outcome records' },
    );
    for (const [id, outcome] of seen) {
      const mine = records.filter((r) => r.id === id);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ schema: 'alertbridge.sync_outcome/v1', status: outcome, data: { outcome } });
    }
    expect(new Set(records.map((r) => r.schema))).toEqual(new Set(['alertbridge.sync_outcome/v1']));
    expect(lines().filter((l) => (l as unknown as { schema: string }).schema !== 'alertbridge.record/v1')).toEqual([]);
  }, 60_000);

  it('counts outcomes and shows the queue depth in /metrics, and each worker in /readyz', async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const value = (series: string) =>
      Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    const count = (outcome: string) => [...seen.entries()].filter(([, o]) => o === outcome).length;
    // the changes posted over HTTP, and the one from `alertbridge sync`
    expect(value('alertbridge_sync_changes_total{source="contoso",outcome="applied"}')).toBe(count('applied') + 1);
    expect(value('alertbridge_sync_changes_total{source="contoso",outcome="noop"}')).toBe(1);
    expect(value('alertbridge_sync_changes_total{source="contoso",outcome="conflict"}')).toBe(1);
    expect(value('alertbridge_sync_changes_total{source="readonly",outcome="failed"}')).toBe(1);
    expect(value('alertbridge_sync_rejected_total{source="contoso",reason="invalid"}')).toBeGreaterThanOrEqual(1);
    expect(value('alertbridge_sync_rejected_total{source="contoso",reason="auth"}')).toBe(1);
    expect(value('alertbridge_queue_depth{queue="sync:contoso"}')).toBe(0);
    const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as {
      checks: Record<string, boolean>;
    };
    expect(ready.checks).toMatchObject({ 'sync:contoso': true, 'sync:readonly': true });
  }, 30_000);
});
