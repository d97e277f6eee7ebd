/**
 * The slice of OData the Graph security collections need: `$filter` comparisons joined by `and` (time fields with
 * `eq ne gt ge lt le` on unquoted DateTimeOffset literals, equality on enum/string fields), `$orderby`, and integer
 * query options. Anything else is a 400 that says what is supported, so a client relying on more fails loudly here
 * rather than silently against Graph. Times compare at Graph's full 100 ns precision via `revisionOrder`.
 */
import { revisionOrder } from '../record/revision.js';
import type { GraphObject } from './generate.js';

/** A query the simulator rejects; answered 400 BadRequest with this message. */
export class ODataError extends Error {
  override name = 'ODataError';
}

/** Which fields a collection filters on: time fields compare as instants, equality fields as strings (any case). */
export interface FieldSpec {
  time: readonly string[];
  equality: readonly string[];
  /**
   * Graph's documented operators only (graph-like mode): time fields `eq gt ge lt le`, other fields `eq` and `in`;
   * `ne` is refused.
   */
  strict?: boolean;
}

type Comparison = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
type Literal = { kind: 'time'; order: string } | { kind: 'string'; value: string } | { kind: 'null' };

/** A parsed `$filter`: comparisons (and `field in ('a','b')`) joined by `and`. */
export type Filter =
  { and: Filter[] } | { field: string; op: Comparison; value: Literal } | { field: string; op: 'in'; values: string[] };

const COMPARISONS = new Set<string>(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;
// Strings ('' escapes a quote), parentheses and commas, then bare words (identifiers with '/', literals, keywords).
const TOKEN = /\s*(?:('(?:[^']|'')*')|([(),])|([^\s(),']+))/y;

/** Parses `$filter` for a collection; throws {@link ODataError} for anything outside `spec`. */
export function parseFilter(text: string, spec: FieldSpec): Filter {
  const tokens = tokenize(text);
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const next = (what: string): string => {
    const t = tokens[i++];
    if (t === undefined) throw new ODataError(`Invalid $filter '${text}': expected ${what} at the end.`);
    return t;
  };
  const conjunction = (): Filter => {
    const parts = [term()];
    while (peek() !== undefined && peek() !== ')') {
      const word = next("'and'");
      if (word.toLowerCase() !== 'and') {
        throw new ODataError(
          `Invalid $filter '${text}': '${word}' is not supported by the simulator (supported: comparisons joined by 'and').`,
        );
      }
      parts.push(term());
    }
    return parts.length === 1 ? (parts[0] as Filter) : { and: parts };
  };
  const term = (): Filter => {
    const first = next('a comparison');
    if (first === '(') {
      const inner = conjunction();
      if (next("')'") !== ')') throw new ODataError(`Invalid $filter '${text}': expected ')'.`);
      return inner;
    }
    if (peek() === '(' || /^not$/i.test(first)) {
      throw new ODataError(
        `Invalid $filter '${text}': '${first}' is not supported by the simulator (supported: comparisons joined by 'and').`,
      );
    }
    const op = next('an operator').toLowerCase();
    if (op === 'in') return inList(first);
    if (spec.strict && op === 'ne')
      throw new ODataError(`Invalid filter clause: the operator 'ne' is not supported for property '${first}'.`);
    if (!COMPARISONS.has(op))
      throw new ODataError(`Invalid $filter '${text}': unsupported operator '${op}' (supported: eq ne gt ge lt le).`);
    return comparison(first, op as Comparison, next('a value'), spec, text);
  };
  // `field in ('a', 'b')`: equality fields only.
  const inList = (field: string): Filter => {
    if (!spec.equality.includes(field))
      throw new ODataError(`Invalid $filter '${text}': 'in' applies to ${spec.equality.join(', ')}, not '${field}'.`);
    if (next("'('") !== '(')
      throw new ODataError(`Invalid $filter '${text}': 'in' takes a parenthesized list of quoted strings.`);
    const values: string[] = [];
    for (;;) {
      const v = next('a quoted string');
      if (!v.startsWith("'"))
        throw new ODataError(`Invalid $filter '${text}': 'in' takes a parenthesized list of quoted strings.`);
      values.push(v.slice(1, -1).replace(/''/g, "'"));
      const sep = next("',' or ')'");
      if (sep === ')') return { field, op: 'in', values };
      if (sep !== ',') throw new ODataError(`Invalid $filter '${text}': expected ',' or ')' in the 'in' list.`);
    }
  };
  const filter = conjunction();
  if (i < tokens.length) throw new ODataError(`Invalid $filter '${text}': unexpected '${tokens[i]}'.`);
  return filter;
}

