/** Per-sink record filter (`sinks[].filter`): every given condition must hold. */
import { groupOf } from '../config/tenant-name.js';
import {
  HEALTH,
  SEVERITIES,
  SYNC_OUTCOMES,
  isStreamingResource,
  type AlertRecord,
  type Resource,
  type Severity,
} from '../record/types.js';

export interface RecordFilter {
  /** Records below it, and records of unknown severity, are skipped. */
  min_severity?: Exclude<Severity, 'unknown'>;
  /**
   * Also `sync_outcomes`, `health` and `streaming/<Table>` (or `streaming/*`), which a sink receives only when named
   * here (write-back outcomes, health records and streamed table rows are opt-in).
   */
  resources?: readonly (Resource | typeof SYNC_OUTCOMES | string)[];
  /** Compared case-insensitively. */
  providers?: readonly string[];
  /** A source with `tenants` stands for all of them (`mssp` matches `mssp/fabrikam`). */
  sources?: readonly string[];
}

/** The fields a filter compares: all a dispatcher reads of a record to route it. */
export type Route = Pick<AlertRecord, 'severity' | 'resource' | 'provider' | 'source'>;

export type RecordPredicate = (record: Route) => boolean;

/**
 * `sink`: the name of the sink the filter is for. Health records about a sink (`source: "sink:{name}"`: it is
 * paused, it dead-letters) go to the other sinks that opt in, never to that sink itself (the sink in trouble is the
 * least reliable way to hear of it), and pass a `sources` filter (they come from no source).
 */
export function compileFilter(filter: RecordFilter | undefined, sink?: string): RecordPredicate {
  const outcomes = filter?.resources?.includes(SYNC_OUTCOMES) ?? false;
  const tables = new Set(filter?.resources?.filter(isStreamingResource));
  const anyTable = tables.has('streaming/*');
  const health = filter?.resources?.includes(HEALTH) ?? false;
  const base = compileRecordFilter(filter);
  const sinkHealth = compileRecordFilter(filter && { ...filter, sources: undefined });
  return (r) => {
    const resource = r.resource as string;
    if (resource === SYNC_OUTCOMES) return outcomes && base(r);
    if (resource === HEALTH) {
      if (!health) return false;
      if (!r.source.startsWith('sink:')) return base(r);
      return r.source !== `sink:${sink}` && sinkHealth(r);
    }
    // A row of a streamed table: only where the filter names its table (or every table); the resource condition is
    // that one, the others apply as to any record.
    if (isStreamingResource(resource)) return (anyTable || tables.has(resource)) && base(r, true);
    return base(r);
  };
}

function compileRecordFilter(filter: RecordFilter | undefined): (record: Route, resourceChecked?: boolean) => boolean {
  if (!filter) return () => true;
  const minRank = filter.min_severity ? SEVERITIES.indexOf(filter.min_severity) : -1;
  const resources = filter.resources?.length ? new Set<string>(filter.resources) : null;
  const providers = filter.providers?.length ? new Set(filter.providers.map((p) => p.toLowerCase())) : null;
  const sources = filter.sources?.length ? new Set(filter.sources) : null;
  return (r, resourceChecked = false) =>
    (minRank < 0 || (r.severity !== 'unknown' && SEVERITIES.indexOf(r.severity) >= minRank)) &&
    (resourceChecked || !resources || resources.has(r.resource)) &&
    (!providers || providers.has(r.provider.toLowerCase())) &&
    (!sources || sources.has(r.source) || sources.has(groupOf(r.source)));
}
