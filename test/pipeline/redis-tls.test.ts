/**
 * `redis.tls.ca_file` adds a CA: the system's roots stay trusted (a managed Redis with a public certificate still
 * verifies). And `rediss://` end to end against a real redis-server serving TLS only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, describeRedisFailure, redisOptions } from '../../src/pipeline/redis.js';
import { freePort, startRedisServer } from '../../src/util/redis-server.js';
import { createSimulatorTls } from '../../src/simulator/tls.js';

const dir = mkdtempSync(join(tmpdir(), 'ab-redis-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('redis TLS options', () => {
  it('ca_file is trusted in addition to the system roots', async () => {
    const { caPem } = await createSimulatorTls();
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, caPem);
    const ca = redisOptions({ url: 'rediss://redis.example.com:6380', tls: { ca_file: caFile } }).tls?.ca as string[];
    expect(ca).toContain(caPem);
    for (const root of rootCertificates) expect(ca).toContain(root);
    expect(ca).toHaveLength(rootCertificates.length + 1);
  });

  it('without ca_file, Node verifies against its roots (no ca given), and verification stays on', () => {
    const tls = redisOptions({ url: 'rediss://redis.example.com:6380' }).tls;
    expect(tls?.ca).toBeUndefined();
    expect(tls?.rejectUnauthorized).toBe(true);
  });
});

describe('rediss:// against a real TLS redis-server (as managed services serve it)', () => {
  it('connects and authenticates over TLS with ca_file; without it the private CA is refused, and says so', async () => {
    const { caPem, certPem, keyPem } = await createSimulatorTls();
    for (const [name, pem] of Object.entries({ 'ca.pem': caPem, 'cert.pem': certPem, 'key.pem': keyPem })) {
      writeFileSync(join(dir, name), pem);
    }
    const tlsPort = await freePort();
    const server = await startRedisServer({
      args: [
        ...['--port', '0', '--tls-port', String(tlsPort), '--tls-auth-clients', 'no'],
        ...['--tls-cert-file', join(dir, 'cert.pem'), '--tls-key-file', join(dir, 'key.pem')],
        ...['--tls-ca-cert-file', join(dir, 'ca.pem'), '--requirepass', 'tls-secret'],
      ],
    });
    const url = `rediss://localhost:${tlsPort}/0`;
    try {
      const ok = connect({ url, password: 'tls-secret', tls: { ca_file: join(dir, 'ca.pem') } });
      try {
        expect(await ok.ping()).toBe('PONG');
      } finally {
        ok.disconnect();
      }
      const untrusted = connect({ url, password: 'tls-secret' });
      const err = await new Promise<Error>((resolve) => untrusted.once('error', resolve));
      untrusted.disconnect();
      expect(describeRedisFailure(url, err).message).toMatch(
        new RegExp(`^Redis at rediss://localhost:${tlsPort}/0 cannot be used: .*(certificate|self.signed)`),
      );
    } finally {
      await server.stop();
    }
  });
});
