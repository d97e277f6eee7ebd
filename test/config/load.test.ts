import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { expandString } from '../../src/config/env.js';
import { loadConfigFile, parseConfig, redactSecrets, summarizeConfig, type LoadResult } from '../../src/config/load.js';
import { SECRET_PATHS, type Config } from '../../src/config/schema.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'alertbridge-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const MINIMAL = 'sinks: [{ name: out, type: file, path: "-" }]\n';

function parse(text: string, env: NodeJS.ProcessEnv = {}, baseDir = scratch): LoadResult {
  return parseConfig(text, { env, baseDir });
}

function ok(result: LoadResult): Readonly<Config> {
  if (!result.ok) throw new Error(`expected a valid config, got:\n${result.errors.join('\n')}`);
  return result.config;
}

function errors(result: LoadResult): string[] {
  if (result.ok) throw new Error('expected errors');
  return result.errors;
}

const GRAPH = `
  - name: contoso
    type: graph_security
    tenant_id: contoso.onmicrosoft.com
    client_id: 66666666-7777-8888-9999-000000000000
`;

describe('defaults', () => {
  it('fills every section from a file with only a sink', () => {
    const config = ok(parse(MINIMAL));
    expect(config.redis).toEqual({
      url: 'redis://127.0.0.1:6379/0',
      key_prefix: 'alertbridge',
      connect_timeout_ms: 10_000,
      command_timeout_ms: 10_000,
      tls: { reject_unauthorized: true },
      durability: { replicas: 0, aof_fsync: false, timeout_ms: 1000 },
    });
    expect(config.server).toEqual({
      enabled: true,
      listen: '0.0.0.0:8080',
      max_body_bytes: 1_048_576,
      request_timeout_ms: 10_000,
      status: { enabled: true },
    });
    expect(config.log).toEqual({ level: 'info', format: 'auto' });
    expect(config.pipeline).toEqual({
      dedup_ttl_ms: 604_800_000,
      dispatch_batch_max: 1000,
      drain_timeout_ms: 30_000,
      takeover_ms: 30_000,
    });
    expect(config.sources).toEqual([]);
    expect(config.sinks[0]).toEqual({
      type: 'file',
      name: 'out',
      path: '-',
      format: 'envelope',
      batch: { max_records: 500 },
      retry: { max_attempts: 10, initial_backoff_ms: 1000, max_backoff_ms: 300_000 },
      concurrency: 1,
      dead_letter: { max_entries: 100_000, report_window_ms: 300_000 },
    });
  });

  it('fills a Graph source: auth from the credential, endpoints from the cloud, polling every minute', () => {
    const config = ok(parse(`sources:${GRAPH}    client_secret: s\n    cloud: usgov_dod\n${MINIMAL}`));
    const source = config.sources[0];
    expect(source).toMatchObject({
      auth: 'client_secret',
      graph_url: 'https://dod-graph.microsoft.us',
      authority_url: 'https://login.microsoftonline.us',
      resources: ['alerts_v2', 'incidents'],
      poll_interval_ms: 60_000,
      initial_lookback_ms: 86_400_000,
      overlap_ms: 300_000,
      page_size: 500,
      request_budget_per_minute: 150,
      request_timeout_ms: 30_000,
      webhook: { enabled: false },
    });
  });

  it('infers certificate auth, keeps explicit overrides, and leaves poll_interval_ms unset with a schedule', () => {
    const text = `sources:${GRAPH}    certificate_file: ./c.pem\n    graph_url: http://127.0.0.1:9443\n    poll_schedule: "*/5 * * * *"\n${MINIMAL}`;
    const source = ok(parse(text)).sources[0];
    expect(source).toMatchObject({
      auth: 'certificate',
      graph_url: 'http://127.0.0.1:9443',
      poll_schedule: '*/5 * * * *',
    });
    expect(source?.type === 'graph_security' && source.poll_interval_ms).toBeUndefined();
    expect(source?.type === 'graph_security' && source.certificate_file).toBe(join(scratch, 'c.pem'));
  });

  it('fills sink defaults per type', () => {
    const config = ok(
      parse(`sinks:
  - { name: hec, type: splunk_hec, url: https://splunk:8088, token: t }
  - { name: k, type: kafka, brokers: ["my-ns.servicebus.windows.net:9093"],
      sasl: { mechanism: oauthbearer, tenant_id: contoso.onmicrosoft.com, client_id: app, client_secret: s } }
  - { name: eh, type: azure_event_hubs, connection_string: "Endpoint=sb://ns/;SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=alerts" }
  - { name: eh2, type: azure_event_hubs, fully_qualified_namespace: ns.servicebus.windows.net, event_hub_name: x, auth: managed_identity }
`),
    );
    expect(config.sinks[0]).toMatchObject({
      sourcetype: 'alertbridge:record',
      gzip: false,
      tls_verify: true,
      max_events: 500,
      max_bytes: 1_000_000,
      request_timeout_ms: 30_000,
      ack: { enabled: false, timeout_ms: 300_000, poll_interval_ms: 1000 },
    });
    expect(config.sinks[1]).toMatchObject({
      topic: 'security-alerts',
      client_id: 'alertbridge',
      compression: 'gzip',
      max_message_bytes: 1_000_000,
      tls: { enabled: false, reject_unauthorized: true },
      sasl: { scope: 'https://my-ns.servicebus.windows.net/.default' },
    });
    expect(config.sinks[2]).toMatchObject({ event_hub_name: 'alerts', max_batch_bytes: 1_048_576 });
    expect(config.sinks[3]).toMatchObject({
      auth: 'managed_identity',
      authority_url: 'https://login.microsoftonline.com',
    });
  });
});

