/**
 * The static import graph of an ES module: every module loaded before its
 * first line runs (`import … from`, `import '…'`, `export … from`), followed
 * transitively; `import()` expressions are not followed (they load only when
 * the code runs them, so a browser never fetches a Node-only module behind
 * one it does not call). `import type` / `export type` are left out: they are
 * erased by the compiler (with `verbatimModuleSyntax`, as here, an
 * `import { type A }` is NOT erased: it stays as a side-effect import, and so
 * is followed).
 *
 * Works on TypeScript sources (a `./x.js` specifier is read from `./x.ts`,
 * as the compiler resolves it) and on compiled JavaScript alike.
 */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import ts from 'typescript';

/** What a module imports that is not a relative file: a Node builtin or a package (bare specifier). */
export interface ExternalImport {
  readonly specifier: string;
  readonly kind: 'node-builtin' | 'package';
  /** The package name (`@scope/name` or `name`), for a package. */
  readonly packageName: string | undefined;
  /** The chain of files from the root to the module that imports it (paths relative to `base`). */
  readonly chain: readonly string[];
}

export interface StaticImportGraph {
  /** Every module file reached (relative to `base`), the root first. */
  readonly files: readonly string[];
  readonly externals: readonly ExternalImport[];
}

const builtins = new Set(builtinModules);

/** The specifiers of `file`'s static, non-type-only imports and re-exports. */
export function staticImportSpecifiers(file: string, text: string = readFileSync(file, 'utf8')): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const specifiers: string[] = [];
  // Static imports are top-level statements only; an import() is an expression anywhere.
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement)) {
      if (statement.importClause?.isTypeOnly === true) continue;
      if (ts.isStringLiteral(statement.moduleSpecifier)) specifiers.push(statement.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(statement)) {
      if (statement.isTypeOnly || statement.moduleSpecifier === undefined) continue;
      if (ts.isStringLiteral(statement.moduleSpecifier)) specifiers.push(statement.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(statement) && !statement.isTypeOnly) {
      const reference = statement.moduleReference;
      if (ts.isExternalModuleReference(reference) && ts.isStringLiteral(reference.expression)) specifiers.push(reference.expression.text);
    }
  }
  return specifiers;
}

/**
 * Walks the static import graph from `rootFile`. Relative specifiers are
 * followed (`.js` read as `.ts` when `sources` is true); `.json` modules are
 * leaves. Anything else is recorded as an external import with the chain
 * that reaches it. Each file is read once; cycles are fine.
 */
export function staticImportGraph(rootFile: string, options: { base: string; sources: boolean }): StaticImportGraph {
  const files: string[] = [];
  const externals: ExternalImport[] = [];
  const seen = new Set<string>();
  const queue: { file: string; chain: string[] }[] = [{ file: resolve(rootFile), chain: [] }];
  while (queue.length > 0) {
    const { file, chain } = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const name = relative(options.base, file);
    files.push(name);
    const here = [...chain, name];
    for (const specifier of staticImportSpecifiers(file)) {
      if (specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/')) {
        if (specifier.endsWith('.json')) continue;
        const target = resolve(dirname(file), specifier);
        queue.push({ file: options.sources ? target.replace(/\.js$/, '.ts') : target, chain: here });
      } else {
        externals.push(classify(specifier, here));
      }
    }
  }
  return { files, externals };
}

function classify(specifier: string, chain: readonly string[]): ExternalImport {
  const bare = specifier.startsWith('node:') ? specifier.slice(5) : specifier;
  if (specifier.startsWith('node:') || builtins.has(bare) || builtins.has(bare.split('/')[0]!)) {
    return { specifier, kind: 'node-builtin', packageName: undefined, chain };
  }
  const parts = specifier.split('/');
  const packageName = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return { specifier, kind: 'package', packageName, chain };
}
