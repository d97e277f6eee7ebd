/**
 * Write-back outcome records in `format: ocsf`, end to end through `alertbridge run` against the simulator: a change
 * POSTed to `/sync/{source}` reaches a file sink with `format: ocsf` and `filter.resources: [sync_outcomes]` as an
 * OCSF API Activity (6003, Update) naming the PATCH, Graph's answer, who asked, and the alert with its fields before
 * and after — not as the alert mapping's Detection Finding.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { freePort } from '../../src/util/redis-server.js';
import {
  daemonConfigHead,
  e2eWorkspace,
  graphSourceYaml,
  ndjsonLines,
  postSync,
  startDaemon,
  type StartedDaemon,
} from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'aaaaaaaa-0000-4000-8000-00000000c15c',
  clientId: 'app-sync-ocsf',
  clientSecret: 'secret-sync-ocsf',
};
const TOKEN = 'sync-ocsf-token';
const { dir, prefix } = e2eWorkspace('sync-ocsf');
let sim: Simulator;
let daemon: StartedDaemon;
let port: number;
const config = join(dir, 'config.yaml');
const ocsfFile = join(dir, 'outcomes-ocsf.ndjson');

interface ApiActivity extends Record<string, unknown> {
  class_uid: number;
  time: unknown;
  api?: { request?: { uid?: string } };
  resources: Array<Record<string, unknown>>;
}

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 16 });
  port = await freePort();
  writeFileSync(
    config,
    `
${daemonConfigHead(prefix, port)}sources:
${graphSourceYaml(sim, T, { name: 'contoso', resources: ['alerts_v2'], extra: `    poll_interval_ms: 1000\n    sync: { enabled: true, token: ${TOKEN} }\n` })}
sinks:
  - { name: outcomes, type: file, path: "${ocsfFile}", format: ocsf, filter: { resources: [sync_outcomes] } }
`,
  );
  daemon = startDaemon(config, port);
  await daemon.ready();
}, 90_000);

afterAll(async () => {
  await daemon?.stop();
  await sim?.close();
});

describe('write-back outcomes at a format: ocsf sink', () => {
  it('an applied change arrives as an OCSF API Activity: Update of the alert, and only outcomes arrive', async () => {
    const alert = sim.create(T.tenantId, 'alerts_v2', { status: 'new', classification: null, assignedTo: null });
    const id = String(alert.id);
    const res = await postSync(port, 'contoso', TOKEN, {
      resource: 'alerts_v2',
      id,
      status: 'resolved',
      classification: 'truePositive',
    });
    expect(res.status).toBe(202);
    const [changeId] = ((await res.json()) as { ids: string[] }).ids;

    const events = (): ApiActivity[] => ndjsonLines(ocsfFile).map((l) => JSON.parse(l) as ApiActivity);
    const event = await waitFor(
      () => {
        daemon.alive();
        return events().find((e) => e.api?.request?.uid === changeId);
      },
      { timeoutMs: 60_000, what: 'the outcome at the ocsf sink' },
    );
    const now = sim.list(T.tenantId, 'alerts_v2').find((a) => a.id === id)!;
    expect(now.status).toBe('resolved');

    expect(event).toMatchObject({
      class_uid: 6003,
      class_name: 'API Activity',
      category_uid: 6,
      activity_id: 3,
      type_uid: 600303,
      severity_id: 1,
      status_id: 1,
      status: 'Success',
      status_code: 'applied',
      actor: { user: { name: 'bearer' }, app_name: 'alertbridge' },
      api: { operation: 'PATCH', service: { name: 'Microsoft Graph' }, response: { code: 200 } },
      src_endpoint: { svc_name: 'alertbridge' },
      http_request: { http_method: 'PATCH', url: { path: `/security/alerts_v2/${id}` } },
      http_response: { code: 200 },
      metadata: {
        version: '1.4.0',
        product: { name: 'alertbridge' },
        tenant_uid: T.tenantId,
        log_name: 'sync_outcomes',
      },
    });
    expect(event).not.toHaveProperty('finding_info');
    expect(typeof event.time).toBe('number');
    expect(event.resources[0]).toMatchObject({
      uid: id,
      type: 'alerts_v2',
      data: {
        fields: [
          { field: 'status', from: 'new', to: 'resolved' },
          { field: 'classification', from: null, to: 'truePositive' },
        ],
        revision_after: now.lastUpdateDateTime,
      },
    });
    // The sink opted in to outcomes only: the polled alert itself is not there.
    expect(events().every((e) => e.class_uid === 6003)).toBe(true);
  });
});