describe('${VAR} expansion', () => {
  it('expands variables and defaults inside strings, unquoted even in flow mappings', () => {
    const env = { HEC_TOKEN: 'tok:en,{x}', HOST: 'splunk', EMPTY: '' };
    const config = ok(
      parse(
        `sinks:
  - { name: hec, type: splunk_hec, url: https://\${HOST}:\${PORT:-8088}, token: \${HEC_TOKEN}, index: \${EMPTY:-main} }
`,
        env,
      ),
    );
    expect(config.sinks[0]).toMatchObject({ url: 'https://splunk:8088', token: 'tok:en,{x}', index: 'main' });
  });

  it('keeps $${ as a literal ${ and never re-expands a value', () => {
    const config = ok(
      parse(`sinks:\n  - { name: out, type: file, path: "./$\${HOME}/\${NAME}" }\n`, { NAME: '${HOME}' }),
    );
    expect(config.sinks[0]?.type === 'file' && config.sinks[0].path).toBe(join(scratch, '${HOME}/${HOME}'));
  });

  it('follows the shell: ${VAR} may be set and empty; ${VAR:-d} replaces empty too', () => {
    expect(expandString('a${X}b', { X: '' })).toMatchObject({ value: 'ab', missing: [] });
    expect(expandString('${X:-d}', { X: '' }).value).toBe('d');
    expect(expandString('${X:-}', {}).value).toBe('');
    expect(expandString('${X}${Y}', {}).missing).toEqual(['X', 'Y']);
    expect(expandString('${1X}', {}).malformed).toBe(true);
  });

  it('turns an expanded number or boolean into one where the schema expects it, and nowhere else', () => {
    const env = { MAX: '250', GZIP: 'true', DIGITS: '12345' };
    const config = ok(
      parse(
        'sinks:\n  - { name: hec, type: splunk_hec, url: https://s, token: ${DIGITS}, max_events: ${MAX}, gzip: ${GZIP} }\n',
        env,
      ),
    );
    expect(config.sinks[0]).toMatchObject({ token: '12345', max_events: 250, gzip: true });
    expect(
      errors(
        parse('sinks:\n  - { name: hec, type: splunk_hec, url: https://s, token: t, max_events: ${MAX} }\n', {
          MAX: 'many',
        }),
      ),
    ).toEqual(['sinks[0].max_events: expected a number (got string)']);
  });

  it('reports a malformed reference without printing the value', () => {
    expect(errors(parse(`sources:\n  - { name: p, type: webhook, token: "se\${cret" }\n${MINIMAL}`))).toEqual([
      'sources[0].token: malformed ${…} reference: write ${NAME} or ${NAME:-default}, or $${ for a literal ${',
    ]);
  });
});

