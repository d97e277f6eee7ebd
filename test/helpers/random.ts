/**
 * The seeded random of tests, test peers and benches (fault dice, kill moments, fuzz): mulberry32, the same function
 * the simulator's generator draws from, so a run with the same seed repeats.
 */
export { mulberry32 as seededRandom } from '../../src/simulator/generate-random.js';
