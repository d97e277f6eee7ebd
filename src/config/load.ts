/**
 * Loading a configuration file: YAML → `${VAR}` expansion → `*_file` secrets → validation of everything at once →
 * a deep-frozen `Config`. Every problem is reported, each as one line `path: message` (`sinks[1].url: must be an
 * http:// or https:// URL`; `config: …` for the file as a whole), in the order they appear in the file.
 *
 * Relative paths in the file (`*_file`, `ca_file`, the file sink's `path`) are relative to the file's folder; the
 * loaded config holds them absolute.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import { isNode, parseDocument, type Document, type YAMLError } from 'yaml';
import { expandEnv, mapStrings, maskReferences, type PathError } from './env.js';
import { isRecord } from './fields.js';
import { DEFAULT_MESSAGE, issueToErrors, typeName } from './messages.js';
import { ConfigSchema, SECRET_KEYS, type Config } from './schema.js';
import {
  arrayElement,
  fieldKindOf,
  formatPath,
  leafType,
  objectShape,
  ownProperty,
  resolve,
  type PathSegment,
} from './schema-walk.js';
import type { z } from 'zod';

export { SECRET_KEYS, SECRET_PATHS } from './schema.js';

export type LoadResult = { ok: true; config: Readonly<Config> } | { ok: false; errors: string[] };

export interface ParseOptions {
  /** Variables for `${VAR}`; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Folder that relative paths (`*_file`, `ca_file`, file sink `path`) are resolved against. */
  baseDir: string;
  /** Name of the file, for messages about the document as a whole. */
  fileName?: string;
}

/** Reads and validates a configuration file. Never throws for a bad file: problems come back as `errors`. */
export async function loadConfigFile(path: string, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<LoadResult> {
  const absolute = resolvePath(path);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    return { ok: false, errors: [`config: cannot read ${path}: ${ioReason(error)}`] };
  }
  return parseConfig(text, { env: opts.env, baseDir: dirname(absolute), fileName: path });
}

/**
 * Validates configuration text. Synchronous: secret files are small and read once at boot. Never throws for bad
 * input.
 */
