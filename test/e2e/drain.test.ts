/**
 * SIGTERM drains: `alertbridge run` stopping while a delivery is in flight finishes that delivery (here: waits for
 * Splunk's indexer acknowledgement) before it exits 0, so nothing is left for the next start to send again.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/pipeline/redis.js';
import { freePort } from '../../src/util/redis-server.js';
import { startDaemon } from '../helpers/e2e.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { alertsInOneShard } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';
import { startHecPeer } from '../peers/hec/server.js';
import { keysFor } from '../../src/pipeline/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'ab-drain-'));
const prefix = uniquePrefix('drain');
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await deletePrefix(prefix);
});

describe('SIGTERM', () => {
  it('finishes the delivery in flight, then exits 0 with nothing left queued', async () => {
    const peer = await startHecPeer({ ack: true, ackDelayMs: 2500 });
    const port = await freePort();
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { listen: "127.0.0.1:${port}" }
pipeline: { drain_timeout_ms: 20000 }
log: { level: info, format: json }
sources:
  - { name: feed, type: webhook, token: drain-token }
sinks:
  - { name: hec, type: splunk_hec, url: "${peer.url}", token: test-token, ack: { enabled: true, poll_interval_ms: 100 } }
`,
    );
    const daemon = startDaemon(config, port);
    try {
      await daemon.ready();
      // One inbox shard: one staged batch, one job, one delivery in flight when the daemon is stopped.
      const alerts = alertsInOneShard(200, 'feed', 'push');
      const res = await fetch(`http://127.0.0.1:${port}/ingest/feed`, {
        method: 'POST',
        headers: { authorization: 'Bearer drain-token', 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      expect(res.status).toBe(202);
      // The batch is at Splunk, its acknowledgement still 2.5 s away: stop now.
      await waitFor(() => peer.indexed.length >= 200, { what: 'batch sent' });
      expect(peer.indexed.some((e) => peer.acknowledged(e))).toBe(false);
      daemon.child.kill('SIGTERM');
      const exit = await daemon.exited;
      expect(exit.code).toBe(0);
      // It waited for the ack: the delivery completed, and no job is left for a restart to send again.
      expect(peer.indexed.every((e) => peer.acknowledged(e))).toBe(true);
      expect(peer.indexed).toHaveLength(200);
      const connection = connect({ url: redisUrl() }, { blocking: true });
      const queue = new Queue(keysFor(prefix).sinkQueue('hec'), { connection, prefix });
      try {
        expect(await queue.getJobCounts('waiting', 'active', 'delayed', 'failed')).toMatchObject({
          waiting: 0,
          active: 0,
          delayed: 0,
          failed: 0,
        });
      } finally {
        await queue.close();
        connection.disconnect();
      }
      expect(daemon.output()).toContain('stopping: draining in-flight deliveries');
    } finally {
      if (daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
      await peer.close();
    }
  }, 90_000);
});
