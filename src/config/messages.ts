/**
 * Turns zod issues into the one-line messages `alertbridge validate` prints (`sinks[0].format: must be one of
 * envelope, graph, ocsf (got "xml")`). Messages written in the schema (refinements, `error:` options) are kept as
 * they are; zod's defaults are rewritten here, where the path and the data are known.
 *
 * Secrets never appear: a value is quoted only for enums and type names, and never for a secret key.
 */
import type { z } from 'zod';
import { isRecord } from './fields.js';
import type { PathError } from './env.js';
import { isSecretKey } from './schema.js';
import { objectShape, resolve, schemaAt, type PathSegment } from './schema-walk.js';

/** Returned by the per-parse error map: marks the issues whose message this module writes. */
export const DEFAULT_MESSAGE = '\u0000default';

type Schema = z.core.$ZodType;
type Issue = z.core.$ZodIssue;

/** One issue as one or more `{path, message}` (an unknown-keys issue names each key). */
export function issueToErrors(issue: Issue, root: Schema, data: unknown): PathError[] {
  const path = issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment));
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...path, key], message: unknownKey(key, path, root, data) }));
  }
  if (issue.message !== DEFAULT_MESSAGE) return [{ path, message: issue.message }];
  return [{ path, message: defaultMessage(issue, path, data) }];
}

function defaultMessage(issue: Issue, path: PathSegment[], data: unknown): string {
  const secret = isSecretPath(path);
  switch (issue.code) {
    case 'invalid_type': {
      const input = valueAt(data, path);
      if (input === undefined) return 'required';
      if (issue.expected === 'int' && typeof input === 'number') return 'must be a whole number';
      // YAML reads `token: 12345` or `name: true` as a number or boolean: say how to keep it a string.
      const hint =
        issue.expected === 'string' && (typeof input === 'number' || typeof input === 'boolean')
          ? '; put it in quotes'
          : '';
      return `expected ${EXPECTED[issue.expected] ?? issue.expected} (got ${typeName(input)}${hint})`;
    }
    case 'invalid_value': {
      const allowed = issue.values.map((v) => String(v));
      const got = secret ? '' : ` (got ${describeValue(valueAt(data, path))})`;
      if (allowed.length === 1) return `must be ${JSON.stringify(issue.values[0])}${got}`;
      return `must be one of ${allowed.join(', ')}${got}`;
    }
    case 'too_small':
      return tooSmall(issue.origin, Number(issue.minimum), issue.inclusive !== false);
    case 'too_big':
      return tooBig(issue.origin, Number(issue.maximum), issue.inclusive !== false);
    case 'invalid_format':
      return issue.format === 'url' ? 'must be a URL' : `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_union':
      return invalidUnion(issue, path, data);
    default:
      return 'invalid value';
  }
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

function tooSmall(origin: string, minimum: number, inclusive: boolean): string {
  if (origin === 'string') return minimum <= 1 ? 'must not be empty' : `must be at least ${minimum} characters`;
  if (origin === 'array') return minimum <= 1 ? 'must not be empty' : `must have at least ${minimum} entries`;
  return inclusive ? `must be at least ${minimum}` : `must be greater than ${minimum}`;
}

function tooBig(origin: string, maximum: number, inclusive: boolean): string {
  if (origin === 'string') return `must be at most ${maximum} characters`;
  if (origin === 'array') return `must have at most ${maximum} entries`;
  return inclusive ? `must be at most ${maximum}` : `must be less than ${maximum}`;
}

function invalidUnion(issue: Extract<Issue, { code: 'invalid_union' }>, path: PathSegment[], data: unknown): string {
  const extra = issue as { note?: string; options?: unknown[] };
  if (extra.note !== 'No matching discriminator') return 'does not match any allowed form';
  const options = (extra.options ?? []).map(String).join(', ');
  const kind = path[0] === 'sinks' ? 'sink' : path[0] === 'sources' ? 'source' : undefined;
  const value = valueAt(data, path);
  if (value === undefined) return `required (one of ${options})`;
  if (typeof value === 'string' && kind) return `unknown ${kind} type ${JSON.stringify(value)} (one of ${options})`;
  return `must be one of ${options} (got ${describeValue(value)})`;
}

function unknownKey(key: string, path: PathSegment[], root: Schema, data: unknown): string {
  const parent = valueAt(data, path);
  const schema = schemaAt(root, data, path);
  const node = schema ? resolve(schema, parent) : undefined;
  const known = node ? Object.keys(objectShape(node) ?? {}) : [];
  const present = isRecord(parent) ? parent : {};
  const candidates = known.filter((k) => present[k] === undefined);
  const suggestion = closest(key, candidates);
  return suggestion ? `unknown key (did you mean "${suggestion}"?)` : 'unknown key';
}

/** The closest candidate within a small edit distance, comparing case- and separator-insensitively too. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  const normal = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = Math.min(editDistance(word, candidate), editDistance(normal(word), normal(candidate)));
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  const row0 = rows[0] as number[];
  for (let j = 0; j <= b.length; j++) row0[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[];
    const prev = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
      row[j] = value;
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}

function isSecretPath(path: PathSegment[]): boolean {
  return path.some((segment) => typeof segment === 'string' && isSecretKey(segment));
}

/** The value at `path` in plain data, or undefined. */
export function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let value = data;
  for (const segment of path) {
    if (!isRecord(value) && !Array.isArray(value)) return undefined;
    if (!Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<PathSegment, unknown>)[segment];
  }
  return value;
}

/** The YAML-ish name of a value's type: string, number, boolean, null, list, mapping. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'mapping';
  return typeof value;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return `a ${typeName(value)}`;
}
