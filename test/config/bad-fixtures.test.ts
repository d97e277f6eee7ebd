/**
 * Each bad_*.yaml fixture with the exact lines `alertbridge validate` prints for it: every problem, in file order.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/program.js';
import { loadConfigFile } from '../../src/config/load.js';

const dir = fileURLToPath(new URL('../fixtures/config/', import.meta.url));

/** Environment for every fixture: nothing from the developer's shell leaks in. */
const ENV = {
  EH_CONNECTION_STRING: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k',
};

const EXPECTED: Record<string, string[]> = {
  'bad_unknown_key.yaml': [
    'sinks[0].path: required',
    'sinks[0].pth: unknown key (did you mean "path"?)',
    'sinks[1].sourceType: unknown key (did you mean "sourcetype"?)',
    'sinks[1].ack.enable: unknown key (did you mean "enabled"?)',
    'serverr: unknown key (did you mean "server"?)',
  ],
  'bad_enum.yaml': [
    'log.level: must be one of trace, debug, info, warn, error, fatal (got "verbose")',
    'sinks[0].format: must be one of envelope, graph, ocsf (got "xml")',
    'sinks[0].filter.min_severity: must be one of informational, low, medium, high (got "critical")',
    'sinks[0].filter.resources[1]: must be one of alerts_v2, incidents, alerts, secure_scores, secure_score_control_profiles, sync_outcomes, health, streaming/<Table> or streaming/* (got "alerts_v3")',
  ],
  'bad_missing_required.yaml': [
    'sources[0].tenant_id: required (or list the customer tenants in tenants)',
    'sources[0].client_id: required (except with auth: managed_identity)',
    'sinks[0].path: required',
    'sinks[1].brokers: required',
    'sinks[2].name: required',
  ],
  'bad_duplicate_names.yaml': [
    'sources[2].name: duplicate source name "partner"',
    'sinks[1].name: duplicate sink name "out"',
  ],
  'bad_secret_and_file.yaml': ['sources[0].token: set either token or token_file, not both'],
  'bad_secret_file_unreadable.yaml': [
    `sources[0].hmac_secret_file: cannot read ${join(dir, 'does-not-exist/hmac.key')}: no such file`,
    `sinks[0].token_file: cannot read ${join(dir, 'does-not-exist/hec-token')}: no such file`,
  ],
  'bad_unset_env.yaml': [
    'sources[0].client_secret: environment variable CONTOSO_GRAPH_SECRET is not set',
    'sinks[0].url: environment variable HEC_URL is not set',
    'sinks[1].path: environment variable OUT_DIR is not set',
    'sinks[1].path: environment variable OUT_FILE is not set',
  ],
  'bad_yaml.yaml': ['config: invalid YAML at line 4, column 1: Sequence item without - indicator'],
  'bad_yaml_duplicate_key.yaml': [
    'config: invalid YAML at line 5, column 5: Map keys must be unique',
    'config: invalid YAML at line 8, column 1: Map keys must be unique',
  ],
  'bad_wrong_type.yaml': [
    'server.max_body_bytes: expected a number (got string)',
    'server.enabled: expected true or false (got string)',
    'pipeline.drain_timeout_ms: must be a whole number',
    'sources[0].resources: expected a list (got string)',
    'sinks[0].path: expected a string (got list)',
    'sinks[0].retry: expected a mapping (got number)',
  ],
  'bad_poll_both.yaml': ['sources[0].poll_schedule: set either poll_interval_ms or poll_schedule, not both'],
  'bad_cron.yaml': [
    'sources[0].poll_schedule: invalid cron expression: bad minute field "61"',
    'sources[1].poll_schedule: invalid cron expression: expected 5 or 6 fields but got 3',
  ],
  'bad_webhook_no_public_url.yaml': [
    'sources[0].webhook.enabled: needs server.public_url (the https URL Graph sends notifications to)',
    'sources[1].webhook.client_state: required when webhook.enabled is true (or set client_state_file)',
    'sources[1].webhook.enabled: change notifications exist only for legacy alerts: add alerts to resources',
    'sources[1].webhook.enabled: needs server.public_url (the https URL Graph sends notifications to)',
  ],
  'bad_filter_unknown_source.yaml': [
    'sinks[0].filter.sources[1]: unknown source "contoso" (configured sources: partner)',
  ],
  'bad_sink_type.yaml': [
    'sources[0].type: unknown source type "push" (one of graph_security, webhook, defender_streaming)',
    'sinks[1].type: required (one of file, splunk_hec, kafka, azure_event_hubs)',
    'sinks[2].type: unknown sink type "splunk" (one of file, splunk_hec, kafka, azure_event_hubs)',
  ],
  'bad_auth.yaml': [
    'sources[0].certificate_file: required with auth: certificate',
    'sources[0].client_secret: not used with auth: certificate',
    'sources[1].auth: required: set client_secret (or client_secret_file) or certificate_file, or auth: workload_identity or managed_identity',
    'sources[1].client_id: required (except with auth: managed_identity)',
    'sources[2].auth: both client_secret and certificate_file are set: choose one with auth: client_secret or auth: certificate',
    'sinks[0].client_id: required (except with auth: managed_identity)',
    'sinks[0].tenant_id: required with fully_qualified_namespace (except with auth: managed_identity)',
    'sinks[0].event_hub_name: required with fully_qualified_namespace',
  ],
  'bad_secret_not_printed.yaml': [
    'sources[0].client_secret: expected a string (got number; put it in quotes)',
    'sources[0].webhook.client_state: must be at most 128 characters',
    'sinks[0].token: must not be empty',
    'sinks[1].sasl.password: expected a string (got list)',
  ],
  'bad_top_level.yaml': ['config: expected a mapping of sections (redis, server, sources, sinks, …) (got list)'],
  'bad_many.yaml': [
    'redis.url: must be a redis:// or rediss:// URL',
    'redis.key_prefix: must be letters, digits, "_", ".", ":" or "-"',
    'server.listen: must be host:port (e.g. 0.0.0.0:8080)',
    'server.public_url: must be an https:// URL (http:// only for localhost)',
    'sources[0].certificate_file: required with auth: certificate',
    'sources[0].name: must be lowercase letters, digits, "_" or "-", starting with a letter or digit',
    'sources[0].tenant_id: must be a tenant GUID or domain (e.g. contoso.onmicrosoft.com)',
    'sources[0].resources: must not be empty',
    'sources[0].page_size: must be at most 1000',
    'sources[1]: needs token or hmac_secret (or their _file forms), or both',
    'sinks[0].brokers[0]: must be host:port (e.g. kafka:9092)',
    'sinks[0].compression: must be one of gzip, none, snappy, lz4, zstd (got "brotli")',
    'sinks[0].sasl.password: required for mechanism plain (or password_file)',
    'sinks[0].tls.ca_file: only used with tls.enabled: true',
    'sinks[1].event_hub_name: required (connection_string has no EntityPath)',
    'sinks[1].retry.initial_backoff_ms: must not exceed max_backoff_ms (1000)',
    'sinks[1].concurrency: must be at least 1',
  ],
};

