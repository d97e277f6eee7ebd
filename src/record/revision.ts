/**
 * Record revisions: the Graph object's own update time (kept verbatim in the record), or a content hash when it has
 * none. Dedup compares revisions of the same key, so timestamps need a form whose string order is time order.
 */
import { createHash } from 'node:crypto';

/** Prefix of content-hash revisions (`sha256:<64 hex>`). */
export const HASH_REVISION_PREFIX = 'sha256:';

/** Graph's finest time unit is 100 ns (.NET ticks): seven fractional digits. */
const FRACTION_DIGITS = 7;

// ISO 8601 date-time: seconds and fraction optional, `.` or `,` as decimal mark, offset `Z`, `±HH:MM` or `±HHMM`.
// No offset is read as UTC: Graph documents every DateTimeOffset as UTC, and its `Z` is sometimes dropped by proxies.
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

/**
 * A sortable canonical form of a timestamp revision: `YYYY-MM-DDTHH:MM:SS.fffffffZ` in UTC with exactly seven
 * fractional digits, so that comparing two results as strings compares the instants, whatever fraction length or
 * offset the originals had. Sub-millisecond digits are kept (the fraction never goes through `Date`); digits beyond
 * the seventh are truncated.
 *
 * @returns null for hash revisions, and for anything that is not a valid date-time (`"String (timestamp)"`,
 *   `2024-02-30T…`, a year outside 0000–9999 once shifted to UTC).
 */
export function revisionOrder(revision: string): string | null {
  if (typeof revision !== 'string') return null;
  const m = TIMESTAMP.exec(revision.trim());
  if (!m) return null;
  const [, ys, mos, ds, hs, mis, ss = '00', frac = '', z, sign, ohs = '00', oms = '00'] = m;
  const year = Number(ys);
  const month = Number(mos);
  const day = Number(ds);
  const hour = Number(hs);
  const minute = Number(mis);
  const second = Number(ss);
  const offsetHours = Number(ohs);
  const offsetMinutes = Number(oms);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return null;
  const offset = z || !sign ? 0 : (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes);

  // Whole seconds only go through Date (exact integers); the fraction is carried over as digits.
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute - offset, second, 0);
  const utcYear = utc.getUTCFullYear();
  if (utcYear < 0 || utcYear > 9999) return null;
  const fraction = frac.slice(0, FRACTION_DIGITS).padEnd(FRACTION_DIGITS, '0');
  return `${utc.toISOString().slice(0, 19)}.${fraction}Z`;
}

/** True when the revision is a content hash rather than a timestamp. */
export function isHashRevision(revision: string): boolean {
  return revision.startsWith(HASH_REVISION_PREFIX);
}

/**
 * The fallback revision: `sha256:<hex>` of the object's canonical JSON, so the same content gives the same revision
 * whatever its key order, and any change of content gives another.
 */
export function contentRevision(obj: unknown): string {
  return HASH_REVISION_PREFIX + createHash('sha256').update(canonicalJson(obj)).digest('hex');
}

/**
 * JSON with object keys sorted (recursively), otherwise as `JSON.stringify` writes it: `undefined` and functions are
 * left out of objects and become `null` in arrays, `toJSON` is honoured.
 */
export function canonicalJson(value: unknown): string {
  return write(value) ?? 'null';
}

function write(value: unknown): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(): unknown }).toJSON();
  }
  if (value === null || typeof value !== 'object') return JSON.stringify(value) as string | undefined;
  if (Array.isArray(value)) return `[${value.map((v) => write(v) ?? 'null').join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    const v = write(obj[k]);
    if (v !== undefined) parts.push(`${JSON.stringify(k)}:${v}`);
  }
  return `{${parts.join(',')}}`;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
