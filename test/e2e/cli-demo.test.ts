/** The README's first command: `alertbridge demo` shows alerts flowing from the simulator to stdout. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('alertbridge demo', () => {
  it('polls the bundled simulator and prints records as NDJSON, then stops cleanly', async () => {
    const env: NodeJS.ProcessEnv = { LOG_LEVEL: 'info' };
    delete env.REDIS_URL;
    const res = await runCli(['demo', '--count', '12', '--rate', '5'], { ...env, REDIS_URL: '' });
    expect(res.code).toBe(0);
    const records = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.length).toBeGreaterThanOrEqual(12);
    for (const r of records) {
      expect(r).toMatchObject({ schema: 'alertbridge.record/v1', source: 'demo-graph', via: 'poll' });
      expect(['alerts_v2', 'incidents', 'alerts']).toContain(r.resource);
    }
    expect(new Set(records.map((r) => `${String(r.key)}@${String(r.revision)}`)).size).toBe(records.length);
    expect(res.stderr).toContain('started the Graph simulator');
    expect(res.stderr).toContain('demo progress');
  }, 90_000);
});
