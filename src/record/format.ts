/**
 * Output formats a sink can be configured with (`format`). `envelope` is the record itself; `graph` is the Graph
 * object verbatim; `ocsf` is an OCSF Detection Finding (see `ocsf.ts`). Health records (src/health/) are their
 * condition object in `graph` and an OCSF Application Error in `ocsf`; write-back outcome records (src/sync/) their
 * outcome object in `graph` and an OCSF API Activity in `ocsf`.
 */
import { healthToOcsf } from '../health/ocsf.js';
import { outcomeToOcsf } from '../sync/ocsf.js';
import { toOcsf } from './ocsf.js';
import { dataJson, recordJson } from './stored.js';
import { HEALTH, SYNC_OUTCOMES, type AlertRecord } from './types.js';

export type FormatName = 'envelope' | 'graph' | 'ocsf';
/** A record as a JSON-serializable value in the sink's format. */
export type Formatter = (record: AlertRecord) => unknown;
/** A record as JSON text in the sink's format: what a sink puts on the wire. */
export type Encoder = (record: AlertRecord) => string;

export class UnsupportedFormatError extends Error {
  override name = 'UnsupportedFormatError';
}

interface Format {
  format: Formatter;
  /** Reuses the text the record was stored as (src/record/stored.ts) where the format is that text. */
  encode: Encoder;
}

const FORMATS: Record<FormatName, Format> = {
  envelope: { format: (record) => record, encode: recordJson },
  graph: { format: (record) => record.data, encode: dataJson },
  ocsf: { format: (record) => ocsf(record), encode: (record) => JSON.stringify(ocsf(record)) },
};

/**
 * Health records (src/health/) are OCSF Application Errors, write-back outcomes (src/sync/) API Activity; the rest
 * Detection Findings.
 */
function ocsf(record: AlertRecord): unknown {
  const resource = record.resource as string;
  if (resource === HEALTH) return healthToOcsf(record);
  if (resource === SYNC_OUTCOMES) return outcomeToOcsf(record);
  return toOcsf(record);
}

function lookup(name: FormatName): Format {
  const f = FORMATS[name] as Format | undefined;
  if (!f) throw new UnsupportedFormatError(`unknown format "${String(name)}" (use envelope, graph or ocsf)`);
  return f;
}

export function formatterFor(name: FormatName): Formatter {
  return lookup(name).format;
}

export function encoderFor(name: FormatName): Encoder {
  return lookup(name).encode;
}

/** What a sink is handed for its `format`: the value form and the text form. */
export function sinkFormat(name: FormatName): { format: Formatter; encode: Encoder } {
  return { ...lookup(name) };
}
