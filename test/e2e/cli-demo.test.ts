/**
 * The README's first command: `alertbridge demo` shows alerts flowing from the simulator to stdout, new ones through
 * the Defender streaming path (the simulator publishes their AlertInfo/AlertEvidence events into the demo's bundled
 * Event Hubs endpoint) while the poll interval is a minute.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('alertbridge demo', () => {
  it('prints records as NDJSON, new alerts via streaming, then stops cleanly', async () => {
    const env: NodeJS.ProcessEnv = { LOG_LEVEL: 'info' };
    delete env.REDIS_URL;
    const res = await runCli(['demo', '--count', '30', '--rate', '5'], { ...env, REDIS_URL: '' });
    expect(res.code).toBe(0);
    // stdout is not a terminal here: NDJSON only, none of the terminal view (cli-demo-tty.test.ts).
    expect(res.stdout).not.toContain('\x1b');
    expect(res.stdout).not.toContain('records (NDJSON)');
    const records = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.length).toBeGreaterThanOrEqual(30);
    for (const r of records) {
      expect(r).toMatchObject({ schema: 'alertbridge.record/v1', source: 'demo-graph' });
      expect(['poll', 'streaming']).toContain(r.via);
      expect(['alerts_v2', 'incidents', 'alerts']).toContain(r.resource);
    }
    // The poll runs once a minute: what arrived after the first one came through the stream, read from Graph.
    const streamed = records.filter((r) => r.via === 'streaming');
    expect(streamed.length).toBeGreaterThan(0);
    expect(streamed.every((r) => r.resource === 'alerts_v2')).toBe(true);
    expect(new Set(records.map((r) => `${String(r.key)}@${String(r.revision)}`)).size).toBe(records.length);
    expect(res.stderr).toContain('started the Graph simulator');
    expect(res.stderr).toContain('started the Event Hubs endpoint');
    // The progress line says which path brought the records.
    const progress = res.stderr
      .split('\n')
      .filter((l) => l.includes('"demo progress"'))
      .map((l) => JSON.parse(l) as { by_path: Record<string, number> });
    expect(progress.at(-1)?.by_path.streaming).toBeGreaterThan(0);
  }, 90_000);
});
