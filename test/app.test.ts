/** What buildApp wires beyond its parts: here, that refused partner pushes reach the metrics the app serves. */
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../src/app.js';
import { parseConfig } from '../src/config/load.js';
import { RecordingSink } from './peers/recording-sink.js';
import { silentLogger } from './helpers/pipeline.js';
import { alertV2 } from './helpers/records.js';
import { deletePrefix, redisUrl, uniquePrefix } from './helpers/redis.js';

const TOKEN = 'partner-token-789';
let app: App | undefined;
let prefix = '';
afterEach(async () => {
  await app?.stop();
  app = undefined;
  await deletePrefix(prefix);
});

async function startApp(): Promise<App> {
  prefix = uniquePrefix('app');
  const res = parseConfig(
    `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
sources:
  - { name: partner, type: webhook, token: ${TOKEN} }
sinks:
  - { name: out, type: file, path: /dev/null }
`,
    { baseDir: '/', env: {} },
  );
  if (!res.ok) throw new Error(res.errors.join('\n'));
  app = buildApp(res.config, { logger: silentLogger, sinkOverrides: { out: new RecordingSink('out') } });
  await app.start({ listen: false });
  return app;
}

describe('buildApp', () => {
  it('counts refused partner pushes in alertbridge_webhook_rejected_total, by reason', async () => {
    const a = await startApp();
    const push = (payload: string, token = TOKEN) =>
      a.server.inject({
        method: 'POST',
        url: '/ingest/partner',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        payload,
      });
    expect((await push(JSON.stringify(alertV2(1)), 'wrong')).statusCode).toBe(401);
    expect((await push('{"id": ')).statusCode).toBe(400);
    expect((await push('"just a string"')).statusCode).toBe(400);
    expect((await push(JSON.stringify([alertV2(2), 42]))).statusCode).toBe(422);
    expect((await push(JSON.stringify(alertV2(3)))).statusCode).toBe(202);
    const metrics = (await a.server.inject('/metrics')).body;
    expect(metrics).toContain('alertbridge_webhook_rejected_total{source="partner",reason="auth"} 1');
    expect(metrics).toContain('alertbridge_webhook_rejected_total{source="partner",reason="invalid"} 3');
  });
});
