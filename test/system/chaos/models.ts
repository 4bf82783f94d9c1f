/**
 * Sequential specifications of Pinbase objects for the linearizability
 * checker. The harness writes a unique value on every write, so a value
 * identifies the write that produced it and compare-and-set on a value is
 * compare-and-set on a revision. The verdicts do not depend on that
 * uniqueness; the speed of the search does.
 */
import type { EvidentViolation, Model, Operation } from './linearizability.js';
import { partitionByKey } from './linearizability.js';

/** A register's content: a value, or null when the key is absent. */
export type RegisterValue = string | null;

export type CasRegisterInput =
  | { type: 'read' }
  | { type: 'write'; value: string }
  /** Recorded 'ok' only if it succeeded; a 412 "precondition failed" is recorded 'fail'. */
  | { type: 'cas'; from: RegisterValue; to: string }
  | { type: 'delete' };

/** A read's output is the value it returned; mutations carry no output. */
export type CasRegisterOperation = Operation<CasRegisterInput, RegisterValue>;

/** One register per key, keys independent. */
export const casRegisterModel: Model<RegisterValue, CasRegisterInput, RegisterValue> = {
  init: () => null,
  step(state, input, output) {
    switch (input.type) {
      case 'read':
        return { ok: output === undefined || output === state, state };
      case 'write':
        return { ok: true, state: input.value };
      case 'cas':
        return input.from === state ? { ok: true, state: input.to } : { ok: false, state };
      case 'delete':
        return { ok: true, state: null };
    }
  },
  equal: (a, b) => a === b,
  hash: (state) => (state === null ? 'absent' : `=${state}`),
  readOnly: (input) => input.type === 'read',
  requires(input, output) {
    if (input.type === 'read') return output;
    return input.type === 'cas' ? input.from : undefined;
  },
  produces: (input) => (input.type === 'read' ? undefined : valueAfter(input)),
  partition: partitionByKey,
  simplify: dropUnobservable,
  findEvidentViolation: findStaleObservation,
  describe: describeRegisterOperation,
};

/**
 * Drops the operations of one register's history that cannot change the
 * verdict, which keeps the search from trying every subset of them:
 * - info reads: a read whose answer is unknown constrains nothing;
 * - info mutations whose resulting value no read returned and no cas
 *   expected: had one taken effect, the next operation on the register was a
 *   blind write or a delete (nothing saw its value), so the same order
 *   without it is a linearization too.
 * Throws a TypeError on an 'ok' read without an output, which would otherwise
 * be accepted as unknown.
 */
function dropUnobservable(ops: readonly CasRegisterOperation[]): CasRegisterOperation[] {
  const observed = new Set<RegisterValue>();
  for (const op of ops) {
    if (op.input.type === 'cas') observed.add(op.input.from);
    if (op.input.type !== 'read' || op.status !== 'ok') continue;
    if (op.output === undefined) throw new TypeError(`read #${op.id} is 'ok' but has no output`);
    observed.add(op.output);
  }
  return ops.filter((op) => {
    if (op.status !== 'info') return true;
    const written = valueAfter(op.input);
    return written !== undefined && observed.has(written);
  });
}

/**
 * Finds an 'ok' read or cas that saw a value which cannot have been current
 * while it ran: every operation writing that value (and, for null, the
 * initial absence) was called only after the observation returned, or was
 * overwritten by a mutation that ran entirely between its end and the
 * observation's call. Stale reads and lost writes look like this.
 */
function findStaleObservation(ops: readonly CasRegisterOperation[]): RegisterViolation | undefined {
  const writes = writesByValue(ops);
  const mutations = ops.filter((op) => op.status === 'ok' && op.input.type !== 'read');
  mutations.sort((a, b) => a.call - b.call);
  for (const op of ops) {
    const seen = valueSeen(op);
    if (seen === undefined) continue;
    const overwrites = overwritesBefore(op, seen, writes.get(seen), mutations);
    if (!overwrites) continue;
    const reason =
      overwrites.length === 0
        ? `no operation called before it returned writes ${JSON.stringify(seen)}`
        : `every write of ${JSON.stringify(seen)} was overwritten before it was called`;
    return { blocked: op, involved: overwrites.flat().filter((o) => o !== null), reason };
  }
  return undefined;
}

type RegisterViolation = EvidentViolation<CasRegisterInput, RegisterValue>;

