/**
 * Replicated Redis on loopback, from the real `redis-server` / `redis-sentinel` binaries, for the tests (and the
 * chaos runs) of Sentinel and Cluster: a primary with two replicas watched by three sentinels, and a
 * three-primary / three-replica cluster. Each server runs in its own process group and temporary folder on a free
 * port, watched so that it also stops when the test process dies (see src/util/redis-server.ts); `stop()` stops
 * them all and removes the folders, whatever state they are in.
 *
 * Failover timings are short (down after 1 s, failover timeout 5 s) so that a test sees a failover within seconds;
 * tests still wait for conditions (`waitForFailover`), never for a fixed time.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, startRedisServer, type RedisServer } from '../../src/util/redis-server.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

export interface Address {
  host: string;
  port: number;
}

/** `host:port`, as written in `redis.sentinel.nodes`. */
export const hostPort = (a: Address): string => `${a.host}:${a.port}`;

export interface SentinelTopology {
  masterName: string;
  /** The three sentinels' addresses. */
  sentinels: Address[];
  /** The data servers, primary first at start (after a failover, `primary()` says which one it is). */
  servers: RedisServer[];
  /** The current primary as the sentinels report it. */
  primary(): Promise<Address>;
  /** SIGKILLs the current primary (its whole process group); returns its address. */
  killPrimary(): Promise<Address>;
  /** Waits until the sentinels report a primary other than `old`, and that server answers as a primary. */
  waitForFailover(old: Address, timeoutMs?: number): Promise<Address>;
  /**
   * Cuts every replica off the primary for `ms` (the replicas stall in `DEBUG SLEEP`, the primary drops their
   * links): a replication lag, as across zones or during a network blip. Writes the primary takes meanwhile are on
   * the primary only. Resolves once the links are cut.
   */
  cutReplicas(ms: number): Promise<void>;
  stop(): Promise<void>;
}

export interface SentinelTopologyOptions {
  masterName?: string;
  replicas?: number;
  /** Sentinel's down-after-milliseconds. @defaultValue 1000 */
  downAfterMs?: number;
  /** Sentinel's failover-timeout. @defaultValue 5000 */
  failoverTimeoutMs?: number;
  /** The data servers' password (`requirepass`, and `masterauth` for the replicas and the sentinels). */
  password?: string;
  /** The sentinels' own password (`requirepass`, and `sentinel sentinel-pass` between them). */
  sentinelPassword?: string;
}

