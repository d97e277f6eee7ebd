/**
 * Health records of sinks, through two replicas of the app (buildApp, one Redis prefix) against the HEC peer: a sink
 * paused on a refused token is one `sink_paused` record when it starts and one when the token is fixed, however many
 * refused probes and replicas see it; dead letters are one `dead_letters` record per burst with the count. Both go to
 * the other sink that opted in (`filter.resources: [health]`), never to the sink they are about, nor to a sink that
 * did not opt in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { currentConditions } from '../../src/health/reporter.js';
import { Metrics } from '../../src/observability/metrics.js';
import { silentLogger } from '../helpers/pipeline.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { records } from '../helpers/records.js';
import { ndjsonLines } from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';
import { startHecPeer, type HecPeer, type IndexedEvent } from '../peers/hec/server.js';
import { TOKEN } from '../peers/hec/sink.js';

const dir = mkdtempSync(join(tmpdir(), 'ab-sink-health-'));
const prefix = uniquePrefix('sink-health');
const ops = join(dir, 'ops.ndjson');
const plain = join(dir, 'plain.ndjson');
const apps: App[] = [];
/** The records the HEC peer refuses as invalid (400, code 6): dead-lettered alone. */
const INVALID = new Set([100, 101, 102, 103].map((i) => `da${String(i).padStart(8, '0')}_test`));
let hec: HecPeer | undefined;

afterEach(async () => {
  for (const a of apps.splice(0)) await a.stop();
  await hec?.close();
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await deletePrefix(prefix);
});

async function replica(peer: HecPeer): Promise<App> {
  const res = parseConfig(
    `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
sinks:
  - name: hec
    type: splunk_hec
    url: ${peer.url}
    token: ${TOKEN}
    auth_pause_ms: 100
    filter: { resources: [alerts_v2, health] }
    batch: { max_records: 5 }
    retry: { max_attempts: 2, initial_backoff_ms: 20, max_backoff_ms: 200 }
    dead_letter: { report_window_ms: 1500 }
    ack: { enabled: false }
  - { name: ops, type: file, path: "${ops}", filter: { resources: [health] } }
  - { name: plain, type: file, path: "${plain}" }
`,
    { baseDir: '/', env: {} },
  );
  if (!res.ok) throw new Error(res.errors.join('\n'));
  const app = buildApp(res.config, { logger: silentLogger, metrics: new Metrics({ defaultMetrics: false }) });
  apps.push(app);
  await app.start({ listen: false });
  return app;
}

interface Line {
  schema: string;
  key: string;
  revision: string;
  source: string;
  status: string;
  data: { condition: string; sink: string; count?: number; observations: number; cleared_at: string | null };
}
const healthAt = (path: string) =>
  ndjsonLines(path)
    .map((l) => JSON.parse(l) as Line)
    .filter((r) => r.schema === 'alertbridge.health/v1');
const of = (condition: string) => healthAt(ops).filter((r) => r.data.condition === condition);
const eventSchema = (e: IndexedEvent) => (e.event.event as { schema?: string } | undefined)?.schema;

describe('health records of sinks', () => {
  it('a paused sink: one record when it pauses and one when it resumes, at the other sink, from two replicas', async () => {
    hec = await startHecPeer({ tokens: ['another-token'] });
    const a = await replica(hec);
    await replica(hec);
    await a.pipeline.emit(records(20));
    await waitFor(() => of('sink_paused').length, { what: 'sink_paused raised', timeoutMs: 60_000 });
    expect((await currentConditions(a.redis, a.pipeline.keys)).map((c) => c.key)).toEqual([
      'health:sink:hec/sink_paused',
    ]);
    const refused = hec.requests.filter((q) => q.code === 4).length;
    await waitFor(() => hec!.requests.filter((q) => q.code === 4).length >= refused + 5, {
      what: 'five more refused probes',
      timeoutMs: 60_000,
    });
    expect(of('sink_paused').map((r) => [r.key, r.status, r.source])).toEqual([
      ['health:sink:hec/sink_paused', 'raised', 'sink:hec'],
    ]);

    hec.setFaults({ tokens: [TOKEN] }); // the operator fixes the token in Splunk
    await waitFor(() => of('sink_paused').length === 2, { what: 'sink_paused cleared', timeoutMs: 60_000 });
    const [raised, cleared] = of('sink_paused');
    expect(cleared).toMatchObject({ key: raised!.key, status: 'cleared' });
    expect(cleared!.revision > raised!.revision).toBe(true);
    expect(cleared!.data.observations).toBeGreaterThan(1);
    await waitFor(() => hec!.indexed.length >= 20, { what: 'the held records delivered', timeoutMs: 60_000 });
    expect(await currentConditions(a.redis, a.pipeline.keys)).toEqual([]);
    // Never at the sink the records are about, never at the sink that did not opt in.
    expect(hec.indexed.filter((e) => eventSchema(e) !== 'alertbridge.record/v1')).toEqual([]);
    expect(healthAt(plain)).toEqual([]);
  }, 180_000);

  it('dead letters: one record when a burst starts and one with its count once the sink is quiet', async () => {
    hec = await startHecPeer({
      invalidEvent: (e) => INVALID.has((e.event as { id?: string } | undefined)?.id ?? ''),
    });
    const a = await replica(hec);
    await a.pipeline.emit(records(10, {}, 100)); // 100..109; 100..103 are refused as invalid
    await waitFor(() => of('dead_letters').length === 2, {
      what: 'dead_letters raised and cleared',
      timeoutMs: 60_000,
    });
    const [raised, cleared] = of('dead_letters');
    expect([raised!.status, cleared!.status]).toEqual(['raised', 'cleared']);
    expect(raised!.key).toBe('health:sink:hec/dead_letters');
    // The count is the dead-letter queue's: the refused records, and those HEC did not index after one in the same
    // request (the splunk_hec sink dead-letters those too).
    const dead = await a.pipeline.deadLetters.count('hec');
    expect(dead).toBeGreaterThanOrEqual(4);
    expect(cleared!.data.count).toBe(dead);
    // A later burst is a new pair, dated after the first one's end.
    await a.pipeline.emit(records(2, { updated: '2026-11-02T10:00:00Z' }, 100));
    await waitFor(() => of('dead_letters').length === 4, { what: 'a second burst', timeoutMs: 60_000 });
    const [, , again, againCleared] = of('dead_letters');
    expect(again!.revision > cleared!.revision).toBe(true);
    expect(againCleared!.data.count).toBeGreaterThanOrEqual(2);
    expect(againCleared!.data.count).toBe((await a.pipeline.deadLetters.count('hec')) - dead);
    expect(hec.indexed.filter((e) => eventSchema(e) !== 'alertbridge.record/v1')).toEqual([]);
    expect(healthAt(plain)).toEqual([]);
  }, 180_000);
});
