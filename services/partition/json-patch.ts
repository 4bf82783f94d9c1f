import { PinbaseError } from '../problem/pinbase-error.js';
import { parsePointer } from './json-pointer.js';
import { DOCUMENT_STRUCTURE } from './json-structure.js';

/** Most operations one JSON Patch may hold (also the body schemas' maxItems). */
export const MAX_PATCH_OPS = 1000;

/**
 * Most objects, arrays and members that the operations of one JSON Patch
 * may walk beyond their own value: what `copy` copies, and what a `move`
 * to a deeper place walks to check its depth. Twice a document's node
 * limit: enough to copy or move the largest document twice. Without it,
 * 1000 copies of the document into itself would double it 1000 times, and
 * 1000 moves of a large subtree back and forth would walk it 1000 times.
 */
export const MAX_PATCH_WALKED_NODES = 2 * DOCUMENT_STRUCTURE.maxNodes;

/**
 * Most array items the operations of one JSON Patch may shift: an insert
 * or a removal at index i of an array of n items shifts its n − i items
 * after i. A 1 MiB document holds an array of up to ~512 Ki numbers, and
 * 1000 inserts at its front would shift 512 Mi items (about a second);
 * 8 Mi allows 16 such inserts (measured: bench/worker/json-patch-cost.ts).
 */
export const MAX_PATCH_SHIFTED_ITEMS = 8 * 1024 * 1024;

/** One RFC 6902 operation, as checked by parseJsonPatch. */
export type JsonPatchOperation =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };

/**
 * What the JSON Patches of one write may cost beyond their own size: the
 * nodes copies and deeper moves walk (MAX_PATCH_WALKED_NODES, or charged
 * to `chargeWalk` instead: a transaction's own budget), and the array
 * items inserts and removals shift (MAX_PATCH_SHIFTED_ITEMS). Beyond
 * either: invalid_body. One budget serves every patch of a transaction.
 */
export class PatchBudget {
  private walked = 0;
  private shifted = 0;

  constructor(private readonly chargeWalk?: (nodes: number) => void) {}

  walk(nodes: number): void {
    if (this.chargeWalk) {
      this.chargeWalk(nodes);
      return;
    }
    this.walked += nodes;
    if (this.walked > MAX_PATCH_WALKED_NODES) {
      throw new PinbaseError(
        'invalid_body',
        `the copy and move operations of a JSON Patch may copy or move at most ${MAX_PATCH_WALKED_NODES} objects, arrays and members together`,
      );
    }
  }

  shift(items: number): void {
    this.shifted += items;
    if (this.shifted > MAX_PATCH_SHIFTED_ITEMS) {
      throw new PinbaseError(
        'invalid_body',
        `the inserts into and removals from arrays of a JSON Patch may shift at most ${MAX_PATCH_SHIFTED_ITEMS} items together (each shifts the items after its index)`,
      );
    }
  }
}

type OpName = JsonPatchOperation['op'];
const OPS: ReadonlySet<string> = new Set<OpName>(['add', 'remove', 'replace', 'move', 'copy', 'test']);
const NEEDS_VALUE: ReadonlySet<string> = new Set<OpName>(['add', 'replace', 'test']);
const NEEDS_FROM: ReadonlySet<string> = new Set<OpName>(['move', 'copy']);
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor']);
const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/** An operation with its pointers split into tokens. */
interface CompiledOperation {
  op: OpName;
  index: number;
  path: string;
  tokens: string[];
  from: string[] | undefined;
  value: unknown;
}

/**
 * Checks that `value` is a JSON Patch document and returns it typed:
 * an array of at most MAX_PATCH_OPS operations, each an object whose `op`
 * is one of the six, with a `path` (and `from` for move and copy) that is a
 * JSON pointer, and a `value` for add, replace and test. Members the RFC
 * does not define are ignored (RFC 6902 §4); `op`, `path` and `from` of
 * another type than string are not. Throws invalid_patch (extension `op`:
 * the index of the operation at fault), or forbidden_key for a pointer
 * through `__proto__` or `constructor`. Decides on the patch alone, never
 * on a document: costs O(size of the patch).
 */
