/**
 * The client's browser entry (`pinbase/client` → services/client/index.ts)
 * must load in a browser as plain ES modules: no module it reaches through
 * static imports may import a Node builtin (`node:*`, `fs`, …) or a package.
 * Node-only code (direct routing on undici) is reached only through an
 * `import()` the browser never runs. A package would also need a bundler or
 * an import map; none is on the browser path today, and adding one means
 * adding it to BROWSER_PACKAGES here and to the import map of the browser
 * test (test/system/browser/).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { staticImportGraph, type ExternalImport } from '../../support/static-imports.js';
import { makeTempDir } from '../../support/temp-dir.js';

const ROOT = join(import.meta.dirname, '../../..');
const BROWSER_ENTRY = join(ROOT, 'services/client/index.ts');
const DIRECT_TRANSPORT = join(ROOT, 'services/client/direct-transport.ts');

/** Packages the browser path may import (each needs an entry in the browser test's import map). */
const BROWSER_PACKAGES: ReadonlySet<string> = new Set();

function browserUnsafe(externals: readonly ExternalImport[]): string[] {
  return externals
    .filter((e) => e.kind === 'node-builtin' || !BROWSER_PACKAGES.has(e.packageName!))
    .map((e) => `${e.chain.join(' → ')} → ${e.specifier}`);
}

describe('the client on the browser path', () => {
  it('reaches no Node builtin and no package through static imports from services/client/index.ts', () => {
    const graph = staticImportGraph(BROWSER_ENTRY, { base: ROOT, sources: true });
    expect(browserUnsafe(graph.externals)).toEqual([]);
    expect(graph.files).toContain('services/client/index.ts');
  });

  it('loads direct routing (undici) only through a dynamic import, which the walk sees as Node-only', () => {
    const browser = staticImportGraph(BROWSER_ENTRY, { base: ROOT, sources: true });
    expect(browser.files).not.toContain('services/client/direct-transport.ts');
    expect(existsSync(DIRECT_TRANSPORT)).toBe(true);
    const direct = staticImportGraph(DIRECT_TRANSPORT, { base: ROOT, sources: true });
    expect(direct.externals.map((e) => e.packageName)).toContain('undici');
  });
});

describe('the static import walk', () => {
  let dir: ReturnType<typeof makeTempDir>;
  afterEach(() => dir.remove());

  function write(files: Record<string, string>): void {
    dir = makeTempDir('pinbase-imports-');
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir.path, name, '..'), { recursive: true });
      writeFileSync(join(dir.path, name), text);
    }
  }

  it('finds a Node-only import anywhere on the static graph, with the chain that reaches it', () => {
    write({
      'index.ts': "import { Pool } from 'undici';\nexport * from './a.js';\nexport { b } from './sub/b.js';\nexport const pool = Pool;\n",
      'a.ts': "import './side-effect.js';\nexport const a = 1;\n",
      'side-effect.ts': "import { readFileSync } from 'node:fs';\nreadFileSync;\n",
      'sub/b.ts': "import { type Stats } from 'fs';\nimport path = require('path');\nexport const b = path;\nexport type S = Stats;\n",
    });
    const graph = staticImportGraph(join(dir.path, 'index.ts'), { base: dir.path, sources: true });
    expect(graph.files).toEqual(['index.ts', 'a.ts', 'sub/b.ts', 'side-effect.ts']);
    expect(browserUnsafe(graph.externals)).toEqual([
      'index.ts → undici',
      'index.ts → sub/b.ts → fs',
      'index.ts → sub/b.ts → path',
      'index.ts → a.ts → side-effect.ts → node:fs',
    ]);
  });

  it('does not follow import() or type-only imports and exports', () => {
    write({
      'index.ts': [
        "import type { Pool } from 'undici';",
        "export type { Dispatcher } from 'undici';",
        "export const load = () => import('./direct.js');",
        'export function later() { return import("node:net"); }',
        "import { helper } from './helper.js';",
        'export { helper };',
        'export type P = Pool;',
      ].join('\n'),
      'helper.ts': "import data from './data.json' with { type: 'json' };\nexport const helper = data;\n",
      'direct.ts': "import { Pool } from 'undici';\nexport { Pool };\n",
    });
    const graph = staticImportGraph(join(dir.path, 'index.ts'), { base: dir.path, sources: true });
    expect(graph.files).toEqual(['index.ts', 'helper.ts']);
    expect(graph.externals).toEqual([]);
  });

  it('walks compiled JavaScript by its own file names', () => {
    write({ 'index.js': "export * from './x.js';\n", 'x.js': "import 'node:crypto';\n" });
    const graph = staticImportGraph(join(dir.path, 'index.js'), { base: dir.path, sources: false });
    expect(graph.files).toEqual(['index.js', 'x.js']);
    expect(browserUnsafe(graph.externals)).toEqual(['index.js → x.js → node:crypto']);
  });
});
