/**
 * `alertbridge backfill`: a one-off history pull of a Graph source through the CLI. The records go through dedup
 * into the queues (a daemon delivers them), and the source's poll cursor is left alone.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { runCli } from '../helpers/cli.js';
import { cleanup, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = { tenantId: 'eeeeeeee-0000-4000-8000-000000000005', clientId: 'app-e', clientSecret: 'secret-e' };
const dir = mkdtempSync(join(tmpdir(), 'ab-backfill-'));
let sim: Simulator;
let tp: TestPipeline | undefined;

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 5 });
});
afterAll(async () => {
  await cleanup(tp);
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('alertbridge backfill', () => {
  it('pulls the history of a source into the queues without touching its cursor', async () => {
    for (let i = 0; i < 150; i++) sim.create(T.tenantId, 'alerts_v2');
    for (let i = 0; i < 40; i++) sim.create(T.tenantId, 'incidents');
    const prefix = uniquePrefix('backfill');
    const config = join(dir, 'config.yaml');
    writeFileSync(config, `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
log: { format: json }
sources:
  - name: hist
    type: graph_security
    tenant_id: ${T.tenantId}
    client_id: ${T.clientId}
    client_secret: ${T.clientSecret}
    graph_url: ${sim.url}
    authority_url: ${sim.authorityHost}
    ca_file: ${sim.caFile}
    resources: [alerts_v2, incidents]
    page_size: 30
sinks:
  - { name: out, type: file, path: /dev/null }
`);
    const since = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const res = await runCli(['backfill', '--config', config, '--source', 'hist', '--since', since]);
    expect(res.code).toBe(0);
    const finished = res.stderr.split('\n').filter((l) => l.includes('backfill finished')).map((l) => JSON.parse(l) as { resource: string; fetched: number; accepted: number; pages: number });
    expect(finished.map((f) => [f.resource, f.fetched, f.accepted])).toEqual([['alerts_v2', 150, 150], ['incidents', 40, 40]]);
    expect(finished[0]!.pages).toBeGreaterThanOrEqual(5);

    // a daemon's sink worker on the same prefix delivers what the backfill queued
    const sink = new RecordingSink('out');
    tp = await startTestPipeline([{ sink }], { prefix });
    await waitFor(() => sink.received.length >= 190, { what: 'backfilled records delivered' });
    expect(new Set(sink.received.map((r) => r.key)).size).toBe(190);
    expect(await tp.redis.exists(`${prefix}:cursor:hist:alerts_v2`)).toBe(0);

    const usage = await runCli(['backfill', '--config', config, '--source', 'hist', '--since', 'yesterday']);
    expect(usage.code).toBe(1);
    expect(usage.stderr.trim()).toBe('--since: not an ISO 8601 time: "yesterday"');
  }, 90_000);
});