describe('bad configuration fixtures', () => {
  it('has an expectation for every bad_*.yaml, and at least 10 of them', () => {
    const fixtures = readdirSync(dir).filter((f) => /^bad_.*\.yaml$/.test(f));
    expect(fixtures.sort()).toEqual(Object.keys(EXPECTED).sort());
    expect(fixtures.length).toBeGreaterThanOrEqual(10);
  });

  for (const [fixture, lines] of Object.entries(EXPECTED)) {
    it(`${fixture}: reports every problem`, async () => {
      const result = await loadConfigFile(join(dir, fixture), { env: ENV });
      expect(result.ok).toBe(false);
      expect(result.ok ? [] : result.errors).toEqual(lines);
    });
  }

  it('`alertbridge validate` prints exactly those lines for each and exits 1', async () => {
    const saved = process.env.EH_CONNECTION_STRING;
    process.env.EH_CONNECTION_STRING = ENV.EH_CONNECTION_STRING;
    let err = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += chunk.toString();
      return true;
    });
    try {
      for (const [fixture, lines] of Object.entries(EXPECTED)) {
        err = '';
        const code = await main(['node', 'alertbridge', 'validate', '--config', join(dir, fixture)]);
        expect({ fixture, code, stderr: err }).toEqual({ fixture, code: 1, stderr: `${lines.join('\n')}\n` });
      }
    } finally {
      spy.mockRestore();
      if (saved === undefined) delete process.env.EH_CONNECTION_STRING;
      else process.env.EH_CONNECTION_STRING = saved;
    }
  });

  it('never prints a secret value', async () => {
    const result = await loadConfigFile(join(dir, 'bad_secret_not_printed.yaml'), { env: ENV });
    const text = result.ok ? '' : result.errors.join('\n');
    expect(text).not.toContain('SUPERSECRET');
    expect(text).not.toContain('123456789');
  });
});