export function parseJsonPatch(value: unknown): JsonPatchOperation[] {
  compilePatch(value);
  return value as JsonPatchOperation[];
}

function compilePatch(value: unknown): CompiledOperation[] {
  if (!Array.isArray(value)) throw new PinbaseError('invalid_patch', 'a JSON Patch is an array of operations (RFC 6902)');
  if (value.length > MAX_PATCH_OPS) {
    throw new PinbaseError('invalid_patch', `a JSON Patch may hold at most ${MAX_PATCH_OPS} operations`, { extensions: { maxOps: MAX_PATCH_OPS } });
  }
  return value.map(compileOperation);
}

function compileOperation(operation: unknown, index: number): CompiledOperation {
  const fail = (detail: string) => new PinbaseError('invalid_patch', `operation ${index}: ${detail}`, { extensions: { op: index } });
  if (typeof operation !== 'object' || operation === null || Array.isArray(operation)) throw fail('an operation is a JSON object');
  const member = (name: string): unknown => (Object.hasOwn(operation, name) ? (operation as Record<string, unknown>)[name] : undefined);
  const op = member('op');
  if (typeof op !== 'string') throw fail('"op" is missing or not a string');
  if (!OPS.has(op)) throw fail(`unknown op "${op}" (add, remove, replace, move, copy or test)`);
  const pointer = (name: 'path' | 'from'): string[] | undefined => {
    const text = member(name);
    if (text === undefined) return undefined;
    if (typeof text !== 'string') throw fail(`"${name}" is not a string`);
    let tokens: string[];
    try {
      tokens = parsePointer(text);
    } catch (error) {
      throw fail(`"${name}" is not a JSON pointer: ${(error as Error).message}`);
    }
    const forbidden = tokens.find((token) => FORBIDDEN_KEYS.has(token));
    if (forbidden !== undefined) {
      throw new PinbaseError('forbidden_key', `operation ${index}: key "${forbidden}" is not allowed in a document`, { extensions: { op: index } });
    }
    return tokens;
  };
  const tokens = pointer('path');
  if (tokens === undefined) throw fail(`"path" is missing`);
  const from = pointer('from');
  if (NEEDS_FROM.has(op) && from === undefined) throw fail(`"from" is missing (${op} needs it)`);
  if (NEEDS_VALUE.has(op) && !Object.hasOwn(operation, 'value')) throw fail(`"value" is missing (${op} needs it)`);
  if (op === 'move' && from!.length < tokens.length && from!.every((token, i) => token === tokens[i])) {
    throw fail('a location cannot be moved into one of its children');
  }
  return { op: op as OpName, index, path: member('path') as string, tokens, from: NEEDS_FROM.has(op) ? from : undefined, value: member('value') };
}

/**
 * Applies an RFC 6902 JSON Patch to `document`, which the caller owns: it
 * is changed in place, and the result (`document`, or what replaced its
 * root) is returned. All or nothing for the caller: on a throw, `document`
 * may be partly patched and must be dropped (a PATCH or a transaction that
 * fails writes nothing). Throws what parseJsonPatch throws, then, with
 * extensions `op` (the operation's index) and `path`:
 * - patch_test_failed: a `test` whose value differs (JSON equality: numbers
 *   by value, members in any order) or whose path does not exist;
 * - patch_conflict: a target that does not exist (remove, replace, or the
 *   `from` of move and copy), a missing parent, an array index beyond the
 *   array or not a plain decimal (`-` appends, for add only), a member
 *   step into a string, number, boolean or null;
 * - invalid_body: a result that would nest deeper than DOCUMENT_STRUCTURE
 *   allows, or beyond `budget` (a fresh PatchBudget by default).
 * Values are copied in, never shared with the patch. Cost per operation:
 * O(depth of its path + size of its value), plus the items an insertion or
 * removal shifts in an array; a `test` compares at most the size of its
 * value; a `copy` and a `move` deeper into the document also walk the
 * subtree they copy or move. `budget` bounds the shifts and the walks.
 */
