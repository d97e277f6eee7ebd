import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseConfig, SECRET_KEYS } from '../../src/config/load.js';
import { createLogger, REDACTED_KEYS } from '../../src/observability/logger.js';

// Secrets never reach logs: the whole configuration, with a distinct secret in every `${VAR}` of the annotated
// example, logged the ways components do (as a field, nested in an error's context, through child loggers).
const SECRETS: Record<string, string> = {
  CONTOSO_GRAPH_SECRET: 'graph-secret-3f9a',
  CONTOSO_CLIENT_STATE: 'client-state-77c1',
  PARTNER_TOKEN: 'partner-token-a2d4',
  HEC_TOKEN: 'hec-token-5e6b',
  EH_CONNECTION_STRING: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=eh-key-0c8d',
  KAFKA_PASSWORD: 'kafka-password-91fe',
  REDIS_PASSWORD: 'redis-password-4b20',
};

function capture() {
  let out = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', format: 'json', destination }), text: () => out };
}

describe('logger', () => {
  it('redacts every secret of a real configuration, however deep it is logged', async () => {
    const res = parseConfig(readFileSync('config/example.yaml', 'utf8'), { env: SECRETS, baseDir: 'config' });
    if (!res.ok) throw new Error(res.errors.join('\n'));
    const { logger, text } = capture();
    logger.info({ config: res.config }, 'configuration');
    logger.child({ component: 'sink' }).warn({ sink: res.config.sinks[1] }, 'sink');
    logger.child({ component: 'source', source: 'contoso' }).error(
      {
        err: { message: 'refused' },
        source: res.config.sources[0],
        headers: { authorization: `Bearer ${SECRETS.PARTNER_TOKEN}` },
      },
      'source',
    );
    await new Promise((r) => setImmediate(r));
    const out = text();
    expect(out).toContain('"configuration"');
    expect(out).toContain('[redacted]');
    for (const [name, value] of Object.entries(SECRETS)) expect(out, name).not.toContain(value);
  });

  it('redacts by name every key the config schema marks secret', () => {
    for (const key of SECRET_KEYS) expect(REDACTED_KEYS, key).toContain(key);
  });
});
