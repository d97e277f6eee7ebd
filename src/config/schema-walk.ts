/**
 * Walks the zod schema alongside the data, so that the loader can ask "what is expected at `sinks[1].sasl`?" —
 * which keys exist there (for "did you mean"), whether a leaf is a secret or a file path, whether it is a number.
 * Discriminated unions are resolved with the data's discriminator (`type`).
 *
 * It reads zod's `_zod.def`, which zod documents for library authors; only the few wrapper kinds used by the
 * configuration schema are handled.
 */
import type { z } from 'zod';
import { fieldKinds, isRecord, type FieldKind } from './fields.js';

type Schema = z.core.$ZodType;
export type PathSegment = string | number;

interface Def {
  type: string;
  innerType?: Schema;
  in?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  options?: Schema[];
  discriminator?: string;
}

function defOf(schema: Schema): Def {
  return schema._zod.def as unknown as Def;
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

/** Strips wrappers that keep the shape (optional, default, …; a pipe's input side). */
export function unwrap(schema: Schema): Schema {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (WRAPPERS.has(def.type) && def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else return current;
  }
}

/** The secret/path marks of a leaf, found on any of its wrappers. */
export function fieldKindOf(schema: Schema): FieldKind {
  let current = schema;
  for (;;) {
    const kind = fieldKinds.get(current);
    if (kind) return kind;
    const def = defOf(current);
    if (WRAPPERS.has(def.type) && def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else return {};
  }
}

export interface UnionInfo {
  discriminator: string;
  options: string[];
}

/** For a discriminated union: its discriminator and the values it accepts, in order. */
export function unionInfo(schema: Schema): UnionInfo | undefined {
  const def = defOf(unwrap(schema));
  if (def.type !== 'union' || !def.discriminator || !def.options) return undefined;
  const discriminator = def.discriminator;
  const options = def.options.flatMap((option) => [...(option._zod.propValues?.[discriminator] ?? [])].map(String));
  return { discriminator, options };
}

/** The unwrapped schema for `value`, with a discriminated union narrowed to the option `value` names. */
export function resolve(schema: Schema, value: unknown): Schema | undefined {
  const node = unwrap(schema);
  const def = defOf(node);
  if (def.type !== 'union') return node;
  if (!def.discriminator || !def.options || !isRecord(value)) return undefined;
  const tag = value[def.discriminator];
  const option = def.options.find((o) => o._zod.propValues?.[def.discriminator as string]?.has(tag as never));
  return option ? unwrap(option) : undefined;
}

/** The shape of an object schema, or undefined when `schema` is not an object. */
export function objectShape(schema: Schema): Record<string, Schema> | undefined {
  const def = defOf(schema);
  return def.type === 'object' ? def.shape : undefined;
}

/** The element schema of an array schema. */
export function arrayElement(schema: Schema): Schema | undefined {
  const def = defOf(schema);
  return def.type === 'array' ? def.element : undefined;
}

/** The zod kind of a leaf (`string`, `number`, `boolean`, `enum`, …). */
export function leafType(schema: Schema): string {
  return defOf(unwrap(schema)).type;
}

/** The schema expected at `path` in `data` (before resolving a union found there). */
export function schemaAt(root: Schema, data: unknown, path: readonly PathSegment[]): Schema | undefined {
  let schema: Schema | undefined = root;
  let value = data;
  for (const segment of path) {
    const node = resolve(schema, value);
    if (!node) return undefined;
    schema = typeof segment === 'number' ? arrayElement(node) : ownProperty(objectShape(node), segment);
    if (!schema) return undefined;
    value = isRecord(value) || Array.isArray(value) ? (value as Record<PathSegment, unknown>)[segment] : undefined;
  }
  return schema;
}

/** `object[key]` when `key` is the object's own (never `__proto__` or `constructor` from the prototype). */
export function ownProperty<T>(object: Record<string, T> | undefined, key: string): T | undefined {
  return object !== undefined && Object.hasOwn(object, key) ? object[key] : undefined;
}

/** pino-style paths (`sinks[*].sasl.password`) of every secret leaf. */
export function secretLeafPaths(root: Schema): string[] {
  const paths = new Set<string>();
  const visit = (schema: Schema, path: string) => {
    if (fieldKindOf(schema).secret) {
      paths.add(path);
      return;
    }
    const node = unwrap(schema);
    const def = defOf(node);
    if (def.type === 'union') def.options?.forEach((option) => visit(option, path));
    else if (def.type === 'array' && def.element) visit(def.element, `${path}[*]`);
    else if (def.type === 'object' && def.shape) {
      for (const [key, child] of Object.entries(def.shape)) visit(child, path ? `${path}.${key}` : key);
    }
  };
  visit(root, '');
  return [...paths];
}

/** `sinks[1].url`; `config` for the root. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text ? `.${String(segment)}` : String(segment);
  }
  return text || 'config';
}
