/**
 * Defaults live in the config schema only (issue 14: "no `?? <number>` default for a config key outside its
 * schema"). Once a config has been parsed every key with a default is set, so a `config.max_bytes ?? 1_000_000` in
 * code is a second default that can drift from the schema's. Two greps over src/ and sinks/:
 *
 * - a snake_case property (the spelling of config keys) read with a numeric fallback: `.request_timeout_ms ?? 30_000`;
 * - a camelCase property named after a config key (`pollIntervalMs` for `poll_interval_ms`, the keys taken from
 *   config/schema.json, generated from the schemas) read with a numeric fallback: an option a config value travels in.
 *
 * src/simulator/ is left out: its options configure a test double, not alertbridge. A camelCase name that matches a
 * config key but is not fed from it is listed in NOT_CONFIG with why.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** `file: property` pairs whose camelCase name matches a config key without carrying its value. */
const NOT_CONFIG: Record<string, string> = {
  'src/sources/graph/notification-worker.ts: concurrency':
    'alerts fetched at once by the notification worker, an internal knob (not a sink concurrency)',
  'src/sources/streaming/message.ts: maxBytes':
    "the largest stream event parsed (Event Hubs Standard's limit), a parser option no config key feeds",
};

const SNAKE = /\.([a-z]+(?:_[a-z0-9]+)+)\??\s*\?\?\s*-?[0-9]/g;
const ANY = /\.([a-z][A-Za-z0-9]*)\??\s*\?\?\s*-?[0-9]/g;

const camel = (key: string): string => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function configKeys(): Set<string> {
  const keys = new Set<string>();
  const walk = (o: unknown): void => {
    if (Array.isArray(o)) o.forEach(walk);
    else if (o && typeof o === 'object') {
      for (const [k, v] of Object.entries(o)) {
        if (k === 'properties' && v && typeof v === 'object') for (const key of Object.keys(v)) keys.add(key);
        walk(v);
      }
    }
  };
  walk(JSON.parse(readFileSync('config/schema.json', 'utf8')));
  return keys;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return p === join('src', 'simulator') ? [] : tsFiles(p);
    return name.endsWith('.ts') ? [p] : [];
  });
}

/** `file:line: text` of every numeric fallback on a config key (snake_case, or its camelCase in `camelKeys`). */
export function numberFallbacks(file: string, text: string, camelKeys: ReadonlySet<string>): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    const names = new Set<string>();
    for (const m of line.matchAll(SNAKE)) names.add(m[1]!);
    for (const m of line.matchAll(ANY)) if (camelKeys.has(m[1]!) && !NOT_CONFIG[`${file}: ${m[1]}`]) names.add(m[1]!);
    if (names.size > 0) found.push(`${file}:${i + 1}: ${line.trim()}`);
  });
  return found;
}

describe('numeric defaults outside the schema', () => {
  it('no config key in src/ or sinks/ is read with a `?? <number>` fallback', () => {
    const keys = configKeys();
    expect(keys.has('poll_interval_ms')).toBe(true); // the key list is the real one
    const camelKeys = new Set([...keys].map(camel).filter((k) => /[A-Z]/.test(k) || keys.has(k)));
    const found = ['src', 'sinks']
      .flatMap(tsFiles)
      .flatMap((f) => numberFallbacks(f.split('\\').join('/'), readFileSync(f, 'utf8'), camelKeys));
    expect(
      found,
      'move each default into the zod schema of its key (or, for an option no config key feeds, list it in NOT_CONFIG)',
    ).toEqual([]);
  });

  it('finds snake_case and config-named fallbacks, and leaves other fallbacks alone', () => {
    const text = [
      'const a = config.max_bytes ?? 1_000_000;',
      'const b = config.ack?.timeout_ms ?? 300_000;',
      'const c = this.opts.pollIntervalMs ?? 1000;',
      'const d = reply.code ?? -1;',
      "const e = config.max_bytes ?? 'none';",
      'const f = SEVERITY_ID[r.severity] ?? 0;',
    ].join('\n');
    expect(numberFallbacks('x.ts', text, new Set(['pollIntervalMs']))).toEqual([
      'x.ts:1: const a = config.max_bytes ?? 1_000_000;',
      'x.ts:2: const b = config.ack?.timeout_ms ?? 300_000;',
      'x.ts:3: const c = this.opts.pollIntervalMs ?? 1000;',
    ]);
  });
});
