/** Per-sink record filter (`sinks[].filter`): every given condition must hold. */
import { SEVERITIES, SYNC_OUTCOMES, type AlertRecord, type Resource, type Severity } from '../record/types.js';

export interface RecordFilter {
  /** Records below it, and records of unknown severity, are skipped. */
  min_severity?: Exclude<Severity, 'unknown'>;
  /** Also `sync_outcomes`, which a sink receives only when named here (write-back outcome records are opt-in). */
  resources?: readonly (Resource | typeof SYNC_OUTCOMES)[];
  /** Compared case-insensitively. */
  providers?: readonly string[];
  sources?: readonly string[];
}

/** The fields a filter compares: all a dispatcher reads of a record to route it. */
export type Route = Pick<AlertRecord, 'severity' | 'resource' | 'provider' | 'source'>;

export type RecordPredicate = (record: Route) => boolean;

export function compileFilter(filter: RecordFilter | undefined): RecordPredicate {
  const outcomes = filter?.resources?.includes(SYNC_OUTCOMES) ?? false;
  const base = compileRecordFilter(filter);
  return (r) => ((r.resource as string) === SYNC_OUTCOMES ? outcomes && base(r) : base(r));
}

function compileRecordFilter(filter: RecordFilter | undefined): RecordPredicate {
  if (!filter) return () => true;
  const minRank = filter.min_severity ? SEVERITIES.indexOf(filter.min_severity) : -1;
  const resources = filter.resources?.length ? new Set<string>(filter.resources) : null;
  const providers = filter.providers?.length ? new Set(filter.providers.map((p) => p.toLowerCase())) : null;
  const sources = filter.sources?.length ? new Set(filter.sources) : null;
  return (r) =>
    (minRank < 0 || (r.severity !== 'unknown' && SEVERITIES.indexOf(r.severity) >= minRank)) &&
    (!resources || resources.has(r.resource)) &&
    (!providers || providers.has(r.provider.toLowerCase())) &&
    (!sources || sources.has(r.source));
}
