/**
 * Secrets over plaintext to a host other than this machine: refused at validation with `security.require_tls`,
 * one warning each at start otherwise (buildApp, the place every command starts from).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { parseConfig, type LoadResult } from '../../src/config/load.js';
import { isLoopbackHost } from '../../src/config/plaintext.js';
import { captureLogger } from '../helpers/graph.js';
import { redisUrl, uniquePrefix } from '../helpers/redis.js';

const scratch = mkdtempSync(join(tmpdir(), 'alertbridge-plaintext-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
writeFileSync(join(scratch, 'kafka-password'), 'hunter2\n');

const parse = (text: string): LoadResult => parseConfig(text, { env: {}, baseDir: scratch });

/** Every kind of plaintext secret, to remote hosts, plus the same over TLS or to loopback (never reported). */
const SINKS = `
sinks:
  - { name: splunk, type: splunk_hec, url: "http://splunk.example.com:8088", token: t }
  - { name: kafka, type: kafka, brokers: ["127.0.0.1:9092", "kafka-1.example.com:9092"], sasl: { mechanism: plain, username: u, password_file: kafka-password } }
  - { name: hub, type: azure_event_hubs, connection_string: "Endpoint=sb://eh.example.com:5672;SharedAccessKeyName=k;SharedAccessKey=a2V5;UseDevelopmentEmulator=true;EntityPath=alerts" }
  - { name: splunk-tls, type: splunk_hec, url: "https://splunk.example.com:8088", token: t }
  - { name: splunk-local, type: splunk_hec, url: "http://127.0.0.1:8088", token: t }
  - { name: kafka-tls, type: kafka, brokers: ["kafka-1.example.com:9093"], tls: { enabled: true }, sasl: { mechanism: scram-sha-512, username: u, password: p } }
  - { name: kafka-noauth, type: kafka, brokers: ["kafka-1.example.com:9092"] }
  - { name: hub-cloud, type: azure_event_hubs, connection_string: "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=a2V5;EntityPath=alerts" }
  - { name: hub-local, type: azure_event_hubs, connection_string: "Endpoint=sb://localhost:5672;SharedAccessKeyName=k;SharedAccessKey=a2V5;UseDevelopmentEmulator=true;EntityPath=alerts" }
`;
const REMOTE_REDIS = 'redis: { url: "redis://cache.example.com:6379/0", password: pw }\n';

describe('secrets over plaintext', () => {
  it('with security.require_tls, refuses each one, naming the setting, the host and the fix', () => {
    const res = parse(`security: { require_tls: true }\n${REMOTE_REDIS}${SINKS}`);
    expect(res.ok ? [] : res.errors).toEqual([
      'redis.url: redis sends the Redis password unencrypted to cache.example.com: use a rediss:// url (security.require_tls is true)',
      "sinks[0].url: splunk_hec sink 'splunk' sends the HEC token unencrypted to splunk.example.com: use an https:// url (security.require_tls is true)",
      "sinks[1].tls.enabled: kafka sink 'kafka' sends its SASL plain credentials unencrypted to kafka-1.example.com: set tls.enabled: true (security.require_tls is true)",
      "sinks[2].connection_string: azure_event_hubs sink 'hub' sends its shared access key (as SAS tokens, over plain AMQP: UseDevelopmentEmulator=true) unencrypted to eh.example.com: remove UseDevelopmentEmulator outside a local emulator (security.require_tls is true)",
    ]);
  });

  it('a password in a redis:// URL counts; rediss://, loopback or no password do not', () => {
    const refused = (redis: string) => {
      const res = parse(
        `security: { require_tls: true }\nredis: ${redis}\nsinks: [{ name: out, type: file, path: "-" }]\n`,
      );
      return res.ok ? [] : res.errors;
    };
    expect(refused('{ url: "redis://:pw@cache.example.com:6379/0" }')).toHaveLength(1);
    expect(refused('{ url: "rediss://cache.example.com:6380/0", password: pw }')).toEqual([]);
    expect(refused('{ url: "redis://127.0.0.1:6379/0", password: pw }')).toEqual([]);
    expect(refused('{ url: "redis://cache.example.com:6379/0" }')).toEqual([]);
  });

  it('is off by default: the configuration is valid, and each one is a warning at start naming the component and host', async () => {
    const res = parse(`redis: { url: "${redisUrl()}", key_prefix: "${uniquePrefix('plain')}" }\n${SINKS}`);
    if (!res.ok) throw new Error(res.errors.join('\n'));
    expect(res.config.security).toEqual({ require_tls: false });
    const { logger, lines } = captureLogger();
    const app = buildApp(res.config, { logger });
    try {
      const warnings = lines.filter((l) => l.level === 40 && /unencrypted/.test(String(l.msg)));
      expect(warnings.map((l) => [l.component, l.host])).toEqual([
        ["splunk_hec sink 'splunk'", 'splunk.example.com'],
        ["kafka sink 'kafka'", 'kafka-1.example.com'],
        ["azure_event_hubs sink 'hub'", 'eh.example.com'],
      ]);
      expect(String(warnings[0]!.msg)).toContain('security.require_tls: true refuses this');
      expect(JSON.stringify(lines)).not.toContain('hunter2');
    } finally {
      await app.stop();
    }
  });

  it('knows loopback hosts', () => {
    for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['10.0.0.1', 'redis', 'localhost.example.com', '128.0.0.1'])
      expect(isLoopbackHost(h), h).toBe(false);
  });
});
