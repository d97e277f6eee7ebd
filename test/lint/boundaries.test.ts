/**
 * The import boundaries are enforced, not just written: eslint's no-restricted-imports (eslint.config.js) fires on a
 * wrong-way import, and a sink's folder states no default of its own (defaults live in its config.ts schema).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const eslint = new ESLint({ cwd: root });

/** Lints `code` as if it were the (made-up) file at `segments` under the repository. */
async function restricted(code: string, ...segments: string[]): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, ...segments) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('import boundaries (eslint no-restricted-imports)', () => {
  it('a sink importing from src/ directly is an error', async () => {
    const messages = await restricted(
      "import { createCredential } from '../../src/entra/credential.js';\nexport const c = createCredential;\n",
      'sinks',
      'file',
      'wrong-way.ts',
    );
    expect(messages).toEqual([expect.stringContaining('A sink imports only ../kit.js')]);
  });

  it("a sink importing another sink's folder is an error", async () => {
    const messages = await restricted(
      "import { tlsOptions } from '../kafka/client.js';\nexport const t = tlsOptions;\n",
      'sinks',
      'splunk-hec',
      'wrong-way.ts',
    );
    expect(messages).toHaveLength(1);
  });

  it('a sink importing the kit, the contract, its own folder and npm packages is fine', async () => {
    const code = [
      "import { z } from 'zod';",
      "import { PermanentError } from '../kit.js';",
      "import type { Sink } from '../types.js';",
      "import { FileSinkSchema } from './config.js';",
      'export const all: unknown[] = [z, PermanentError, FileSinkSchema];',
      'export type S = Sink;',
      '',
    ].join('\n');
    expect(await restricted(code, 'sinks', 'file', 'right-way.ts')).toEqual([]);
  });

  it('src/ reaching into a sink folder is an error; the registry and the contract are fine', async () => {
    expect(
      await restricted(
        "import { createKafkaSink } from '../../sinks/kafka/index.js';\nexport const k = createKafkaSink;\n",
        'src',
        'pipeline',
        'wrong-way.ts',
      ),
    ).toEqual([expect.stringContaining('only through sinks/registry.js')]);
    const ok = [
      "import { createSink } from '../../sinks/registry.js';",
      "import type { Sink } from '../../sinks/types.js';",
      'export const c = createSink;',
      'export type S = Sink;',
      '',
    ].join('\n');
    expect(await restricted(ok, 'src', 'pipeline', 'right-way.ts')).toEqual([]);
  });
});

describe('defaults live in the schemas', () => {
  it('no `config.x ?? <number>` default in a sink folder', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.ts'))
          readFileSync(path, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (/\bconfig\.[\w.?]+\s*\?\?\s*-?\d/.test(line))
                offenders.push(`${path.slice(root.length + 1)}:${i + 1}: ${line.trim()}`);
            });
      }
    };
    walk(join(root, 'sinks'));
    expect(offenders).toEqual([]);
  });
});
