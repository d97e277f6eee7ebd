/**
 * `alertbridge simulate --event-hub` serves the bundled Event Hubs endpoint `alertbridge demo` uses, and prints its
 * connection string: config/demo.yaml run against it with `alertbridge run` (the printed values in its SIM_*
 * variables) reads the stream, so new alerts arrive `via: streaming` rather than leaving the streaming source
 * retrying. Both processes are the real CLI; Redis is a redis-server of the test's own (demo.yaml's default prefix).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startRedisServer, type RedisServer } from '../../src/util/redis-server.js';
import { spawnCli, type Daemon } from '../helpers/cli.js';
import { ndjsonLines } from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'ab-simulate-stream-'));
let redis: RedisServer | undefined;
const children: Daemon[] = [];

afterAll(async () => {
  for (const c of children.reverse())
    if (c.child.exitCode === null) {
      c.child.kill('SIGTERM');
      await c.exited;
    }
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('alertbridge simulate --event-hub', () => {
  it('streams new alerts into its hub: config/demo.yaml against it delivers records via streaming', async () => {
    redis = await startRedisServer();
    const sim = spawnCli(['simulate', '--port', '0', '--event-hub', '--rate', '1', '--initial', '2', '--dir', dir]);
    children.push(sim);
    const banner = await waitFor(
      () => {
        if (sim.child.exitCode !== null) throw new Error(`simulate exited: ${sim.output()}`);
        return /^SIM_STREAM_CONNECTION_STRING='([^']+)'$/m.test(sim.output()) ? sim.output() : undefined;
      },
      { timeoutMs: 60_000, what: 'the simulator banner with the connection string' },
    );
    const connection = /^SIM_STREAM_CONNECTION_STRING='([^']+)'$/m.exec(banner)![1]!;
    expect(connection).toMatch(/^Endpoint=sb:\/\/127\.0\.0\.1:\d+;.*UseDevelopmentEmulator=true;EntityPath=\S+$/);
    expect(banner).toMatch(/^ {2}Event Hub: +127\.0\.0\.1:\d+\/defender-stream-/m);
    expect(banner).toContain(`    connection_string: "${connection}"`);
    const graphUrl = /listening on (https:\/\/\S+)/.exec(banner)![1]!;
    const caFile = /CA certificate: +(\S+)/.exec(banner)![1]!;

    const out = join(dir, 'records.ndjson');
    const daemon = spawnCli(['run', '--config', 'config/demo.yaml'], {
      REDIS_URL: redis.url,
      ALERTBRIDGE_PORT: String(await freePort()),
      ALERTBRIDGE_DEMO_OUT: out,
      SIM_URL: graphUrl,
      SIM_CA_FILE: caFile,
      SIM_STREAM_CONNECTION_STRING: connection,
      LOG_FORMAT: 'json',
    });
    children.push(daemon);
    const streamed = await waitFor(
      () => {
        if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.output()}`);
        const records = ndjsonLines(out).map((l) => JSON.parse(l) as Record<string, unknown>);
        const s = records.filter((r) => r.via === 'streaming');
        return s.length >= 2 ? s : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'records via streaming in the file sink' },
    );
    for (const r of streamed) expect(r).toMatchObject({ source: 'demo-graph', resource: 'alerts_v2' });
    // The streaming source connected: it does not retry against a hub that is not there.
    expect(daemon.output()).not.toMatch(/ECONNREFUSED/);
  }, 240_000);
});
