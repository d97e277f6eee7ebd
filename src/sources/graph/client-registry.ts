/**
 * The Graph client of every `graph_security` source, by source name: how another source reads an alert with the
 * tenant's own credentials and request budget (the Defender streaming source's triggers are fetched with them). A
 * shared component with nothing to run: the clients belong to their sources, which start and stop them.
 */
import type { Source, SourceContext } from '../types.js';
import type { GraphClient } from './client.js';

export interface RegisteredGraphClient {
  client: GraphClient;
  /** The source's `tenant_id` as configured (a GUID or a verified domain). */
  tenantId: string;
  /** The Graph resources the source polls (polling is the safety net of what it fetches on demand). */
  resources: readonly string[];
  /** `request_budget_per_minute`: how many reads by id it can afford. */
  requestBudgetPerMinute: number;
}

export class GraphClientRegistry implements Source {
  readonly type = 'graph_clients';
  readonly name = 'graph-clients';
  readonly byName = new Map<string, RegisteredGraphClient>();

  async start(): Promise<void> {}

  async stop(): Promise<void> {}
}

/** The app's one registry, created by the first source that registers or looks up a client. */
export function graphClientRegistry(ctx: SourceContext): GraphClientRegistry {
  return ctx.shared('graph-clients', () => new GraphClientRegistry());
}
