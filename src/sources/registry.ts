/**
 * The source registry: the only way the app reaches a source. One factory per config `type`; adding a source type
 * is its schema in src/config/sources.ts, its folder under src/sources/, and one line here (docs/sources.md).
 */
import type { SourceConfig, SourceType } from '../config/schema.js';
import { graphSecuritySource } from './graph/source.js';
import { webhookSource } from './push/source.js';
import { defenderStreamingSource } from './streaming/source.js';
import type { Source, SourceContext, SourceFactory } from './types.js';

const FACTORIES = {
  graph_security: graphSecuritySource,
  webhook: webhookSource,
  defender_streaming: defenderStreamingSource,
} satisfies { [K in SourceType]: SourceFactory<Extract<SourceConfig, { type: K }>> };

type Factories = typeof FACTORIES;
/** The source class each `type` builds, for callers that need more than the contract (the CLI's backfill). */
export type SourceOfType = { [K in SourceType]: ReturnType<Factories[K]['create']> };

export interface Sources {
  /** One per configured source, in config order. */
  configured: Source[];
  /**
   * The components the configured sources share (`ctx.shared`), in the order they were first asked for. The app
   * runs them like sources, and stops them after the configured ones (which use them).
   */
  shared: Source[];
}

/** Builds the configured sources; `ctx.shared` is provided here (one component per key, owned like a source). */
export function createSources(configs: readonly SourceConfig[], ctx: Omit<SourceContext, 'shared'>): Sources {
  const shared = new Map<string, Source>();
  const context: SourceContext = {
    ...ctx,
    shared<T extends Source>(key: string, create: () => T): T {
      let component = shared.get(key);
      if (!component) shared.set(key, (component = create()));
      return component as T;
    },
  };
  const configured = configs.map((c) => (FACTORIES[c.type] as SourceFactory<SourceConfig>).create(c, context));
  return { configured, shared: [...shared.values()] };
}

/** The configured source `name` when it is of `type` (typed as what that type's factory builds). */
export function findSource<K extends SourceType>(
  sources: readonly Source[],
  type: K,
  name: string,
): SourceOfType[K] | undefined {
  return sources.find((s) => s.type === type && s.name === name) as SourceOfType[K] | undefined;
}