export function applyJsonPatch(document: unknown, patch: unknown, budget = new PatchBudget()): unknown {
  const operations = compilePatch(patch);
  const state = { root: document };
  for (const operation of operations) {
    try {
      applyOperation(state, operation, budget);
    } catch (error) {
      if (error instanceof PinbaseError && error.extensions === undefined) {
        throw new PinbaseError(error.code, `operation ${operation.index} (${operation.op} ${operation.path}): ${error.detail ?? error.message}`, {
          extensions: { op: operation.index, path: operation.path },
        });
      }
      throw error;
    }
  }
  return state.root;
}

/**
 * `error`, raised by the JSON Patch of transaction op `index`, as the
 * transaction's problem: the same code, naming the op in `txOp` besides
 * what the patch named (`op`, `path`).
 */
export function inTransactionOp(error: PinbaseError, index: number): PinbaseError {
  return new PinbaseError(error.code, `transaction op ${index}: ${error.detail ?? error.message}; nothing was applied`, {
    extensions: { txOp: index, ...error.extensions },
  });
}

/** applyJsonPatch for a Pinbase document: the result must stay a JSON object (patch_conflict otherwise). */
export function applyJsonPatchToObject(document: Record<string, unknown>, patch: unknown, budget?: PatchBudget): Record<string, unknown> {
  const result = applyJsonPatch(document, patch, budget);
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    throw new PinbaseError('patch_conflict', 'the patch replaces the document with something other than a JSON object');
  }
  return result as Record<string, unknown>;
}

function applyOperation(state: { root: unknown }, operation: CompiledOperation, budget: PatchBudget): void {
  const { tokens } = operation;
  switch (operation.op) {
    case 'test': {
      const actual = valueAt(state.root, tokens);
      if (actual === undefined) throw new PinbaseError('patch_test_failed', 'nothing is at the path');
      // Stops at the first difference, and compares no deeper or wider than the patch's own value.
      if (!jsonEqual(actual, operation.value)) throw new PinbaseError('patch_test_failed', 'the value differs');
      return;
    }
    case 'remove':
      removeAt(state, tokens, budget);
      return;
    case 'add':
    case 'replace': {
      const value = copyJson(operation.value, tokens.length);
      if (operation.op === 'replace') replaceAt(state, tokens, value);
      else addAt(state, tokens, value, budget);
      return;
    }
    case 'copy': {
      const source = valueAt(state.root, operation.from!);
      if (source === undefined) throw new PinbaseError('patch_conflict', 'nothing is at "from"');
      addAt(state, tokens, copyJson(source, tokens.length, budget), budget);
      return;
    }
    case 'move': {
      const source = valueAt(state.root, operation.from!);
      if (source === undefined) throw new PinbaseError('patch_conflict', 'nothing is at "from"');
      if (tokens.length > operation.from!.length) {
        const { depth, nodes } = measure(source);
        budget.walk(nodes);
        assertDepth(tokens.length + depth);
      }
      removeAt(state, operation.from!, budget);
      addAt(state, tokens, source, budget);
      return;
    }
  }
}

/** The value at `tokens`, or undefined. Only own members are followed; array indexes are plain decimals. */
function valueAt(root: unknown, tokens: readonly string[]): unknown {
  let current = root;
  for (const token of tokens) {
    current = childOf(current, token);
    if (current === undefined) return undefined;
  }
  return current;
}

function childOf(container: unknown, token: string): unknown {
  if (Array.isArray(container)) return ARRAY_INDEX.test(token) ? container[Number(token)] : undefined;
  if (typeof container === 'object' && container !== null && Object.hasOwn(container, token)) return (container as Record<string, unknown>)[token];
  return undefined;
}

/** The container that holds the last token of a non-empty path (patch_conflict when it does not exist). */
function parentOf(root: unknown, tokens: readonly string[]): unknown[] | Record<string, unknown> {
  const parent = valueAt(root, tokens.slice(0, -1));
  if (typeof parent !== 'object' || parent === null) {
    throw new PinbaseError('patch_conflict', parent === undefined ? 'the parent of the path does not exist' : 'the parent of the path is not an object or array');
  }
  return parent as unknown[] | Record<string, unknown>;
}

