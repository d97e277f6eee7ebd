/**
 * The Graph simulator together with the bundled Event Hubs endpoint (./eventhubs/) it publishes the Defender XDR
 * Streaming API's AlertInfo/AlertEvidence events of each new alert into (./streaming.ts): what a `defender_streaming`
 * source reads. One way to start the pair, for `alertbridge demo` and `alertbridge simulate --event-hub`.
 */
import { randomBytes } from 'node:crypto';
import { startEventHubsPeer, type EventHubsPeer } from './eventhubs/server.js';
import { startSimulator } from './server.js';
import type { Simulator, SimulatorOptions } from './types.js';

export interface SimulatorWithEventHub {
  sim: Simulator;
  hub: EventHubsPeer;
  hubName: string;
  /** What a `defender_streaming` source's `connection_string` takes (plain AMQP on loopback, `EntityPath` the hub). */
  connectionString: string;
}

/** Starts the hub, then the simulator streaming into it; the caller closes both (the simulator first). */
export async function startSimulatorWithEventHub(
  opts: Omit<SimulatorOptions, 'streaming'> = {},
): Promise<SimulatorWithEventHub> {
  // A hub of its own per run: with a shared Redis, an earlier run's checkpoints (kept in Redis by namespace, hub and
  // consumer group) would point past the end of this fresh, empty hub.
  const hubName = `defender-stream-${randomBytes(4).toString('hex')}`;
  const hub = await startEventHubsPeer({ hubs: { [hubName]: 2 } });
  const connectionString = hub.connectionString(hubName);
  try {
    const sim = await startSimulator({ ...opts, streaming: { connectionString } });
    return { sim, hub, hubName, connectionString };
  } catch (err) {
    await hub.close();
    throw err;
  }
}