/** A primary, `replicas` replicas (2) and three sentinels (quorum 2), all caught up with each other. */
export async function startSentinelTopology(opts: SentinelTopologyOptions = {}): Promise<SentinelTopology> {
  const masterName = opts.masterName ?? 'alertbridge';
  const started: RedisServer[] = [];
  const dirs: string[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((s) => s.stop().catch(() => undefined)));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    const auth = opts.password;
    const args = [...FAST_SYNC, ...(auth ? ['--requirepass', auth, '--masterauth', auth] : [])];
    const primary = await startRedisServer({ args });
    started.push(primary);
    const replicas = await Promise.all(
      Array.from({ length: opts.replicas ?? 2 }, () =>
        startRedisServer({ args: [...args, '--replicaof', '127.0.0.1', String(primary.port)] }),
      ),
    );
    started.push(...replicas);
    const servers = [primary, ...replicas];
    const sentinels: RedisServer[] = [];
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'alertbridge-sentinel-'));
      dirs.push(dir);
      const file = join(dir, 'sentinel.conf');
      writeFileSync(
        file,
        [
          `sentinel monitor ${masterName} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${masterName} ${opts.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${masterName} ${opts.failoverTimeoutMs ?? 5000}`,
          `sentinel parallel-syncs ${masterName} 1`,
          ...(auth ? [`sentinel auth-pass ${masterName} ${auth}`] : []),
          ...(opts.sentinelPassword
            ? [`requirepass ${opts.sentinelPassword}`, `sentinel sentinel-pass ${opts.sentinelPassword}`]
            : []),
          '',
        ].join('\n'),
      );
      const s = await startRedisServer({ port: await freePort(), dir, sentinelConfig: file });
      started.push(s);
      sentinels.push(s);
    }
    const sentinelAddrs = sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
    const sentinelPassword = opts.sentinelPassword;
    const ask = <T>(fn: (r: Redis) => Promise<T>) => firstAnswer(sentinelAddrs, sentinelPassword, fn);

    // Ready: replicas linked, and every sentinel sees both replicas and the two other sentinels (failover needs
    // them: a quorum to agree the primary is down, a majority to elect the sentinel that promotes a replica).
    await waitFor(
      async () => {
        const views = await Promise.all(
          sentinelAddrs.map((a) =>
            withClient(a, sentinelPassword, async (r) => {
              const fields = pairs((await r.call('SENTINEL', 'MASTER', masterName)) as string[]);
              return Number(fields['num-slaves']) >= replicas.length && Number(fields['num-other-sentinels']) >= 2;
            }).catch(() => false),
          ),
        );
        if (!views.every(Boolean)) return false;
        return linksUp(replicas, auth);
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'the sentinels to see the primary, its replicas and each other' },
    );

    const primaryAddr = async (): Promise<Address> =>
      ask(async (r) => {
        const [host, port] = (await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string];
        return { host, port: Number(port) };
      });
    return {
      masterName,
      sentinels: sentinelAddrs,
      servers,
      primary: primaryAddr,
      async killPrimary() {
        const addr = await primaryAddr();
        const server = servers.find((s) => s.port === addr.port);
        if (!server) throw new Error(`the primary ${hostPort(addr)} is not one of this topology's servers`);
        killGroup(server);
        return addr;
      },
      async cutReplicas(ms) {
        const p = await primaryAddr();
        const replicasNow = servers.filter((s) => s.port !== p.port && s.process.exitCode === null);
        // DEBUG SLEEP blocks the replica (its reply comes when it wakes): sent, not awaited.
        const sleepers = replicasNow.map((s) => {
          const r = new Redis({ host: '127.0.0.1', port: s.port, password: auth, maxRetriesPerRequest: 0 });
          r.on('error', () => undefined);
          void r
            .call('DEBUG', 'SLEEP', String(ms / 1000))
            .catch(() => undefined)
            .finally(() => r.disconnect());
          return r;
        });
        await waitFor(() => sleepers.every((r) => r.status === 'ready'), { what: 'the DEBUG SLEEP connections' });
        await withClient(p, auth, (r) => r.call('CLIENT', 'KILL', 'TYPE', 'replica'));
      },
      async waitForFailover(old, timeoutMs = 60_000) {
        return waitFor(
          async () => {
            const now = await primaryAddr().catch(() => undefined);
            if (!now || now.port === old.port) return undefined;
            const role = await withClient(now, auth, async (r) => ((await r.call('ROLE')) as string[])[0]).catch(
              () => undefined,
            );
            return role === 'master' ? now : undefined;
          },
          { timeoutMs, intervalMs: 200, what: `a replica of ${hostPort(old)} to be promoted` },
        );
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface ClusterTopology {
  /** Every node's address (seed list). */
  nodes: Address[];
  servers: RedisServer[];
  /** The addresses of the current primaries. */
  primaries(): Promise<Address[]>;
  /** SIGKILLs one primary (the first by default); returns its address. */
  killPrimary(which?: Address): Promise<Address>;
  /** Waits until a replica of `old` took over its slots and the cluster answers `cluster_state:ok` again. */
  waitForFailover(old: Address, timeoutMs?: number): Promise<Address>;
  /**
   * Starts a killed node again on its port and folder (its `nodes.conf`): it rejoins the cluster as a replica of the
   * one promoted in its place (as a restarted pod would). Resolves once its replication link is up.
   */
  restartNode(addr: Address, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Three primaries with one replica each (`redis-cli --cluster create … --cluster-replicas 1`). */
export async function startClusterTopology(opts: { nodeTimeoutMs?: number } = {}): Promise<ClusterTopology> {
  const servers: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
  };
  try {
    const args = [
      ...FAST_SYNC,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-node-timeout',
      String(opts.nodeTimeoutMs ?? 2000),
    ];
    /** Folders of restarted nodes (a server started on a given folder leaves it in place when stopped). */
    const dirs: string[] = [];
    for (let i = 0; i < 6; i++) servers.push(await startRedisServer({ args }));
    const nodes = servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
    await run(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map(hostPort), '--cluster-replicas', '1', '--cluster-yes'],
      { timeout: 60_000 },
    );
    const alive = () => servers.filter((s) => s.process.exitCode === null && s.process.signalCode === null);
    const clusterOk = async (): Promise<boolean> => {
      const states = await Promise.all(
        alive().map((s) =>
          withClient({ host: '127.0.0.1', port: s.port }, undefined, (r) => r.call('CLUSTER', 'INFO')).catch(() => ''),
        ),
      );
      return states.every((info) => /cluster_state:ok/.test(String(info)));
    };
    const primaries = async (): Promise<Address[]> => {
      const node = alive()[0]!;
      const text = String(
        await withClient({ host: '127.0.0.1', port: node.port }, undefined, (r) => r.call('CLUSTER', 'NODES')),
      );
      // `<id> <ip:port@bus-port> <flags,…> <primary id> …`: the primaries not marked failing.
      return text
        .split('\n')
        .map((l) => l.split(' '))
        .filter((f) => {
          const flags = (f[2] ?? '').split(',');
          return flags.includes('master') && !flags.includes('fail') && !flags.includes('fail?');
        })
        .map((f) => {
          const [host, port] = f[1]!.split('@')[0]!.split(':');
          return { host: host!, port: Number(port) };
        });
    };
    const initial = await waitFor(
      async () => {
        if (!(await clusterOk())) return undefined;
        const p = await primaries();
        // A replica that never completed its first sync cannot be promoted.
        const replicas = servers.filter((s) => !p.some((q) => q.port === s.port));
        return p.length === 3 && (await linksUp(replicas, undefined)) ? p : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'the cluster to be ok with three primaries' },
    );
    return {
      nodes,
      servers,
      primaries,
      async killPrimary(which) {
        const addr = which ?? (await primaries())[0]!;
        const server = servers.find((s) => s.port === addr.port);
        if (!server) throw new Error(`${hostPort(addr)} is not one of this cluster's nodes`);
        killGroup(server);
        return addr;
      },
      async waitForFailover(old, timeoutMs = 60_000) {
        return waitFor(
          async () => {
            const now = await primaries().catch(() => []);
            if (now.length !== 3 || now.some((p) => p.port === old.port)) return undefined;
            if (!(await clusterOk())) return undefined;
            // The promoted replica: the primary that was not one at the start.
            return now.find((p) => !initial.some((i) => i.port === p.port));
          },
          { timeoutMs, intervalMs: 200, what: `a replica of ${hostPort(old)} to take over its slots` },
        );
      },
      async restartNode(addr, timeoutMs = 60_000) {
        const at = servers.findIndex((s) => s.port === addr.port);
        const old = servers[at];
        if (!old) throw new Error(`${hostPort(addr)} is not one of this cluster's nodes`);
        if (old.process.exitCode === null && old.process.signalCode === null) throw new Error(`${hostPort(addr)} runs`);
        dirs.push(old.dir);
        servers[at] = await startRedisServer({ port: old.port, dir: old.dir, args });
        await waitFor(async () => linksUp([servers[at]!], undefined), {
          timeoutMs,
          intervalMs: 200,
          what: `${hostPort(addr)} to rejoin as a replica`,
        });
      },
      async stop() {
        await stop();
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * A replica's first sync starts at once (Redis otherwise waits 5 s for more replicas to share a diskless transfer):
 * the topologies are ready only when every replica has synced. DEBUG (from loopback) lets a test stall a replica
 * (`DEBUG SLEEP`), as a lagging one would be.
 */
const FAST_SYNC = ['--repl-diskless-sync-delay', '0', '--enable-debug-command', 'local'];

/** Whether every one of these replicas has a working link to its primary (its first sync completed). */
async function linksUp(replicas: RedisServer[], password: string | undefined): Promise<boolean> {
  const states = await Promise.all(
    replicas.map((s) =>
      withClient({ host: '127.0.0.1', port: s.port }, password, (r) => r.info('replication')).catch(() => ''),
    ),
  );
  return states.every((info) => /master_link_status:up/.test(info));
}

/** SIGKILL to the server's process group (it was spawned detached: it leads its own group). */
function killGroup(server: RedisServer): void {
  try {
    process.kill(-server.process.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

function pairs(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}

/** A short-lived connection that neither retries nor queues: a dead server is an error at once. */
async function withClient<T>(addr: Address, password: string | undefined, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({
    host: addr.host,
    port: addr.port,
    password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectTimeout: 2000,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/** The answer of the first sentinel that gives one (any of them may be the one that was just killed). */
async function firstAnswer<T>(
  addrs: Address[],
  password: string | undefined,
  fn: (r: Redis) => Promise<T>,
): Promise<T> {
  let last: unknown;
  for (const a of addrs) {
    try {
      return await withClient(a, password, fn);
    } catch (err) {
      last = err;
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}
