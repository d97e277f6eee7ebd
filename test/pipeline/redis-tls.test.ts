/** `redis.tls.ca_file` adds a CA: the system's roots stay trusted (a managed Redis with a public certificate still verifies). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { redisOptions } from '../../src/pipeline/redis.js';
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
