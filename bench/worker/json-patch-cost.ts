/**
 * What the costliest JSON Patches cost to apply, on a document at the node
 * limit (DOCUMENT_STRUCTURE.maxNodes): the numbers in docs/ARCHITECTURE.md.
 * Run: npm run build && node dist/bench/worker/json-patch-cost.js
 *      node dist/bench/worker/json-patch-cost.js --quick   # CI smoke: the same cases, one round each instead of the median of 7
 */
import { applyJsonPatch, MAX_PATCH_OPS } from '../../services/partition/json-patch.js';
import { DOCUMENT_STRUCTURE } from '../../services/partition/json-structure.js';

/** An object of distinct members that holds `nodes` nodes (itself and its members). */
function wideObject(nodes: number): Record<string, number> {
  const result: Record<string, number> = {};
  for (let i = 0; i < nodes - 1; i++) result[`k${i}`] = i;
  return result;
}

/** The median time of applying `patch` to a fresh `document()` (made before the clock starts), which throws when `throws`. */
function medianMs(document: () => unknown, patch: unknown[], throws: boolean, rounds: number): number {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const target = document();
    const start = performance.now();
    let threw = false;
    try {
      applyJsonPatch(target, patch);
    } catch {
      threw = true;
    }
    times.push(performance.now() - start);
    if (threw !== throws) throw new Error(`expected the patch ${throws ? 'to be refused' : 'to apply'}`);
  }
  return times.sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
}

const ROUNDS = process.argv.includes('--quick') ? 1 : 7;
const limit = DOCUMENT_STRUCTURE.maxNodes;
/** The most items an array of a 1 MiB document holds (`0,` each). */
const longest = 512 * 1024 - 16;
const half = (): Record<string, unknown> => ({ a: wideObject(limit / 2 - 2) });
const cases: [string, () => unknown, unknown[], boolean][] = [
  [
    `${MAX_PATCH_OPS} copies of a ${limit / 2}-node subtree (refused at the copy budget)`,
    half,
    Array.from({ length: MAX_PATCH_OPS }, (_, i) => ({ op: 'copy', from: '/a', path: `/c${i}` })),
    true,
  ],
  [
    `${MAX_PATCH_OPS} moves of a ${limit / 2}-node subtree, deeper and back (refused at the walk budget)`,
    () => ({ ...half(), box: {} }),
    Array.from({ length: MAX_PATCH_OPS }, (_, i) => (i % 2 === 0 ? { op: 'move', from: '/a', path: '/box/a' } : { op: 'move', from: '/box/a', path: '/a' })),
    true,
  ],
  [
    `${MAX_PATCH_OPS} inserts at the front of a ${longest}-item array (1 MiB of numbers; refused at the shift budget)`,
    () => ({ list: Array<number>(longest).fill(0) }),
    Array.from({ length: MAX_PATCH_OPS }, () => ({ op: 'add', path: '/list/0', value: 0 })),
    true,
  ],
  [
    `${MAX_PATCH_OPS} inserts at the front of a ${limit}-item array (refused at the shift budget)`,
    () => ({ list: Array<number>(limit).fill(0) }),
    Array.from({ length: MAX_PATCH_OPS }, () => ({ op: 'add', path: '/list/0', value: 0 })),
    true,
  ],
  [
    `a test of a whole ${limit}-node document`,
    () => wideObject(limit),
    [{ op: 'test', path: '', value: wideObject(limit) }],
    false,
  ],
  [
    `${MAX_PATCH_OPS} replaces of members of a ${limit}-node document`,
    () => wideObject(limit),
    Array.from({ length: MAX_PATCH_OPS }, (_, i) => ({ op: 'replace', path: `/k${i}`, value: { v: i } })),
    false,
  ],
];

for (const [name, document, patch, throws] of cases) {
  console.log(`${medianMs(document, patch, throws, ROUNDS).toFixed(1).padStart(7)} ms  ${name}`);
}
