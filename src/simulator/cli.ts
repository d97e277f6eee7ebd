/**
 * `alertbridge simulate`: the Graph Security API simulator on its own, until SIGINT/SIGTERM. It prints what a client
 * needs — the CA file to trust, the Graph URL, the authority host and the demo tenant's credentials, as a ready
 * `graph_security` source — so pointing alertbridge (or curl) at it is a copy-paste. With `eventHub`, also the
 * bundled Event Hubs endpoint `alertbridge demo` uses, into which each new alert's AlertInfo/AlertEvidence events are
 * published, and its connection string, as a ready `defender_streaming` source and as config/demo.yaml's variable.
 */
import type { EventHubsPeer } from './eventhubs/server.js';
import { startSimulator } from './server.js';
import type { Simulator, SimulatorOptions } from './types.js';
import { startSimulatorWithEventHub } from './with-event-hub.js';

export interface SimulateCommandOptions extends SimulatorOptions {
  /** Where the banner goes. @defaultValue process.stdout */
  out?: NodeJS.WritableStream;
  /** Stops the simulator when aborted (besides SIGINT/SIGTERM); for tests and embedding. */
  signal?: AbortSignal;
  /** Called once the simulator listens (the demo uses it to get the handle). */
  onStarted?: (sim: Simulator) => void;
  /** Also start the bundled Event Hubs endpoint and stream each new alert's events into it (as `alertbridge demo`). */
  eventHub?: boolean;
}

/** The hub `simulate --event-hub` streams into, for the banner. */
export interface BannerHub {
  hub: EventHubsPeer;
  hubName: string;
  connectionString: string;
}

/** Starts the simulator, prints where it is, and resolves after a signal once it has closed. */
export async function simulateCommand(opts: SimulateCommandOptions = {}): Promise<void> {
  const { out = process.stdout, signal, onStarted, eventHub, ...simOpts } = opts;
  const start = { ...simOpts, initial: simOpts.initial ?? 25 };
  const withHub = eventHub ? await startSimulatorWithEventHub(start) : undefined;
  const sim = withHub?.sim ?? (await startSimulator(start));
  out.write(banner(sim, simOpts, withHub));
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
  await withHub?.hub.close();
}

/** The start-up message: endpoints, CA, credentials and a config snippet. */
export function banner(sim: Simulator, opts: SimulatorOptions = {}, stream?: BannerHub): string {
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
  if (stream) {
    lines.splice(
      5,
      0,
      `  Event Hub:       ${stream.hub.host}:${stream.hub.port}/${stream.hubName}   (AlertInfo/AlertEvidence events of each new alert, plain AMQP on loopback)`,
      `  Connection:      ${stream.connectionString}`,
    );
    lines.push(
      '',
      'As a defender_streaming source (config/demo.yaml: SIM_STREAM_CONNECTION_STRING=<the connection string>):',
      '  - name: simulator-stream',
      '    type: defender_streaming',
      `    connection_string: "${stream.connectionString}"`,
      '    start_position: earliest',
      '',
      `SIM_STREAM_CONNECTION_STRING='${stream.connectionString}'`,
    );
  }
  return lines.join('\n') + '\n';
}
