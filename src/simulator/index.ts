/**
 * The Graph Security API simulator: what tests, `alertbridge simulate` and `alertbridge demo` import. The data
 * generator stays importable on its own from `./generate.js`.
 */
export { startSimulator, CA_FILE_NAME } from './server.js';
export { simulateCommand, banner, type SimulateCommandOptions } from './cli.js';
export { DEFAULT_RETRY_AFTER_S } from './faults.js';
export { MAX_SUBSCRIPTION_MINUTES } from './subscriptions.js';
export { LEGACY_LIMITS, LEGACY_PROVIDER_NAMES } from './resources.js';
export { GRAPH_LIKE_DEFAULTS } from './graph-like.js';
export {
  DEMO_TENANT,
  type DeliveryLogEntry,
  type GraphLikeOptions,
  type GraphLikeUpdate,
  type RequestLogEntry,
  type Simulator,
  type SimulatorFaults,
  type SimulatorFaultsUpdate,
  type SimulatorOptions,
  type SubscriptionOptions,
  type TenantCredentials,
} from './types.js';
export type { GraphObject } from './generate.js';
export { callSimulator, type SimCallOptions, type SimCallResult } from './client.js';