describe('*_file secrets', () => {
  const dir = join(scratch, 'with-secrets');
  mkdirSync(join(dir, 'secrets'), { recursive: true });
  writeFileSync(join(dir, 'secrets', 'hec-token'), 'file-token\n');
  writeFileSync(join(dir, 'secrets', 'hmac'), 'hmac-key\r\n');
  writeFileSync(join(dir, 'secrets', 'empty'), '\n');
  writeFileSync(
    join(dir, 'config.yaml'),
    `sources:
  - { name: partner, type: webhook, hmac_secret_file: secrets/hmac }
sinks:
  - { name: hec, type: splunk_hec, url: https://s, token_file: ./secrets/hec-token, ca_file: ca.pem }
  - { name: out, type: file, path: out/alerts.ndjson }
`,
  );

  it('reads the file relative to the config file, drops the trailing newline, keeps the absolute *_file path', async () => {
    const config = ok(await loadConfigFile(join(dir, 'config.yaml'), { env: {} }));
    expect(config.sources[0]).toMatchObject({
      hmac_secret: 'hmac-key',
      hmac_secret_file: join(dir, 'secrets', 'hmac'),
    });
    expect(config.sinks[0]).toMatchObject({
      token: 'file-token',
      token_file: join(dir, 'secrets', 'hec-token'),
      ca_file: join(dir, 'ca.pem'),
    });
    expect(config.sinks[1]).toMatchObject({ path: join(dir, 'out', 'alerts.ndjson') });
  });

  it('reports an empty secret file', () => {
    expect(
      errors(parse('sinks: [{ name: hec, type: splunk_hec, url: https://s, token_file: secrets/empty }]\n', {}, dir)),
    ).toEqual([`sinks[0].token_file: ${join(dir, 'secrets', 'empty')} is empty`]);
  });
});

describe('loading', () => {
  it('reports a missing file as one error', async () => {
    const missing = join(scratch, 'nope.yaml');
    expect(errors(await loadConfigFile(missing))).toEqual([`config: cannot read ${missing}: no such file`]);
  });

  it('reports an empty file', async () => {
    const empty = join(scratch, 'empty.yaml');
    writeFileSync(empty, '# nothing yet\n');
    expect(errors(await loadConfigFile(empty))).toEqual([`config: ${empty} is empty`]);
  });

  it('keeps file excerpts (and the secrets in them) out of YAML errors', () => {
    const result = errors(parse('sinks:\n  - { name: hec, type: splunk_hec, token: "SUPERSECRET\n'));
    expect(result.length).toBeGreaterThan(0);
    expect(result.join('\n')).not.toContain('SUPERSECRET');
    expect(result[0]).toMatch(/^config: invalid YAML at line \d+, column \d+: /);
    const quoted = errors(parse('sinks:\n  - { name: a, token: abc: SUPERSECRET }\n'));
    expect(quoted.join('\n')).not.toContain('SUPERSECRET');
  });

  it('deep-freezes the result', () => {
    const config = ok(parse(`sources:${GRAPH}    client_secret: s\n${MINIMAL}`));
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.sinks)).toBe(true);
    expect(Object.isFrozen(config.sinks[0]?.retry)).toBe(true);
    expect(Object.isFrozen(config.sources[0]?.type === 'graph_security' && config.sources[0].resources)).toBe(true);
    expect(() => {
      (config.redis as { url: string }).url = 'redis://elsewhere';
    }).toThrow(TypeError);
    // A second load is not affected by the first one's frozen defaults.
    expect(ok(parse(MINIMAL)).sources).toEqual([]);
  });

  it('supports YAML anchors and merge keys', () => {
    const config = ok(
      parse(`sinks:
  - &common { name: a, type: file, path: "-", retry: { max_attempts: 3 } }
  - { <<: *common, name: b }
`),
    );
    expect(config.sinks.map((sink) => [sink.name, sink.retry.max_attempts])).toEqual([
      ['a', 3],
      ['b', 3],
    ]);
  });
});

