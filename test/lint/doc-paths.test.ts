/**
 * Docs name files that exist: every `src/…`, `sinks/…`, `test/…`, `bench/…` or `scripts/…` source path (.ts, .js,
 * .lua) written in README.md, docs/*.md, or a comment of the code (src/, sinks/, bench/, scripts/, test/) must be a
 * file of the repository, so a move or a rename that forgets the docs fails here instead of leaving readers a dead
 * reference. A path with a wildcard or a placeholder (`test/helm/*.test.ts`, `sinks/<type>/`) is a pattern, not a
 * file, and is not checked.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The source paths a text names, as written (`src/app.ts`, `../sinks/kit.ts`), with their line numbers. */
export function sourcePaths(text: string): Array<{ path: string; line: number }> {
  const found: Array<{ path: string; line: number }> = [];
  const re = /(?<![\w/.-])((?:\.\.\/)*(?:src|sinks|test|bench|scripts)\/[\w./-]*\.(?:ts|js|lua))(?![\w*<])/g;
  text.split('\n').forEach((l, i) => {
    for (const m of l.matchAll(re)) found.push({ path: m[1]!, line: i + 1 });
  });
  return found;
}

/**
 * Whether `path`, named in `doc`, is a file: `../src/x.ts` relative to the doc (a Markdown link, an import in a
 * script) or, for a sample written from elsewhere (`../../src/x.js` in a test snippet), from the repository root; a
 * `.js` import specifier names its `.ts` source.
 */
function exists(doc: string, path: string): boolean {
  const bare = path.replace(/^(\.\.\/)+/, '');
  const candidates = [normalize(join(dirname(doc), path)), bare];
  return candidates.some((c) => existsSync(c) || (c.endsWith('.js') && existsSync(c.replace(/\.js$/, '.ts'))));
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'results' ? [] : tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The lint tests name files that do not exist on purpose (examples, virtual files given to eslint). */
const LINT_TESTS = join('test', 'lint');

const documents = (): string[] => [
  'README.md',
  ...readdirSync('docs')
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
  ...['src', 'sinks', 'bench', 'scripts', 'test'].flatMap(tsFiles).filter((f) => !f.startsWith(LINT_TESTS)),
];

describe('paths named in the docs', () => {
  it('every source path in README.md, docs/*.md and the code exists', () => {
    const missing: string[] = [];
    let checked = 0;
    for (const doc of documents()) {
      for (const { path, line } of sourcePaths(readFileSync(doc, 'utf8'))) {
        checked++;
        if (!exists(doc, path)) missing.push(`${doc}:${line}: ${path}`);
      }
    }
    expect(checked).toBeGreaterThan(10); // the scan does find the references
    expect(missing).toEqual([]);
  });

  it('finds paths in prose, code spans and links, and leaves patterns alone', () => {
    const text = [
      'See `src/app.ts` and [the kit](../sinks/kit.ts), or test/helm/checks.test.ts:',
      'patterns test/helm/*.test.ts, sinks/<type>/sink.ts and results bench/results/latest.json are not files',
    ].join('\n');
    expect(sourcePaths(text)).toEqual([
      { path: 'src/app.ts', line: 1 },
      { path: '../sinks/kit.ts', line: 1 },
      { path: 'test/helm/checks.test.ts', line: 1 },
    ]);
  });
});
