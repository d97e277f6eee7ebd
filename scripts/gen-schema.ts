/**
 * Writes the files generated from the configuration schema (src/config/schema.ts):
 *   config/schema.json       the JSON Schema (editors, Helm)
 *   docs/configuration.md    the configuration reference
 * Run with `npm run gen:schema` after changing the schema; test/config/generated.test.ts fails while they are stale.
 */
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigReference } from '../src/config/docs.js';
import { configJsonSchema } from '../src/config/json-schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The generated files, by path relative to the repository root. */
export function generatedFiles(): Record<string, string> {
  return {
    'config/schema.json': `${JSON.stringify(configJsonSchema(), null, 2)}\n`,
    'docs/configuration.md': renderConfigReference(),
  };
}

const invokedAs = process.argv[1];
if (invokedAs && realpathSync(fileURLToPath(import.meta.url)) === realpathSync(invokedAs)) {
  for (const [path, content] of Object.entries(generatedFiles())) {
    const target = join(root, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
    console.log(`wrote ${path}`);
  }
}
