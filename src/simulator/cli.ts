/**
 * `alertbridge simulate`: the Graph Security API simulator on its own, until SIGINT/SIGTERM. It prints what a client
 * needs — the CA file to trust, the Graph URL, the authority host and the demo tenant's credentials, as a ready
 * `graph_security` source — so pointing alertbridge (or curl) at it is a copy-paste.
 */
import { startSimulator } from './server.js';
import type { Simulator, SimulatorOptions } from './types.js';

export interface SimulateCommandOptions extends SimulatorOptions {
  /** Where the banner goes. @defaultValue process.stdout */
  out?: NodeJS.WritableStream;
  /** Stops the simulator when aborted (besides SIGINT/SIGTERM); for tests and embedding. */
  signal?: AbortSignal;
  /** Called once the simulator listens (the demo uses it to get the handle). */
  onStarted?: (sim: Simulator) => void;
}

/** Starts the simulator, prints where it is, and resolves after a signal once it has closed. */
export async function simulateCommand(opts: SimulateCommandOptions = {}): Promise<void> {
  const { out = process.stdout, signal, onStarted, ...simOpts } = opts;
  const sim = await startSimulator({ ...simOpts, initial: simOpts.initial ?? 25 });
  out.write(banner(sim, simOpts));
  onStarted?.(sim);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
  });
  await sim.close();
}

/** The start-up message: endpoints, CA, credentials and a config snippet. */
export function banner(sim: Simulator, opts: SimulatorOptions = {}): string {
  const t = sim.tenants[0];
  const lines = [
    `Graph Security API simulator listening on ${sim.url}`,
    `  CA certificate:  ${sim.caFile}   (trust it: ca_file, or NODE_EXTRA_CA_CERTS=${sim.caFile})`,
    `  Graph URL:       ${sim.url}/v1.0/security/alerts_v2`,
    `  Authority host:  ${sim.authorityHost}   (tokens: ${sim.authorityHost}/{tenant}/oauth2/v2.0/token)`,
    `  Rate:            ${opts.rate ?? 0} new alerts/s per tenant; control: ${sim.url}/_sim/faults, log: ${sim.url}/_sim/log`,
  ];
  const gl = sim.graphLike;
  if (gl) {
    lines.push(
      `  Graph-like:      alerts_v2/incidents newest first, $skip nextLinks, $top ≤ ${gl.maxTop.alerts_v2}/${gl.maxTop.incidents}, no nextLink past ${gl.maxDepth} deep, ${gl.updatesPerPage} updates per page`,
    );
  }
  for (const tenant of sim.tenants) {
    lines.push(`  Tenant ${tenant.tenantId}: client_id ${tenant.clientId}, client_secret ${tenant.clientSecret}`);
  }
  if (t) {
    lines.push(
      '',
      'As an alertbridge source:',
      '  - name: simulator',
      '    type: graph_security',
      `    tenant_id: ${t.tenantId}`,
      `    client_id: ${t.clientId}`,
      `    client_secret: ${t.clientSecret}`,
      `    graph_url: ${sim.url}`,
      `    authority_url: ${sim.authorityHost}`,
      `    ca_file: ${sim.caFile}`,
      '    resources: [alerts_v2, incidents]',
    );
  }
  return lines.join('\n') + '\n';
}
