/**
 * What the end-to-end tests of `alertbridge run` against the simulator share: a scratch folder and Redis prefix
 * cleaned up after the file, the YAML of a `graph_security` source pointed at the simulator, and the lines a file
 * sink wrote so far.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { Simulator, TenantCredentials } from '../../src/simulator/types.js';
import { deletePrefix, uniquePrefix } from './redis.js';

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
