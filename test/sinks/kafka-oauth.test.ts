/**
 * SASL/OAUTHBEARER tokens of the `kafka` sink from Entra ID, through the real `@azure/identity` client against the
 * project's Graph simulator (its Entra token endpoint, over HTTPS with its own CA): the configured authority is the
 * one asked, and `client_secret_file` is read again for each token, so a rotated secret needs no restart.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OauthbearerProviderResponse } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saslOptions, CREDENTIALS_REFUSED, type KafkaSaslOptions } from '../../sinks/kafka/client.js';
import { parseConfig } from '../../src/config/load.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { silentLogger } from '../helpers/pipeline.js';

const APP: TenantCredentials = {
  tenantId: 'cccccccc-0000-4000-8000-000000000003',
  clientId: 'kafka-app',
  clientSecret: 'the-current-secret',
};
const BROKER = 'my-ns.servicebus.windows.net:9093';

let sim: Simulator;
const tmp = mkdtempSync(join(tmpdir(), 'ab-kafka-oauth-'));
beforeAll(async () => {
  sim = await startSimulator({ tenants: [APP], seed: 1 });
});
afterAll(async () => {
  await sim.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The sink's `sasl` section as the real loader makes it (the `_file` read into the secret and kept). */
function saslFromConfig(secretFile: string, extra = ''): KafkaSaslOptions {
  const yaml = `sinks:
  - name: k
    type: kafka
    brokers: ["${BROKER}"]
    sasl:
      mechanism: oauthbearer
      tenant_id: ${APP.tenantId}
      client_id: ${APP.clientId}
      client_secret_file: ${secretFile}
${extra}`;
  const res = parseConfig(yaml, { baseDir: '/', env: {} });
  if (!res.ok) throw new Error(res.errors.join('\n'));
  const sink = res.config.sinks[0]!;
  if (sink.type !== 'kafka' || !sink.sasl) throw new Error('not a kafka sink with sasl');
  return sink.sasl;
}

function provider(sasl: KafkaSaslOptions): () => Promise<OauthbearerProviderResponse> {
  const options = saslOptions(sasl, [BROKER], 'k', silentLogger) as {
    oauthBearerProvider: () => Promise<OauthbearerProviderResponse>;
  };
  return options.oauthBearerProvider;
}

const claims = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as {
    aud: string;
    tid: string;
    appid: string;
  };
const tokenRequests = () => sim.requestLog.filter((e) => e.resource === 'token' && e.clientId === APP.clientId);

describe('kafka sasl oauthbearer with Entra ID', () => {
  it('asks the configured authority (authority_url, ca_file) for a token of the namespace scope', async () => {
    const file = join(tmp, 'secret-1');
    writeFileSync(file, `${APP.clientSecret}\n`);
    const sasl = saslFromConfig(file, `      authority_url: ${sim.authorityHost}\n      ca_file: ${sim.caFile}\n`);
    expect(sasl).toMatchObject({
      authority_url: sim.authorityHost,
      scope: 'https://my-ns.servicebus.windows.net/.default',
    });
    const before = tokenRequests().length;
    const { value } = await provider(sasl)();
    expect(claims(value)).toMatchObject({
      aud: 'https://my-ns.servicebus.windows.net',
      tid: APP.tenantId,
      appid: APP.clientId,
    });
    expect(tokenRequests().length).toBe(before + 1);
  });

  it('re-reads client_secret_file for each token: a refused secret, then the rotated one, without a restart', async () => {
    const file = join(tmp, 'secret-2');
    writeFileSync(file, 'the-revoked-secret\n');
    const get = provider(
      saslFromConfig(file, `      authority_url: ${sim.authorityHost}\n      ca_file: ${sim.caFile}\n`),
    );
    const err = await get().then(
      () => null,
      (e: unknown) => e as Error & { retriable?: boolean },
    );
    expect(err?.name).toBe(CREDENTIALS_REFUSED);
    expect(err?.retriable).toBe(false);
    expect(err?.message).toMatch(
      /^getting an Entra ID token \(scope https:\/\/my-ns\.servicebus\.windows\.net\/\.default\) for kafka sink 'k': .*Invalid client secret/,
    );
    expect(err?.message).not.toContain('the-revoked-secret');

    writeFileSync(file, `${APP.clientSecret}\n`); // the operator rotates the Kubernetes Secret
    expect(claims((await get()).value)).toMatchObject({ tid: APP.tenantId, appid: APP.clientId });
  });

  it('takes the authority from cloud when authority_url is not set', () => {
    const file = join(tmp, 'secret-3');
    writeFileSync(file, 's\n');
    expect(saslFromConfig(file)).toMatchObject({ authority_url: 'https://login.microsoftonline.com' });
    expect(saslFromConfig(file, '      cloud: usgov\n')).toMatchObject({
      authority_url: 'https://login.microsoftonline.us',
    });
    expect(saslFromConfig(file, '      cloud: china\n')).toMatchObject({
      authority_url: 'https://login.chinacloudapi.cn',
    });
  });

  it('refuses authority settings without Entra credentials, naming the field', () => {
    const res = parseConfig(
      `sinks:
  - { name: k, type: kafka, brokers: ["${BROKER}"], sasl: { mechanism: plain, username: u, password: p, authority_url: "https://login.microsoftonline.us" } }
`,
      { baseDir: '/', env: {} },
    );
    expect(res.ok).toBe(false);
    expect(!res.ok && res.errors).toContain(
      'sinks[0].sasl.authority_url: only used with mechanism oauthbearer and tenant_id/client_id/client_secret',
    );
  });
});
