/**
 * `${VAR}` expansion inside string values of the parsed YAML: never text substitution, so a variable's value cannot
 * change the document's structure (a `:` or newline in a secret stays inside its string).
 *
 * - `${VAR}`: the variable's value; an error when it is not set (set but empty gives "").
 * - `${VAR:-default}`: the default when the variable is unset or empty (as in the shell).
 * - `$${`: a literal `${`.
 * Keys are not expanded. Variable names are `[A-Za-z_][A-Za-z0-9_]*`.
 */
import type { PathSegment } from './schema-walk.js';

export interface PathError {
  path: PathSegment[];
  message: string;
}

export interface ExpandResult {
  /** The data with every string expanded (a failed reference becomes ""). */
  value: unknown;
  errors: PathError[];
  /** Paths (JSON-encoded) of strings that contained a reference: the loader may convert them to numbers. */
  expanded: Set<string>;
}

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{/g;

/** Expands one string. `missing` lists unset variables; `malformed` is set when a `${` starts no valid reference. */
export function expandString(
  text: string,
  env: NodeJS.ProcessEnv,
): { value: string; changed: boolean; missing: string[]; malformed: boolean } {
  const missing: string[] = [];
  let malformed = false;
  let changed = false;
  const value = text.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
    changed = true;
    if (match === '$${') return '${';
    if (name === undefined) {
      malformed = true;
      return '';
    }
    const set = env[name];
    if (fallback !== undefined) return set === undefined || set === '' ? fallback : set;
    if (set === undefined) {
      if (!missing.includes(name)) missing.push(name);
      return '';
    }
    return set;
  });
  return { value, changed, missing, malformed };
}

/** Expands every string value in `data` (a tree of plain objects and arrays from YAML). */
export function expandEnv(data: unknown, env: NodeJS.ProcessEnv): ExpandResult {
  const errors: PathError[] = [];
  const expanded = new Set<string>();
  const visit = (value: unknown, path: PathSegment[]): unknown => {
    if (typeof value === 'string') {
      if (!value.includes('${')) return value;
      const result = expandString(value, env);
      for (const name of result.missing) {
        errors.push({ path, message: `environment variable ${name} is not set` });
      }
      if (result.malformed) {
        errors.push({
          path,
          message: 'malformed ${…} reference: write ${NAME} or ${NAME:-default}, or $${ for a literal ${',
        });
      }
      if (result.missing.length > 0 || result.malformed) return '';
      if (result.changed) expanded.add(JSON.stringify(path));
      return result.value;
    }
    if (Array.isArray(value)) return value.map((item, i) => visit(item, [...path, i]));
    if (typeof value === 'object' && value !== null) {
      // fromEntries keeps a `__proto__` key an own property instead of a prototype.
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, visit(item, [...path, key])]));
    }
    return value;
  };
  return { value: visit(data, []), errors, expanded };
}

const MASK_START = '\uE000';
const MASK_PAD = '\uE001';
const MASK_INDEX_BASE = 0xe100;
const MASK_INDEX_MAX = 0xf7ff - MASK_INDEX_BASE;
const MASKABLE = /(?<!\$)\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}\n]*)?\}/g;
const MASKED = /\uE000([\uE100-\uF7FF])\uE001*/g;

/**
 * YAML reads `{`, `}`, `[`, `]` and `,` as flow indicators, so `{ token: ${HEC_TOKEN} }` would not parse. Before
 * parsing, each well-formed reference is replaced by a placeholder of private-use characters of the same length (so
 * that YAML error columns stay right); `unmask` puts the reference text back into the parsed strings. Variable values
 * are never part of the YAML text: expansion still happens after parsing.
 */
export function maskReferences(text: string): { text: string; unmask: (value: string) => string } {
  const references: string[] = [];
  const identity = { text, unmask: (value: string) => value };
  if (/[\uE000-\uF8FF]/.test(text)) return identity;
  const masked = text.replace(MASKABLE, (reference) => {
    if (references.length > MASK_INDEX_MAX) return reference;
    const index = String.fromCharCode(MASK_INDEX_BASE + references.length);
    references.push(reference);
    return MASK_START + index + MASK_PAD.repeat(reference.length - 2);
  });
  if (references.length === 0) return identity;
  const unmask = (value: string) =>
    value.replace(MASKED, (match, index: string) => references[index.charCodeAt(0) - MASK_INDEX_BASE] ?? match);
  return { text: masked, unmask };
}

/** Applies `fn` to every string in a YAML-parsed tree, keys included. */
export function mapStrings(data: unknown, fn: (value: string) => string): unknown {
  if (typeof data === 'string') return fn(data);
  if (Array.isArray(data)) return data.map((item) => mapStrings(item, fn));
  if (typeof data === 'object' && data !== null) {
    return Object.fromEntries(Object.entries(data).map(([key, item]) => [fn(key), mapStrings(item, fn)]));
  }
  return data;
}