/** The writes of one value by end time (+infinity for info), with the earliest call from each index on. */
interface WritesOfValue {
  ends: number[];
  writers: (CasRegisterOperation | null)[];
  earliestCallFrom: number[];
}

/** Indexes every write, cas and delete by the value it leaves; null starts out written by nobody. */
function writesByValue(ops: readonly CasRegisterOperation[]): Map<RegisterValue, WritesOfValue> {
  type Write = { end: number; call: number; writer: CasRegisterOperation | null };
  const absent: Write = { end: -Infinity, call: -Infinity, writer: null };
  const found = new Map<RegisterValue, Write[]>([[null, [absent]]]);
  for (const op of ops) {
    const value = valueAfter(op.input);
    if (value === undefined) continue;
    const write = { end: op.status === 'ok' ? op.return! : Infinity, call: op.call, writer: op };
    const known = found.get(value);
    if (known) known.push(write);
    else found.set(value, [write]);
  }
  const index = new Map<RegisterValue, WritesOfValue>();
  for (const [value, list] of found) {
    list.sort((a, b) => a.end - b.end);
    const earliestCallFrom = list.map((write) => write.call);
    for (let i = list.length - 2; i >= 0; i--) {
      earliestCallFrom[i] = Math.min(earliestCallFrom[i]!, earliestCallFrom[i + 1]!);
    }
    index.set(value, { ends: list.map((w) => w.end), writers: list.map((w) => w.writer), earliestCallFrom });
  }
  return index;
}

/**
 * For each write of `value` that `reader` may have seen, the write and a
 * mutation that overwrote it before `reader` was called; undefined when some
 * write may still have been current.
 */
function overwritesBefore(
  reader: CasRegisterOperation,
  value: RegisterValue,
  writes: WritesOfValue | undefined,
  mutations: readonly CasRegisterOperation[],
): [CasRegisterOperation | null, CasRegisterOperation][] | undefined {
  if (!writes) return [];
  const open = firstIndex(writes.ends, (end) => end >= reader.call);
  if (open < writes.ends.length && writes.earliestCallFrom[open]! <= reader.return!) return undefined;
  const found: [CasRegisterOperation | null, CasRegisterOperation][] = [];
  for (let i = open - 1; i >= 0; i--) {
    const end = writes.ends[i]!;
    let overwriter: CasRegisterOperation | undefined;
    for (let m = firstIndex(mutations, (op) => op.call > end); m < mutations.length; m++) {
      const mutation = mutations[m]!;
      if (mutation.call >= reader.call) break;
      if (mutation.return! < reader.call && valueAfter(mutation.input) !== value) {
        overwriter = mutation;
        break;
      }
    }
    if (!overwriter) return undefined;
    found.push([writes.writers[i]!, overwriter]);
  }
  return found;
}

/** The first index of `sorted` whose item passes `test`, which holds for a suffix of it. */
function firstIndex<T>(sorted: readonly T[], test: (item: T) => boolean): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (test(sorted[middle]!)) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** The value an 'ok' read returned or an 'ok' cas found; undefined for anything else. */
function valueSeen(op: CasRegisterOperation): RegisterValue | undefined {
  if (op.status !== 'ok') return undefined;
  if (op.input.type === 'read') return op.output;
  return op.input.type === 'cas' ? op.input.from : undefined;
}

/** The register's value once `input` took effect; undefined for a read. */
function valueAfter(input: CasRegisterInput): RegisterValue | undefined {
  switch (input.type) {
    case 'read':
      return undefined;
    case 'write':
      return input.value;
    case 'cas':
      return input.to;
    case 'delete':
      return null;
  }
}

function describeRegisterOperation(op: CasRegisterOperation): string {
  const returned = op.status === 'info' ? '?' : String(op.return);
  return `#${op.id} client ${op.clientId} ${describeInput(op)} [${op.call}, ${returned}] ${op.status}`;
}

function describeInput(op: CasRegisterOperation): string {
  const show = (value: RegisterValue | undefined): string =>
    value === undefined ? '?' : JSON.stringify(value);
  switch (op.input.type) {
    case 'read':
      return `read -> ${show(op.output)}`;
    case 'write':
      return `write ${show(op.input.value)}`;
    case 'cas':
      return `cas ${show(op.input.from)} -> ${show(op.input.to)}`;
    case 'delete':
      return 'delete';
  }
}