function comparison(field: string, op: Comparison, raw: string, spec: FieldSpec, text: string): Filter {
  if (spec.time.includes(field)) {
    if (!DATETIME.test(raw)) {
      throw new ODataError(
        `Invalid $filter '${text}': ${field} compares with an unquoted DateTimeOffset literal such as 2024-05-01T08:00:00.1234567Z, not ${raw}.`,
      );
    }
    const order = revisionOrder(raw);
    if (order === null) throw new ODataError(`Invalid $filter '${text}': '${raw}' is not a valid DateTimeOffset.`);
    return { field, op, value: { kind: 'time', order } };
  }
  if (spec.equality.includes(field)) {
    if (op !== 'eq' && op !== 'ne')
      throw new ODataError(
        `Invalid $filter '${text}': ${field} supports only ${spec.strict ? "eq and 'in'" : 'eq, ne and in'}.`,
      );
    if (raw === 'null') return { field, op, value: { kind: 'null' } };
    if (!raw.startsWith("'"))
      throw new ODataError(`Invalid $filter '${text}': ${field} compares with a quoted string such as 'high'.`);
    return { field, op, value: { kind: 'string', value: raw.slice(1, -1).replace(/''/g, "'") } };
  }
  const fields = [...spec.time, ...spec.equality].join(', ');
  throw new ODataError(
    `Invalid $filter '${text}': the property '${field}' is not supported in $filter here (simulator supports: ${fields}).`,
  );
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) {
      if (text.slice(start).trim() === '') break;
      throw new ODataError(`Invalid $filter '${text}': unterminated string.`);
    }
    tokens.push((m[1] ?? m[2] ?? m[3]) as string);
  }
  return tokens;
}

/** True when `obj` satisfies `filter`. */
export function matches(filter: Filter, obj: GraphObject): boolean {
  if ('and' in filter) return filter.and.every((f) => matches(f, obj));
  const actual = getPath(obj, filter.field);
  if (filter.op === 'in')
    return typeof actual === 'string' && filter.values.some((v) => v.toLowerCase() === actual.toLowerCase());
  const { value, op } = filter;
  if (value.kind === 'null') return op === 'eq' ? actual == null : actual != null;
  if (value.kind === 'string') {
    const equal = typeof actual === 'string' && actual.toLowerCase() === value.value.toLowerCase();
    return op === 'eq' ? equal : !equal;
  }
  const order = typeof actual === 'string' ? revisionOrder(actual) : null;
  if (order === null) return op === 'ne';
  switch (op) {
    case 'eq':
      return order === value.order;
    case 'ne':
      return order !== value.order;
    case 'gt':
      return order > value.order;
    case 'ge':
      return order >= value.order;
    case 'lt':
      return order < value.order;
    case 'le':
      return order <= value.order;
  }
}

/** The values a filter pins `field` to with `eq` at its top level (e.g. the providers a legacy query asks for). */
export function pinnedValues(filter: Filter | null, field: string): string[] | null {
  if (!filter) return null;
  const parts = 'and' in filter ? filter.and : [filter];
  for (const p of parts) {
    if ('and' in p || p.field !== field) continue;
    if (p.op === 'in') return p.values;
    if (p.op === 'eq' && p.value.kind === 'string') return [p.value.value];
  }
  return null;
}

/** A value at an OData path (`vendorInformation/provider`). */
export function getPath(obj: GraphObject, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('/')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** One `$orderby` key. */
export interface OrderKey {
  field: string;
  desc: boolean;
}

/** Parses `$orderby=field [asc|desc][, …]` over the collection's filterable fields. */
export function parseOrderBy(text: string, spec: FieldSpec): OrderKey[] {
  return text.split(',').map((part) => {
    const m = /^\s*([\w/]+)(?:\s+(asc|desc))?\s*$/i.exec(part);
    if (!m) throw new ODataError(`Invalid $orderby '${text}': expected 'field asc' or 'field desc'.`);
    const field = m[1] as string;
    if (![...spec.time, ...spec.equality, 'id'].includes(field)) {
      throw new ODataError(`Invalid $orderby '${text}': cannot order by '${field}' here.`);
    }
    return { field, desc: m[2]?.toLowerCase() === 'desc' };
  });
}

/** A comparator for `keys`: times as instants, other values as text, missing values first. */
export function comparator(keys: readonly OrderKey[], spec: FieldSpec): (a: GraphObject, b: GraphObject) => number {
  return (a, b) => {
    for (const { field, desc } of keys) {
      const c = compareValues(sortValue(a, field, spec), sortValue(b, field, spec));
      if (c !== 0) return desc ? -c : c;
    }
    return 0;
  };
}

/** The comparable form of a field: canonical time order for time fields, lower-case text otherwise. */
export function sortValue(obj: GraphObject, field: string, spec: FieldSpec): string | null {
  const v = getPath(obj, field);
  if (v === null || v === undefined) return null;
  if (spec.time.includes(field)) return typeof v === 'string' ? revisionOrder(v) : null;
  return String(v).toLowerCase();
}

export function compareValues(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** A non-negative integer query option (`$top`, `$skip`); undefined when absent. */
export function intOption(query: Record<string, string>, name: string): number | undefined {
  const raw = query[name];
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim()))
    throw new ODataError(`Invalid value '${raw}' for query option ${name}: a non-negative integer is expected.`);
  return Number(raw.trim());
}
