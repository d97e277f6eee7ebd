/**
 * The replicated-Redis test helpers themselves (test/helpers/redis-topology.ts): the topologies come up as
 * described, a killed primary is replaced by its replica, and what was written with WAIT survives.
 */
import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startClusterTopology, startSentinelTopology } from '../helpers/redis-topology.js';

describe('sentinel topology', () => {
  it('starts a primary with two replicas under three sentinels, and fails over when the primary is killed', async () => {
    const topo = await startSentinelTopology();
    try {
      const first = await topo.primary();
      expect(topo.servers.map((s) => s.port)).toContain(first.port);
      const direct = new Redis({ host: first.host, port: first.port });
      await direct.set('before-failover', 'kept');
      expect(Number(await direct.call('WAIT', 2, 5000))).toBe(2);
      direct.disconnect();

      const killed = await topo.killPrimary();
      expect(killed).toEqual(first);
      const next = await topo.waitForFailover(killed);
      expect(next.port).not.toBe(first.port);
      const promoted = new Redis({ host: next.host, port: next.port });
      try {
        expect(((await promoted.call('ROLE')) as string[])[0]).toBe('master');
        expect(await promoted.get('before-failover')).toBe('kept');
      } finally {
        promoted.disconnect();
      }
    } finally {
      await topo.stop();
    }
    // Stopped means stopped: every data server process has exited.
    for (const s of topo.servers) expect(s.process.exitCode !== null || s.process.signalCode !== null).toBe(true);
  });
});

describe('cluster topology', () => {
  it('starts three primaries with a replica each, and promotes the replica of a killed primary', async () => {
    const topo = await startClusterTopology();
    try {
      const primaries = await topo.primaries();
      expect(primaries).toHaveLength(3);
      const cluster = new Cluster(topo.nodes);
      try {
        for (let i = 0; i < 30; i++) await cluster.set(`k${i}`, String(i));
        expect(await cluster.get('k7')).toBe('7');
      } finally {
        cluster.disconnect();
      }
      const killed = await topo.killPrimary(primaries[0]);
      const promoted = await topo.waitForFailover(killed);
      expect(promoted.port).not.toBe(killed.port);
      expect(await topo.primaries()).toHaveLength(3);
    } finally {
      await topo.stop();
    }
  });
});