function addAt(state: { root: unknown }, tokens: readonly string[], value: unknown, budget: PatchBudget): void {
  if (tokens.length === 0) {
    state.root = value;
    return;
  }
  const parent = parentOf(state.root, tokens);
  const key = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) {
    if (key === '-') {
      parent.push(value);
      return;
    }
    // An index may equal the length (append); "01", "1e0" and "-1" are no index (RFC 6901 §4).
    if (!ARRAY_INDEX.test(key) || Number(key) > parent.length) throw new PinbaseError('patch_conflict', `"${key}" is not an index from 0 to ${parent.length} of the array`);
    budget.shift(parent.length - Number(key));
    parent.splice(Number(key), 0, value);
    return;
  }
  parent[key] = value;
}

/** Replaces an existing value where it is (an object's members keep their order). */
function replaceAt(state: { root: unknown }, tokens: readonly string[], value: unknown): void {
  if (tokens.length === 0) {
    if (state.root === undefined) throw new PinbaseError('patch_conflict', 'there is no document');
    state.root = value;
    return;
  }
  const { parent, key } = existingMember(state.root, tokens);
  if (Array.isArray(parent)) parent[Number(key)] = value;
  else parent[key] = value;
}

function removeAt(state: { root: unknown }, tokens: readonly string[], budget: PatchBudget): void {
  if (tokens.length === 0) {
    if (state.root === undefined) throw new PinbaseError('patch_conflict', 'there is no document');
    state.root = undefined;
    return;
  }
  const { parent, key } = existingMember(state.root, tokens);
  if (Array.isArray(parent)) {
    budget.shift(parent.length - 1 - Number(key));
    parent.splice(Number(key), 1);
  } else {
    delete parent[key];
  }
}

/** The container of the value at a non-empty path, and its last token: patch_conflict when no value is there. */
function existingMember(root: unknown, tokens: readonly string[]): { parent: unknown[] | Record<string, unknown>; key: string } {
  const parent = parentOf(root, tokens);
  const key = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) {
    if (!ARRAY_INDEX.test(key) || Number(key) >= parent.length) {
      throw new PinbaseError('patch_conflict', `"${key}" is not an index of the array (length ${parent.length})`);
    }
  } else if (!Object.hasOwn(parent, key)) {
    throw new PinbaseError('patch_conflict', `member "${key}" does not exist`);
  }
  return { parent, key };
}

function assertDepth(depth: number): void {
  if (depth > DOCUMENT_STRUCTURE.maxDepth) {
    throw new PinbaseError('invalid_body', `objects and arrays may nest at most ${DOCUMENT_STRUCTURE.maxDepth} levels deep`);
  }
}

/** How many levels of objects and arrays `value` nests (0 for a string, number, boolean or null), and its nodes. */
function measure(value: unknown): { depth: number; nodes: number } {
  if (typeof value !== 'object' || value === null) return { depth: 0, nodes: 0 };
  const items = Object.values(value);
  let depth = 0;
  let nodes = Array.isArray(value) ? 1 : 1 + items.length;
  for (const item of items) {
    const inner = measure(item);
    depth = Math.max(depth, inner.depth);
    nodes += inner.nodes;
  }
  return { depth: depth + 1, nodes };
}

/**
 * A copy of JSON `value`, to be placed `level` steps below the root: held
 * to the document's depth limit, with its nodes walked on `budget` (for
 * copies), and refusing `__proto__` and `constructor` keys.
 */
function copyJson(value: unknown, level: number, budget?: PatchBudget): unknown {
  const { depth, nodes } = measure(value);
  budget?.walk(nodes);
  assertDepth(level + depth);
  const copy = (item: unknown): unknown => {
    if (typeof item !== 'object' || item === null) return item;
    if (Array.isArray(item)) return item.map(copy);
    const result: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(item)) {
      if (FORBIDDEN_KEYS.has(key)) throw new PinbaseError('forbidden_key', `key "${key}" is not allowed in a document`);
      result[key] = copy(member);
    }
    return result;
  };
  return copy(value);
}

/** JSON equality (RFC 6902 §4.6): numbers by value, strings exactly, objects by their members in any order, arrays in order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i]));
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}
