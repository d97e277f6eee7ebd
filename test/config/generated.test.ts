/** The files generated from the schema are up to date, and the schema describes every field. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generatedFiles } from '../../scripts/gen-schema.js';
import { configJsonSchema } from '../../src/config/json-schema.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

describe('generated files', () => {
  for (const [path, expected] of Object.entries(generatedFiles())) {
    it(`${path} is up to date`, () => {
      let actual = '';
      try {
        actual = readFileSync(join(repo, path), 'utf8');
      } catch {
        // reported below
      }
      if (actual !== expected) {
        expect.fail(`${path} is stale or missing: run \`npm run gen:schema\` and commit the result`);
      }
    });
  }
});

describe('JSON Schema', () => {
  const schema = configJsonSchema();

  it('is a titled draft 2020-12 schema that rejects unknown keys', () => {
    expect(schema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'alertbridge configuration',
      additionalProperties: false,
      required: ['sinks'],
    });
  });

  it('describes every field', () => {
    const undocumented: string[] = [];
    const visit = (node: unknown, path: string) => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Record<string, unknown>;
      for (const [key, child] of Object.entries((n.properties ?? {}) as Record<string, unknown>)) {
        if (!(child as { description?: string }).description) undocumented.push(`${path}.${key}`);
        visit(child, `${path}.${key}`);
      }
      for (const option of [...((n.oneOf ?? []) as unknown[]), ...((n.anyOf ?? []) as unknown[])]) visit(option, path);
      if (n.items) visit(n.items, `${path}[]`);
    };
    visit(schema, 'config');
    expect(undocumented).toEqual([]);
  });
});

describe('descriptions say what the code does', () => {
  it('dead_letter.max_entries: a full queue drops nothing (sink-worker keeps the records queued; see delivery.test.ts)', () => {
    const text = JSON.stringify(configJsonSchema());
    const described = [...text.matchAll(/"max_entries":\{[^}]*"description":"([^"]*)"/g)].map((m) => m[1]!);
    expect(described.length).toBeGreaterThan(0);
    for (const d of described) {
      expect(d).not.toMatch(/dropped first|drops? the oldest/i);
      expect(d).toMatch(/Nothing is ever dropped/);
      expect(d).toContain('alertbridge_dead_letter_full_total');
    }
  });
});
