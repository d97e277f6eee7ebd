import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { retirementWarnings } from '../../src/config/retirement.js';
import type { Config } from '../../src/config/schema.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

function config(sources: string): Readonly<Config> {
  const res = parseConfig(`sources:\n${sources}\nsinks:\n  - { name: out, type: file, path: '-' }\n`, {
    baseDir: '/',
    env: {},
  });
  if (!res.ok) throw new Error(res.errors.join('\n'));
  return res.config;
}
const source = (name: string, extra: string) =>
  `  - { name: ${name}, type: graph_security, tenant_id: contoso.onmicrosoft.com, client_id: app, client_secret: s${extra} }`;

describe('legacy alerts retirement warnings', () => {
  it('defaults resources to alerts_v2 and incidents, which draw no warning', () => {
    const c = config(source('modern', ''));
    expect(c.sources[0]).toMatchObject({ resources: ['alerts_v2', 'incidents'] });
    expect(retirementWarnings(c, new Date('2027-01-01T00:00:00Z'))).toEqual([]);
  });

  it('says "is retired on" before 2026-10-15 and "was retired" from that day, for the global cloud only', () => {
    const c = config(
      [
        source('legacy', ', resources: [alerts]'),
        source('gov', ', cloud: usgov, resources: [alerts]'),
        source('china', ', cloud: china, resources: [alerts]'),
      ].join('\n'),
    );
    const before = retirementWarnings(c, new Date('2026-10-14T23:59:59Z'));
    expect(before).toHaveLength(1);
    expect(before[0]).toMatch(
      /^warning: sources\[0\] \(legacy\): legacy `alerts` use .* is retired on 2026-10-15, after which it stops returning data in the global cloud\./,
    );
    const after = retirementWarnings(c, new Date('2026-10-15T00:00:00Z'));
    expect(after).toHaveLength(1);
    expect(after[0]).toContain('was retired on 2026-10-15');
  });

  it('shipped configurations read v2 only and draw no warning', async () => {
    for (const file of ['config/demo.yaml', 'config/example.yaml']) {
      const res = await loadConfigFile(join(repo, file), {
        env: {
          CONTOSO_GRAPH_SECRET: 'x',
          CONTOSO_CLIENT_STATE: 'x',
          PARTNER_TOKEN: 'x',
          HEC_TOKEN: 'x',
          EH_CONNECTION_STRING: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=k',
        },
      });
      if (!res.ok) throw new Error(`${file}: ${res.errors.join('\n')}`);
      expect(retirementWarnings(res.config), file).toEqual([]);
      for (const s of res.config.sources)
        if (s.type === 'graph_security') expect(s.resources, file).not.toContain('alerts');
    }
  });
});
