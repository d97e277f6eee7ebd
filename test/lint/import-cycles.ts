/**
 * Circular imports among the project's own TypeScript files, found with the TypeScript parser (no extra tool): each
 * file's relative `import … from` / `export … from` is resolved to a file (`./x.js` → `./x.ts` or `./x/index.ts`),
 * and a depth-first walk over that graph reports every cycle as the path of files that closes it.
 *
 * Type-only imports (`import type …`, `export type … from`, or `import { type A, type B }` where every name is a
 * type) are left out: TypeScript erases them, so they cannot make one module run before another has finished loading,
 * which is the harm a cycle does (a `const` read before it is initialised, a class `undefined` at `extends`). Dynamic
 * `import()` is left out for the same reason: it runs after both modules have loaded.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** Files (absolute paths) and the files each imports at run time. */
export type ImportGraph = Map<string, string[]>;

/** The runtime relative imports of one file's text, as written (`./x.js`). */
export function runtimeImports(fileName: string, text: string): string[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const out: string[] = [];
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st)) {
      const clause = st.importClause;
      if (clause?.isTypeOnly) continue;
      const named = clause?.namedBindings;
      const onlyTypes =
        clause !== undefined &&
        clause.name === undefined &&
        named !== undefined &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly);
      if (onlyTypes) continue;
      if (ts.isStringLiteral(st.moduleSpecifier)) out.push(st.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier)) {
      if (st.isTypeOnly) continue;
      const named = st.exportClause;
      if (named && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly))
        continue;
      out.push(st.moduleSpecifier.text);
    }
  }
  return out.filter((s) => s.startsWith('./') || s.startsWith('../'));
}

/** The file a relative specifier names, or undefined (a JSON file, a missing one). */
function resolveSpecifier(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  const stem = base.replace(/\.(js|ts|mjs|cjs)$/, '');
  for (const candidate of [`${stem}.ts`, join(base, 'index.ts')]) if (existsSync(candidate)) return candidate;
  return undefined;
}

function tsFilesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFilesUnder(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The import graph of every .ts file under `roots` and of every file they reach. */
export function importGraph(roots: readonly string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  const todo = roots.flatMap(tsFilesUnder);
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (graph.has(file)) continue;
    const deps = runtimeImports(file, readFileSync(file, 'utf8'))
      .map((s) => resolveSpecifier(file, s))
      .filter((d): d is string => d !== undefined);
    graph.set(file, [...new Set(deps)]);
    todo.push(...deps.filter((d) => !graph.has(d)));
  }
  return graph;
}

/**
 * Every cycle the depth-first walk closes, each as the path `a → b → … → a` (relative to `base`), sorted. One cycle
 * per back edge, so a knot of files shows as several overlapping paths.
 */
export function findCycles(graph: ImportGraph, base = process.cwd()): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found = new Set<string>();
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const dep of graph.get(file) ?? []) {
      const s = state.get(dep);
      if (s === 'open') {
        const loop = stack.slice(stack.indexOf(dep));
        // The same loop entered at another file is the same cycle: start it at its smallest name.
        const first = loop.indexOf([...loop].sort()[0]!);
        const rotated = [...loop.slice(first), ...loop.slice(0, first)];
        found.add([...rotated, rotated[0]!].map((f) => relative(base, f)).join(' → '));
      } else if (s === undefined) visit(dep);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  return [...found].sort();
}
