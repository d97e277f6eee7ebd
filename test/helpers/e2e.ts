/**
 * What the end-to-end tests of `alertbridge run` against the simulator share: a scratch folder and Redis prefix
 * cleaned up after the file, the YAML of a `graph_security` source pointed at the simulator, and the lines a file
 * sink wrote so far; a daemon started from a config and waited for, a POST to /sync, and a change's outcome.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { Redis } from 'ioredis';
import type { Keys } from '../../src/pipeline/keys.js';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { spawnCli, type Daemon } from './cli.js';
import { deletePrefix, redisUrl, uniquePrefix } from './redis.js';
import { waitFor } from './wait.js';

/** A scratch folder and a Redis key prefix for one test file, both removed after it. */
export function e2eWorkspace(name: string): { dir: string; prefix: string } {
  const dir = mkdtempSync(join(tmpdir(), `ab-${name}-`));
  const prefix = uniquePrefix(name);
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await deletePrefix(prefix);
  });
  return { dir, prefix };
}

/** The lines a file sink has written so far (none while the file does not exist yet). */
export function ndjsonLines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * A `graph_security` source entry (YAML, indented for `sources:`) for a tenant of the simulator. `graphUrl` and
 * `authorityUrl` replace the simulator's addresses (e.g. a name a proxy should see); `extra` lines are appended as is.
 */
export function graphSourceYaml(
  sim: Simulator,
  t: TenantCredentials,
  o: { name: string; resources: string[]; graphUrl?: string; authorityUrl?: string; extra?: string },
): string {
  return `  - name: ${o.name}
    type: graph_security
    tenant_id: ${t.tenantId}
    client_id: ${t.clientId}
    client_secret: ${t.clientSecret}
    graph_url: ${o.graphUrl ?? sim.url}
    authority_url: ${o.authorityUrl ?? sim.authorityHost}
    ca_file: ${sim.caFile}
    resources: [${o.resources.join(', ')}]
${o.extra ?? ''}`;
}

/**
 * A `graph_security` source of several tenants under one app registration (YAML, indented for `sources:`) at the
 * simulator. `extra` lines (ending in a newline) go before `tenants:`; a tenant's `extra` is added to its entry.
 */
export function graphTenantsSourceYaml(
  sim: Simulator,
  app: { clientId: string; clientSecret: string },
  o: {
    name: string;
    resources: string[];
    extra?: string;
    tenants: Array<{ name: string; tenantId: string; extra?: string }>;
  },
): string {
  const entry = (t: { name: string; tenantId: string; extra?: string }) =>
    `      - { name: ${t.name}, tenant_id: ${t.tenantId}${t.extra ? `, ${t.extra}` : ''} }`;
  return `  - name: ${o.name}
    type: graph_security
    client_id: ${app.clientId}
    client_secret: ${app.clientSecret}
    graph_url: ${sim.url}
    authority_url: ${sim.authorityHost}
    ca_file: ${sim.caFile}
    resources: [${o.resources.join(', ')}]
${o.extra ?? ''}    tenants:
${o.tenants.map(entry).join('\n')}`;
}

/** The top lines of an `alertbridge run` config: the test Redis under `prefix`, the HTTP server on `port`, JSON logs. */
export function daemonConfigHead(prefix: string, port: number): string {
  return `redis: { url: "${redisUrl()}", key_prefix: "${prefix}" }
server: { listen: "127.0.0.1:${port}" }
log: { level: info, format: json }
`;
}

/** A daemon `alertbridge run` started from a config file, listening on `port`. */
export interface StartedDaemon extends Daemon {
  port: number;
  /** Throws with the daemon's output when it has exited (call it inside waits). */
  alive(): void;
  /** Waits until `path` (default /readyz) answers 2xx; fails with the daemon's output if it exits first. */
  ready(path?: string): Promise<void>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `alertbridge run --config <config>`; `port` is the one its `server.listen` names. */
export function startDaemon(config: string, port: number, env: NodeJS.ProcessEnv = {}): StartedDaemon {
  const daemon = spawnCli(['run', '--config', config], env);
  const alive = (): void => {
    if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.output()}`);
  };
  return {
    ...daemon,
    port,
    alive,
    ready: async (path = '/readyz') => {
      await waitFor(
        async () => {
          alive();
          return fetch(`http://127.0.0.1:${port}${path}`).then(
            (r) => r.ok,
            () => false,
          );
        },
        { timeoutMs: 60_000, what: `the daemon answering ${path}` },
      );
    },
    stop: async () => {
      if (daemon.child.exitCode === null) daemon.child.kill('SIGTERM');
      return daemon.exited;
    },
  };
}

/** POST /sync/{source} with the bearer token and a JSON body. */
export function postSync(port: number, source: string, token: string, body: unknown): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/sync/${source}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Waits until a sync change's hash in Redis has its outcome, and returns the hash; fails if the daemon exits. */
export function waitForOutcome(
  redis: Redis,
  keys: Keys,
  source: string,
  changeId: string,
  o: { daemon?: StartedDaemon; what?: string; timeoutMs?: number } = {},
): Promise<Record<string, string>> {
  return waitFor(
    async () => {
      o.daemon?.alive();
      const state = await redis.hgetall(keys.syncChange(source, changeId));
      return state.outcome ? state : undefined;
    },
    { timeoutMs: o.timeoutMs ?? 120_000, what: o.what ?? 'the change finished' },
  );
}