describe('shipped configurations', () => {
  const exampleEnv = {
    CONTOSO_GRAPH_SECRET: 'dummy-secret',
    CONTOSO_CLIENT_STATE: 'dummy-state',
    PARTNER_TOKEN: 'dummy-token',
    HEC_TOKEN: 'dummy-hec-token',
    EH_CONNECTION_STRING: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k',
  };

  it('config/example.yaml is valid and summarizes on one line', async () => {
    const config = ok(await loadConfigFile(join(repo, 'config/example.yaml'), { env: exampleEnv }));
    expect(summarizeConfig(config)).toBe(
      'config OK: 2 sources (contoso: graph_security, partner: webhook), 4 sinks (local: file, splunk: splunk_hec, kafka: kafka, eventhubs: azure_event_hubs)',
    );
  });

  it('config/example.yaml names the variables it needs', async () => {
    expect(errors(await loadConfigFile(join(repo, 'config/example.yaml'), { env: {} }))).toEqual([
      'sources[0].client_secret: environment variable CONTOSO_GRAPH_SECRET is not set',
      'sources[0].webhook.client_state: environment variable CONTOSO_CLIENT_STATE is not set',
      'sources[1].token: environment variable PARTNER_TOKEN is not set',
      'sinks[1].token: environment variable HEC_TOKEN is not set',
      'sinks[3].connection_string: environment variable EH_CONNECTION_STRING is not set',
    ]);
  });

  it('config/demo.yaml is valid with no environment, and follows REDIS_URL and ALERTBRIDGE_PORT', async () => {
    const plain = ok(await loadConfigFile(join(repo, 'config/demo.yaml'), { env: {} }));
    expect(summarizeConfig(plain)).toBe(
      'config OK: 3 sources (demo-graph: graph_security, demo-stream: defender_streaming, demo-push: webhook), 1 sink (stdout: file)',
    );
    expect(plain.server.listen).toBe('127.0.0.1:8080');
    expect(plain.sources[0]).toMatchObject({
      graph_url: 'https://127.0.0.1:8443',
      auth: 'client_secret',
      resources: ['alerts_v2', 'incidents'],
    });
    expect(plain.sources[0]).toMatchObject({ poll_interval_ms: 60000 });
    expect(plain.sources[1]).toMatchObject({ event_hub_name: 'defender-stream', start_position: 'earliest' });
    expect(plain.sources[2]).toMatchObject({ token: 'demo-token' });
    expect(plain.sinks[0]).toMatchObject({ path: '-' });
    const custom = ok(
      await loadConfigFile(join(repo, 'config/demo.yaml'), {
        env: { REDIS_URL: 'redis://10.0.0.1:6380/2', ALERTBRIDGE_PORT: '9999' },
      }),
    );
    expect(custom.redis.url).toBe('redis://10.0.0.1:6380/2');
    expect(custom.server.listen).toBe('127.0.0.1:9999');
    const sim = ok(
      await loadConfigFile(join(repo, 'config/demo.yaml'), {
        env: { SIM_URL: 'https://127.0.0.1:4443', SIM_CA_FILE: '/tmp/ca.pem' },
      }),
    );
    expect(sim.sources[0]).toMatchObject({
      graph_url: 'https://127.0.0.1:4443',
      authority_url: 'https://127.0.0.1:4443',
      ca_file: '/tmp/ca.pem',
    });
  });
});

describe('secrets', () => {
  it('lists the secret paths for log redaction', () => {
    expect(SECRET_PATHS).toEqual(
      expect.arrayContaining([
        'redis.password',
        'sources[*].client_secret',
        'sources[*].webhook.client_state',
        'sources[*].token',
        'sources[*].hmac_secret',
        'sinks[*].token',
        'sinks[*].sasl.password',
        'sinks[*].connection_string',
        'server.status.token',
      ]),
    );
  });

  it('redacts a config for printing', () => {
    const config = ok(parse(`sources:${GRAPH}    client_secret: hunter2\n${MINIMAL}`));
    const redacted = redactSecrets(config);
    expect(JSON.stringify(redacted)).not.toContain('hunter2');
    expect(redacted.sources[0]).toMatchObject({ client_secret: '[redacted]', name: 'contoso' });
  });
});
