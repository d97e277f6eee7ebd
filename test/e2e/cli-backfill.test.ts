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
import { graphSourceYaml } from '../helpers/e2e.js';
import { cleanup, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'eeeeeeee-0000-4000-8000-000000000005',
  clientId: 'app-e',
  clientSecret: 'secret-e',
};
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

/** A config file with one Graph source on the simulator; `extra` lines are appended to the source entry. */
function writeConfig(name: string, prefix: string, source: string, resources: string[], extra = ''): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
log: { format: json }
sources:
${graphSourceYaml(sim, T, { name: source, resources, extra })}sinks:
  - { name: out, type: file, path: /dev/null }
`,
  );
  return file;
}

describe('alertbridge backfill', () => {
  it('pulls the history of a source into the queues without touching its cursor', async () => {
    for (let i = 0; i < 150; i++) sim.create(T.tenantId, 'alerts_v2');
    for (let i = 0; i < 40; i++) sim.create(T.tenantId, 'incidents');
    const prefix = uniquePrefix('backfill');
    const config = writeConfig('config.yaml', prefix, 'hist', ['alerts_v2', 'incidents'], '    page_size: 30\n');
    const since = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const res = await runCli(['backfill', '--config', config, '--source', 'hist', '--since', since]);
    expect(res.code).toBe(0);
    const finished = res.stderr
      .split('\n')
      .filter((l) => l.includes('backfill finished'))
      .map((l) => JSON.parse(l) as { resource: string; fetched: number; accepted: number; pages: number });
    expect(finished.map((f) => [f.resource, f.fetched, f.accepted])).toEqual([
      ['alerts_v2', 150, 150],
      ['incidents', 40, 40],
    ]);
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

  it('exits 2 when a provider failed (206), naming the provider and window, and the re-run it prints fills the gap', async () => {
    sim.createMany(T.tenantId, 'alerts', 12, { provider: 'MCAS' });
    for (let i = 0; i < 30; i++) sim.create(T.tenantId, 'alerts');
    const total = sim.list(T.tenantId, 'alerts').length;
    const config = writeConfig('config-206.yaml', uniquePrefix('backfill206'), 'legacy', ['alerts', 'alerts_v2']);
    const since = new Date(Date.now() - 2 * 86_400_000).toISOString();
    sim.setFaults({ partialProvider: 'MCAS' });
    let res: Awaited<ReturnType<typeof runCli>>;
    try {
      res = await runCli(['backfill', '--config', config, '--source', 'legacy', '--since', since]);
    } finally {
      sim.setFaults({ partialProvider: null });
    }
    expect(res.code).toBe(2);
    const report = res.stderr.split('\n').filter((l) => l && !l.startsWith('{'));
    const sinceOrder = `${since.slice(0, 19)}.${since.slice(20, 23)}0000Z`;
    expect(report[0]).toBe(`backfill of source 'legacy' (tenant ${T.tenantId}) is incomplete:`);
    expect(report[1]).toMatch(
      new RegExp(
        `^  alerts: provider 'MCAS' failed \\(206 Partial Content\\), its alerts updated from ${sinceOrder.replace(/\./g, '\\.')} to \\S+Z were not read$`,
      ),
    );
    expect(report[2]).toBe(
      `re-run once the providers answer again: alertbridge backfill --config ${config} --source legacy --since ${sinceOrder} --resource alerts (records already queued are deduplicated, not delivered twice)`,
    );
    expect(report).toHaveLength(3); // alerts_v2 had no gap
    const finished = (r: typeof res) =>
      r.stderr
        .split('\n')
        .filter((l) => l.includes('backfill finished'))
        .map((l) => JSON.parse(l) as { resource: string; accepted: number });
    const mcasCount = sim
      .list(T.tenantId, 'alerts')
      .filter((a) => (a.vendorInformation as { provider: string }).provider === 'MCAS').length;
    expect(mcasCount).toBeGreaterThanOrEqual(12);
    expect(finished(res).find((f) => f.resource === 'alerts')!.accepted).toBe(total - mcasCount);

    // the printed command, once MCAS answers: exit 0, and only what was missing is new
    const rerun = report[2]!
      .replace(/^.*?alertbridge /, '')
      .replace(/ \(records.*$/, '')
      .split(' ');
    const again = await runCli(rerun);
    expect(again.code).toBe(0);
    const accepted = finished(again);
    expect(accepted.map((f) => f.resource)).toEqual(['alerts']);
    expect(accepted[0]!.accepted).toBe(mcasCount);
  }, 90_000);
});
