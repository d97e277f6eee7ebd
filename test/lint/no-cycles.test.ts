/**
 * No circular imports in src/, sinks/, bench/ and scripts/ (issue 14: a lint rule for no cycles). The checker is
 * test/lint/import-cycles.ts; a failure lists each cycle as the path of files that closes it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findCycles, importGraph, runtimeImports } from './import-cycles.js';

describe('import cycles', () => {
  it('there are none in src/, sinks/, bench/ or scripts/', () => {
    const graph = importGraph(['src', 'sinks', 'bench', 'scripts']);
    expect(graph.size).toBeGreaterThan(50); // the walk did find the project's files
    expect(findCycles(graph)).toEqual([]);
  });

  describe('the checker', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ab-cycles-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const write = (files: Record<string, string>) => {
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(join(dir, name, '..'), { recursive: true });
        writeFileSync(join(dir, name), text);
      }
    };

    it('finds a cycle through three files and a folder index, and prints its path', () => {
      write({
        'knot/a.ts': "import { b } from './b.js';\nexport const a = b + 1;\n",
        'knot/b.ts': "export { c as b } from './c/index.js';\n",
        'knot/c/index.ts': "import { a } from '../a.js';\nexport const c = a;\n",
        'knot/d.ts': "import { a } from './a.js';\nexport const d = a;\n",
      });
      expect(findCycles(importGraph([join(dir, 'knot')]), dir)).toEqual([
        `knot/a.ts → knot/b.ts → ${join('knot', 'c', 'index.ts')} → knot/a.ts`,
      ]);
    });

    it('finds a file importing itself', () => {
      write({ 'self/s.ts': "import './s.js';\nexport const s = 1;\n" });
      expect(findCycles(importGraph([join(dir, 'self')]), dir)).toEqual(['self/s.ts → self/s.ts']);
    });

    it('leaves out type-only imports (erased by TypeScript) and packages', () => {
      write({
        'types/x.ts':
          "import type { Y } from './y.js';\nimport { z } from 'zod';\nexport type X = Y;\nexport const x = z;\n",
        'types/y.ts':
          "import { type X } from './x.js';\nexport type { X as Z } from './x.js';\nexport interface Y { x?: X }\n",
      });
      expect(findCycles(importGraph([join(dir, 'types')]), dir)).toEqual([]);
      expect(runtimeImports('m.ts', "import { type A, b } from './a.js';\nexport * from './c.js';\n")).toEqual([
        './a.js',
        './c.js',
      ]);
    });
  });
});
