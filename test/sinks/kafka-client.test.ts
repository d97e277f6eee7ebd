/** The kafkajs options the `kafka` sink builds that need no broker to check: the trusted CAs of `tls`. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { tlsOptions } from '../../sinks/kafka/client.js';
import { KafkaSinkSchema } from '../../sinks/kafka/config.js';

/** `tls` as the loader hands it to the sink: defaults (`reject_unauthorized: true`) from the schema. */
const tls = (input: Record<string, unknown>) =>
  KafkaSinkSchema.parse({ type: 'kafka', name: 'k', brokers: ['kafka:9092'], tls: input }).tls;

const tmp = mkdtempSync(join(tmpdir(), 'ab-kafka-client-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('kafka tls options', () => {
  it('adds ca_file to the system CAs rather than replacing them (brokers with public certificates still verify)', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const file = join(tmp, 'corporate-ca.pem');
    writeFileSync(file, pem);
    const opts = tlsOptions(tls({ enabled: true, ca_file: file }), 'k');
    expect(opts).not.toBe(false);
    expect((opts as { ca: string[] }).ca).toEqual([...rootCertificates, pem]);
    expect(rootCertificates.length).toBeGreaterThan(50);
  });

  it('leaves the system CAs alone without ca_file, and TLS off without enabled', () => {
    expect(tlsOptions(tls({ enabled: true }), 'k')).toEqual({ rejectUnauthorized: true });
    expect(tlsOptions(tls({ enabled: false }), 'k')).toBe(false);
  });
});
