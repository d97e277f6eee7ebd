/**
 * Output formats a sink can be configured with (`format`). `envelope` is the record itself; `graph` is the Graph
 * object verbatim; `ocsf` is an OCSF Detection Finding (see `ocsf.ts`).
 */
import { toOcsf } from './ocsf.js';
import type { AlertRecord } from './types.js';

export type FormatName = 'envelope' | 'graph' | 'ocsf';
export type Formatter = (record: AlertRecord) => unknown;

export class UnsupportedFormatError extends Error {
  override name = 'UnsupportedFormatError';
}

const FORMATS: Partial<Record<FormatName, Formatter>> = {
  envelope: (record) => record,
  graph: (record) => record.data,
  ocsf: (record) => toOcsf(record),
};

export function formatterFor(name: FormatName): Formatter {
  const f = FORMATS[name];
  if (!f) throw new UnsupportedFormatError(`format "${name}" is not available in this version (use envelope or graph)`);
  return f;
}
