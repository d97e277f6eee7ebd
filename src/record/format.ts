/**
 * Output formats a sink can be configured with (`format`). `envelope` is the record itself; `graph` is the Graph
 * object verbatim. `ocsf` (OCSF Detection Finding) is not in this release: the config loader accepts the key, and
 * `formatterFor` refuses it at start with a clear error rather than emitting something half-mapped.
 */
import type { AlertRecord } from './types.js';

export type FormatName = 'envelope' | 'graph' | 'ocsf';
export type Formatter = (record: AlertRecord) => unknown;

export class UnsupportedFormatError extends Error {
  override name = 'UnsupportedFormatError';
}

const FORMATS: Partial<Record<FormatName, Formatter>> = {
  envelope: (record) => record,
  graph: (record) => record.data,
};

export function formatterFor(name: FormatName): Formatter {
  const f = FORMATS[name];
  if (!f) throw new UnsupportedFormatError(`format "${name}" is not available in this version (use envelope or graph)`);
  return f;
}
