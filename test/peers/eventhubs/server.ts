/**
 * The Event Hubs peer of the tests and benches. It ships with the simulator (src/simulator/eventhubs/, where
 * `alertbridge demo` runs its Defender streaming path through it); tests import it from here. See README.md.
 */
export * from '../../../src/simulator/eventhubs/server.js';
