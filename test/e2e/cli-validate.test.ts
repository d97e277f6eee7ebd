/** `alertbridge validate` as a user runs it: exit codes and the exact lines printed. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const env = {
  CONTOSO_GRAPH_SECRET: 'dummy-secret',
  CONTOSO_CLIENT_STATE: 'dummy-state',
  PARTNER_TOKEN: 'dummy-token',
  HEC_TOKEN: 'dummy-hec-token',
  EH_CONNECTION_STRING: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k',
};

describe('alertbridge validate', () => {
  it('exits 0 with a one-line summary for config/example.yaml', async () => {
    const res = await runCli(['validate', '--config', 'config/example.yaml'], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(
      'config OK: 2 sources (contoso: graph_security, partner: webhook), 4 sinks (local: file, splunk: splunk_hec, kafka: kafka, eventhubs: azure_event_hubs)\n',
    );
    expect(res.stderr).toBe('');
  });

  it('warns (exit 0) when a global-cloud source asks for legacy alerts or Graph webhooks, retired on 2026-10-15', async () => {
    const res = await runCli(['validate', '--config', 'test/fixtures/config/legacy_alerts_global.yaml'], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(
      'config OK: 4 sources (contoso: graph_security, fabrikam: graph_security, gov: graph_security, modern: graph_security), 1 sink (local: file)\n',
    );
    const lines = res.stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(
        /^warning: sources\[0\] \(contoso\): legacy `alerts` and Graph webhooks \(webhook\.enabled\) use Microsoft's legacy security alerts API, which was retired on 2026-10-15 and stops returning data in the global cloud\./,
      ),
      expect.stringMatching(/^warning: sources\[1\] \(fabrikam\): legacy `alerts` use /),
    ]);
    expect(lines[0]).toContain('Use alerts_v2 and incidents');
    expect(lines[0]).toContain('keep alerts only for clouds and tenants where it still answers');
  });

  it('exits 1 and prints every problem as path: message', async () => {
    const res = await runCli(['validate', '--config', 'test/fixtures/config/bad_duplicate_names.yaml'], env);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      'sources[2].name: duplicate source name "partner"\nsinks[1].name: duplicate sink name "out"\n',
    );
    expect(res.stdout).toBe('');
  });

  it('exits 1 for a missing file and for a missing option', async () => {
    const missing = await runCli(['validate', '--config', 'no/such/file.yaml']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^config: cannot read .*no\/such\/file\.yaml: no such file\n$/);
    const usage = await runCli(['validate']);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain("error: required option '-c, --config <file>' not specified");
  });
});
