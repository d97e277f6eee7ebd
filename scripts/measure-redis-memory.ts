/**
 * Measures Redis memory per queued record, for sizing (docs/operations.md): emits N records of about 3 KB through
 * the real pipeline into one sink queue whose sink is down (the records wait, as during a SIEM outage), and compares
 * `INFO memory` used_memory before and after. Then empties the queue to see what stays: the dedup state, kept for
 * pipeline.dedup_ttl_ms (7 days) after delivery.
 *
 *   npx tsx scripts/measure-redis-memory.ts [N]        (default 20000; needs redis-server, or REDIS_URL)
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { Metrics } from '../src/observability/metrics.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { mintReplicaId } from '../src/pipeline/replica.js';
import { connect } from '../src/pipeline/redis.js';
import { normalize } from '../src/record/normalize.js';
import type { AlertRecord } from '../src/record/types.js';
import { startRedisServer, type RedisServer } from '../src/util/redis-server.js';
import { RetryableError, type Sink } from '../sinks/types.js';

const N = Number(process.argv[2] ?? 20_000);
const PREFIX = 'measure';
const SINK = 'siem';

/** An alerts_v2 object whose record (envelope JSON) is about 3 KB, like a typical Defender alert with evidence. */
function alert(i: number): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.security.alert',
    id: `da${String(i).padStart(10, '0')}_-1234567890`,
    providerAlertId: `${i}-provider-alert-id`,
    incidentId: String(100000 + i),
    tenantId: '11111111-2222-3333-4444-555555555555',
    serviceSource: 'microsoftDefenderForEndpoint',
    detectionSource: 'antivirus',
    title: `Suspicious PowerShell command line ${i}`,
    category: 'Execution',
    severity: 'medium',
    status: 'new',
    classification: null,
    determination: null,
    createdDateTime: '2026-11-01T10:00:00.0000000Z',
    lastUpdateDateTime: '2026-11-01T10:05:00.1234567Z',
    firstActivityDateTime: '2026-11-01T09:58:00Z',
    lastActivityDateTime: '2026-11-01T09:59:00Z',
    alertWebUrl: `https://security.microsoft.com/alerts/da${i}?tid=11111111-2222-3333-4444-555555555555`,
    description: 'A suspicious PowerShell command line was observed. '.repeat(12),
    recommendedActions: 'Examine the process tree, the command line and the network connections of the device. '.repeat(
      4,
    ),
    mitreTechniques: ['T1059.001', 'T1027'],
    evidence: [
      {
        '@odata.type': '#microsoft.graph.security.deviceEvidence',
        createdDateTime: '2026-11-01T10:00:00Z',
        verdict: 'suspicious',
        remediationStatus: 'none',
        roles: [],
        deviceDnsName: `host-${i % 500}.contoso.local`,
        osPlatform: 'Windows11',
        healthStatus: 'active',
        mdeDeviceId: `${(i * 7919).toString(16).padStart(40, '0')}`,
        riskScore: 'medium',
      },
      {
        '@odata.type': '#microsoft.graph.security.processEvidence',
        createdDateTime: '2026-11-01T10:00:00Z',
        verdict: 'suspicious',
        remediationStatus: 'none',
        roles: [],
        processId: 4000 + (i % 1000),
        processCommandLine:
          'powershell.exe -NoProfile -EncodedCommand SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA',
        imageFile: {
          fileName: 'powershell.exe',
          filePath: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0',
          sha256: 'de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c',
        },
        userAccount: {
          accountName: `user${i % 200}`,
          domainName: 'CONTOSO',
          userSid: 'S-1-5-21-1111111111-2222222222-3333333333-1001',
        },
      },
    ],
  };
}

function makeRecord(i: number): AlertRecord {
  const res = normalize('alerts_v2', alert(i), { source: 'contoso', via: 'poll' });
  if (!res.ok) throw new Error(res.reason);
  return res.record;
}

/** A SIEM that is down: every batch waits (delayed) without spending attempts. */
/** Down (every batch waits an hour) until `up` is set; then it takes everything. */
let up = false;
const downSink: Sink = {
  name: SINK,
  type: 'measure',
  start: async () => undefined,
  close: async () => undefined,
  ready: () => up,
  send: async () => {
    if (!up) throw new RetryableError('SIEM unavailable', { retryAfterMs: 3_600_000 });
  },
};

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(): Promise<void> {
  let server: RedisServer | undefined;
  const url = process.env.REDIS_URL ?? (server = await startRedisServer()).url;
  const redis = connect({ url });
  const queueRedis = connect({ url }, { blocking: true });
  const dispatchRedis = connect({ url }, { blocking: true });
  const metrics = new Metrics({ defaultMetrics: false });
  const pipeline = new Pipeline({
    takeoverMs: 30_000,
    replicaId: mintReplicaId(),
    prefix: PREFIX,
    dedupTtlMs: 7 * 24 * 3600_000,
    dispatchBatchMax: 1000,
    redis,
    queueRedis,
    dispatchRedis,
    metrics,
    logger: pino({ level: 'silent' }),
    sinks: [
      {
        sink: downSink,
        maxRecords: 500,
        runtime: {
          retry: { max_attempts: 10, initial_backoff_ms: 1000, max_backoff_ms: 300_000 },
          concurrency: 1,
          deadLetterMax: 100_000,
        },
      },
    ],
  });
  try {
    await pipeline.start();
    const sample = makeRecord(0);
    const recordBytes = Buffer.byteLength(JSON.stringify(sample));
    const before = await usedMemory(redis);
    for (let start = 0; start < N; start += 500) {
      await pipeline.emit(Array.from({ length: Math.min(500, N - start) }, (_, i) => makeRecord(start + i)));
    }
    const depth = async () => (await pipeline.queueDepth())[`sink:${SINK}`] ?? 0;
    await waitFor(
      'the inbox to be fanned out',
      async () => (await pipeline.queueDepth()).inbox === 0 && (await depth()) > 0,
    );
    await waitFor('every batch to be held', async () => {
      const q = await pipeline.queueDepth();
      return q.inbox === 0 && (await depth()) === Math.ceil(N / 500);
    });
    await new Promise((r) => setTimeout(r, 1000));
    const queued = await usedMemory(redis);
    // The SIEM is back: the held batches are delivered now, and what they kept in Redis is released.
    up = true;
    const queue = new Queue(`sink-${SINK}`, { connection: queueRedis, prefix: PREFIX });
    await queue.promoteJobs();
    await waitFor(
      'every batch delivered and released',
      async () => (await pipeline.idle()) && (await redis.keys(`${PREFIX}:batch:*`)).length === 0,
    );
    await queue.close();
    await pipeline.close();
    await new Promise((r) => setTimeout(r, 1000));
    const afterDelivery = await usedMemory(redis);
    const perRecord = (queued - before) / N;
    const dedup = (afterDelivery - before) / N;
    console.log(
      JSON.stringify(
        {
          records: N,
          record_json_bytes: recordBytes,
          batches: Math.ceil(N / 500),
          used_memory_before: before,
          used_memory_queued: queued,
          used_memory_after_delivery: afterDelivery,
          bytes_per_queued_record: Math.round(perRecord),
          bytes_per_record_in_queue: Math.round(perRecord - dedup),
          bytes_per_record_dedup_state: Math.round(dedup),
        },
        null,
        2,
      ),
    );
  } finally {
    await pipeline.close().catch(() => undefined);
    for (const c of [redis, queueRedis, dispatchRedis]) c.disconnect();
    await server?.stop();
  }
}

await main();
