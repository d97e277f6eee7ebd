/**
 * A partner push cannot poison a Graph alert's dedup state: through the real `alertbridge run`, a push source
 * forges a copy of a polled alert (same tenant, provider and id) with an update time ahead of Graph's; the
 * simulator then updates the real alert, and the file sink receives that update. The forged copy is kept under the
 * push source's own key, and one far in the future is refused outright.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { freePort } from '../../src/util/redis-server.js';
import { daemonConfigHead, e2eWorkspace, graphSourceYaml, ndjsonLines, startDaemon } from '../helpers/e2e.js';
import { waitFor } from '../helpers/wait.js';

const T: TenantCredentials = {
  tenantId: 'eeeeeeee-0000-4000-8000-00000000f0f0',
  clientId: 'app-f',
  clientSecret: 'secret-f',
};
const TOKEN = 'forgery-test-token';
const { dir, prefix } = e2eWorkspace('forgery');
let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ tenants: [T], seed: 11 });
});
afterAll(() => sim.close());

interface Line {
  key: string;
  source: string;
  id: string;
  revision: string;
  via: string;
}

const lines = (path: string): Line[] => ndjsonLines(path).map((l) => JSON.parse(l) as Line);

describe('a forged push of a Graph alert', () => {
  it('cannot hide the real alert’s later update', async () => {
    const alert = sim.create(T.tenantId, 'alerts_v2');
    const id = alert.id as string;
    const port = await freePort();
    const out = join(dir, 'out.ndjson');
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
${daemonConfigHead(prefix, port)}sources:
${graphSourceYaml(sim, T, { name: 'contoso', resources: ['alerts_v2'], extra: '    poll_interval_ms: 1000' })}
  - { name: partner, type: webhook, token: ${TOKEN} }
sinks:
  - { name: out, type: file, path: "${out}" }
`,
    );
    const daemon = startDaemon(config, port);
    const push = (body: unknown) =>
      fetch(`http://127.0.0.1:${port}/ingest/partner`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    try {
      await waitFor(
        () => {
          daemon.alive();
          return lines(out).some((l) => l.id === id);
        },
        { timeoutMs: 60_000, what: 'the alert polled and delivered' },
      );

      // far in the future: refused, with the reason
      const far = await push({ ...alert, lastUpdateDateTime: '2999-01-01T00:00:00Z', title: 'forged' });
      expect(far.status).toBe(422);
      expect(((await far.json()) as { errors: Array<{ error: string }> }).errors[0]!.error).toMatch(
        /^lastUpdateDateTime "2999-01-01T00:00:00Z" is more than 300000 ms ahead/,
      );
      // just inside the tolerated skew: accepted, under the partner's own key
      const forgedTime = new Date(Date.now() + 240_000).toISOString();
      const near = await push({ ...alert, lastUpdateDateTime: forgedTime, title: 'forged' });
      expect(near.status).toBe(202);
      expect(await near.json()).toEqual({ accepted: 1, duplicates: 0 });

      const updated = sim.update(T.tenantId, 'alerts_v2', id);
      expect(String(updated.lastUpdateDateTime) < forgedTime).toBe(true);
      await waitFor(() => lines(out).some((l) => l.id === id && l.revision === updated.lastUpdateDateTime), {
        timeoutMs: 60_000,
        what: 'the real update delivered',
      });

      const key = `${T.tenantId}/alerts_v2/${String(alert.serviceSource)}/${id}`;
      expect(
        lines(out)
          .filter((l) => l.id === id)
          .map((l) => [l.key, l.source, l.via, l.revision]),
      ).toEqual([
        [key, 'contoso', 'poll', alert.lastUpdateDateTime],
        [`push:partner/${key}`, 'partner', 'push', forgedTime],
        [key, 'contoso', 'poll', updated.lastUpdateDateTime],
      ]);
    } finally {
      await daemon.stop();
    }
  }, 120_000);
});