export function parseConfig(text: string, opts: ParseOptions): LoadResult {
  const masked = maskReferences(text);
  const doc = parseDocument(masked.text, { merge: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    // After a syntax error the parser's further errors are mostly its consequences: report the first one, plus
    // duplicate keys, which are independent mistakes.
    const firstSyntax = doc.errors.find((error) => error.code !== 'DUPLICATE_KEY');
    const reported = doc.errors
      .filter((error) => error === firstSyntax || error.code === 'DUPLICATE_KEY')
      .sort((a, b) => a.pos[0] - b.pos[0]);
    return { ok: false, errors: reported.map((error) => yamlErrorLine(error, masked.unmask)) };
  }
  let data: unknown;
  try {
    data = mapStrings(doc.toJS({ maxAliasCount: 1000 }), masked.unmask);
  } catch (error) {
    return { ok: false, errors: [`config: invalid YAML: ${(error as Error).message}`] };
  }
  if (data === null || data === undefined) {
    return { ok: false, errors: [`config: ${opts.fileName ?? 'the configuration'} is empty`] };
  }
  if (!isRecord(data)) {
    return {
      ok: false,
      errors: [`config: expected a mapping of sections (redis, server, sources, sinks, …) (got ${typeName(data)})`],
    };
  }

  const expanded = expandEnv(data, opts.env ?? process.env);
  const errors: PathError[] = [...expanded.errors];
  const context: PrepareContext = {
    baseDir: opts.baseDir,
    expanded: expanded.expanded,
    errors,
    suppressed: errors.map((e) => e.path),
  };
  const input = prepare(ConfigSchema, expanded.value, [], context);

  const result = ConfigSchema.safeParse(input, { error: () => DEFAULT_MESSAGE });
  if (!result.success) {
    for (const issue of result.error.issues) {
      for (const error of issueToErrors(issue, ConfigSchema, input)) {
        if (!context.suppressed.some((prefix) => startsWith(error.path, prefix))) errors.push(error);
      }
    }
  }
  if (errors.length > 0 || !result.success) {
    const lines = inDocumentOrder(errors, doc).map((e) => `${formatPath(e.path)}: ${e.message}`);
    return { ok: false, errors: [...new Set(lines)] };
  }
  return { ok: true, config: deepFreeze(result.data) };
}

/** The line `alertbridge validate` prints on success. */
export function summarizeConfig(config: Readonly<Config>): string {
  const list = (items: readonly { name: string; type: string }[], noun: string) => {
    const head = `${items.length} ${noun}${items.length === 1 ? '' : 's'}`;
    return items.length === 0 ? head : `${head} (${items.map((i) => `${i.name}: ${i.type}`).join(', ')})`;
  };
  // A source with tenants is one entry, `mssp: graph_security, 50 tenants`, as it was written.
  const sources: { name: string; type: string }[] = [];
  const tenants = new Map<string, { name: string; type: string; count: number }>();
  for (const s of config.sources) {
    const group = s.type === 'graph_security' ? s.tenant_of?.source : undefined;
    if (group === undefined) {
      sources.push(s);
      continue;
    }
    const entry = tenants.get(group) ?? { name: group, type: '', count: 0 };
    entry.count++;
    entry.type = `graph_security, ${entry.count} tenant${entry.count === 1 ? '' : 's'}`;
    if (!tenants.has(group)) sources.push(entry);
    tenants.set(group, entry);
  }
  return `config OK: ${list(sources, 'source')}, ${list(config.sinks, 'sink')}`;
}

/** A deep copy with every secret value replaced by `[redacted]`, for printing or logging a config. */
export function redactSecrets<T>(value: T): T {
  const visit = (item: unknown): unknown => {
    if (Array.isArray(item)) return item.map(visit);
    if (!isRecord(item)) return item;
    return Object.fromEntries(
      Object.entries(item).map(([key, v]) => [
        key,
        (SECRET_KEYS as readonly string[]).includes(key) && v !== undefined ? '[redacted]' : visit(v),
      ]),
    );
  };
  return visit(value) as T;
}

interface PrepareContext {
  baseDir: string;
  /** JSON-encoded paths of strings that came out of `${VAR}` expansion. */
  expanded: Set<string>;
  errors: PathError[];
  /** Paths already reported by the loader: zod's issues under them would only repeat the problem. */
  suppressed: PathSegment[][];
}

type Schema = z.core.$ZodType;

/**
 * Schema-aware pass before zod: reads `*_file` secrets, makes paths absolute, and turns `${VAR}`-expanded strings
 * into numbers or booleans where the schema expects one (`max_events: ${HEC_MAX_EVENTS}`).
 */
function prepare(schema: Schema, value: unknown, path: PathSegment[], ctx: PrepareContext): unknown {
  const node = resolve(schema, value);
  if (!node) return value;
  const shape = objectShape(node);
  if (shape) {
    if (!isRecord(value)) return value;
    for (const [key, child] of Object.entries(shape)) {
      if (fieldKindOf(child).secret && ownProperty(shape, `${key}_file`) && value[`${key}_file`] !== undefined) {
        readSecretFile(value, key, path, ctx);
      }
    }
    for (const [key, item] of Object.entries(value)) {
      const child = ownProperty(shape, key);
      if (child) value[key] = prepare(child, item, [...path, key], ctx);
    }
    return value;
  }
  const element = arrayElement(node);
  if (element) return Array.isArray(value) ? value.map((item, i) => prepare(element, item, [...path, i], ctx)) : value;

  if (typeof value !== 'string') return value;
  if (ctx.expanded.has(JSON.stringify(path))) {
    const type = leafType(node);
    if (type === 'number' && /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(value.trim())) return Number(value);
    if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  }
  if (fieldKindOf(schema).path && value !== '' && value !== '-') return resolvePath(ctx.baseDir, value);
  return value;
}

/** Exactly one of `key` and `key_file`; the file's content (trailing newlines removed) goes into `key`. */
function readSecretFile(object: Record<string, unknown>, key: string, path: PathSegment[], ctx: PrepareContext): void {
  const fileKey = `${key}_file`;
  const file = object[fileKey];
  if (typeof file !== 'string' || file === '') return; // zod reports the type
  const fail = (at: string, message: string) => {
    ctx.errors.push({ path: [...path, at], message });
    ctx.suppressed.push([...path, key], [...path, fileKey]);
  };
  if (object[key] !== undefined) {
    fail(key, `set either ${key} or ${fileKey}, not both`);
    return;
  }
  const absolute = resolvePath(ctx.baseDir, file);
  object[fileKey] = absolute;
  let content: string;
  try {
    content = readFileSync(absolute, 'utf8').replace(/[\r\n]+$/, '');
  } catch (error) {
    fail(fileKey, `cannot read ${absolute}: ${ioReason(error)}`);
    return;
  }
  if (content === '') {
    fail(fileKey, `${absolute} is empty`);
    return;
  }
  object[key] = content;
}

/**
 * `config: invalid YAML at line L, column C: message`. yaml's messages end with an excerpt of the file, or quote the
 * offending token: both may be a secret, so both are cut.
 */
function yamlErrorLine(error: YAMLError, unmask: (text: string) => string): string {
  const message = unmask(
    (error.message.split('\n')[0] ?? '')
      .replace(/ at line \d+, column \d+:.*$/, '')
      .replace(/: ".*$/, '')
      .replace(/^(Block scalar header includes extra characters|Not a YAML token):.*$/, '$1'),
  );
  const where = error.linePos?.[0];
  return where
    ? `config: invalid YAML at line ${where.line}, column ${where.col}: ${message}`
    : `config: invalid YAML: ${message}`;
}

function ioReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (error as Error).message;
}

function startsWith(path: readonly PathSegment[], prefix: readonly PathSegment[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => path[i] === segment);
}

/** Sorts errors by where their path (or its nearest existing parent) starts in the file; stable otherwise. */
function inDocumentOrder(errors: PathError[], doc: Document): PathError[] {
  const offset = (path: PathSegment[]): number => {
    for (let length = path.length; length > 0; length--) {
      const node: unknown = doc.getIn(path.slice(0, length), true);
      if (isNode(node) && node.range) return node.range[0];
    }
    return -1;
  };
  return errors
    .map((error, index) => ({ error, index, at: offset(error.path) }))
    .sort((a, b) => a.at - b.at || a.index - b.index)
    .map((entry) => entry.error);
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
