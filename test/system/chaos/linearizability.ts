/**
 * Linearizability checking for histories recorded by the chaos harness.
 *
 * The search is Wing & Gong's: the history's call and return events sit in
 * one doubly linked list in time order; at each point one pending operation
 * whose call precedes the first outstanding return is linearized (lifted out
 * of the list) and the search moves on, backtracking when no candidate fits.
 * Lowe's cache of (linearized set, model state) configurations prunes
 * branches already explored, and, as in porcupine, the history is first split
 * into independent sub-histories (P-compositionality) checked one at a time.
 *
 * An operation with an unknown outcome ('info') has no return event: it may
 * be linearized anywhere after its call, or never.
 *
 * Beyond porcupine: candidates are tried in an order led by the operation
 * that must return first (see orderCandidates), and optional model hooks let
 * the search skip orders that cannot matter (readOnly), drop a branch as soon
 * as a state some operation needs can never come back (requires, produces),
 * and report violations visible without a search (findEvidentViolation). A
 * history from a linearizable register then checks in close to linear time;
 * proving a subtler violation may still mean exploring every configuration
 * before it, hence the budget.
 */

export type OperationStatus = 'ok' | 'fail' | 'info';

/** One client request as recorded by the harness. Times are monotonic (e.g. hrtime in ns). */
export interface Operation<Input, Output> {
  id: number;
  clientId: number;
  key: string;
  input: Input;
  /** The response; absent for 'info' operations and for inputs without one. */
  output?: Output;
  call: number;
  /** Required for 'ok'; ignored for 'info', whose return is treated as +infinity. */
  return: number | undefined;
  /** ok: took effect, output known; fail: certainly did not take effect; info: unknown. */
  status: OperationStatus;
}

export interface StepResult<State> {
  ok: boolean;
  state: State;
}

/** A sequential specification of the object under test. */
export interface Model<State, Input, Output> {
  init(): State;
  /**
   * Applies `input` to `state` without mutating it. `ok` is false when the
   * recorded `output` is impossible from `state`. `output` is undefined for an
   * info operation: the step models the branch where it took effect, so it
   * must accept any output then.
   */
  step(state: State, input: Input, output: Output | undefined): StepResult<State>;
  equal(a: State, b: State): boolean;
  /** Cache key: equal states must hash alike; unequal ones may collide. */
  hash(state: State): string;
  /** Splits the history into independent objects. Without it the whole history is one, keyed '*'. */
  partition?(ops: readonly Operation<Input, Output>[]): Map<string, Operation<Input, Output>[]>;
  /**
   * True when `input` leaves every state it fits unchanged. Such an
   * operation is linearized as soon as it fits, without trying other orders.
   */
  readOnly?(input: Input): boolean;
  /**
   * The only state in which `input` can answer `output`, if there is one
   * (a register read needs the value it returned). With `produces`, lets the
   * search drop a branch once a needed state can no longer come back.
   */
  requires?(input: Input, output: Output | undefined): State | undefined;
  /**
   * The state `input` leaves behind whenever it fits, if that does not depend
   * on the state before (a write, a cas); undefined otherwise. The pruning
   * above is used only when every input that is not read-only answers this.
   */
  produces?(input: Input): State | undefined;
  /** Removes operations that cannot change the verdict of a sub-history. */
  simplify?(ops: readonly Operation<Input, Output>[]): Operation<Input, Output>[];
  /**
   * Looks for a violation evident without a search (say, a read of a value
   * overwritten before the read began), which the checker then reports at
   * once instead of exploring every order before it.
   */
  findEvidentViolation?(
    ops: readonly Operation<Input, Output>[],
  ): EvidentViolation<Input, Output> | undefined;
  describe(op: Operation<Input, Output>): string;
}

/** An operation no order of the others can place, and why. */
export interface EvidentViolation<Input, Output> {
  blocked: Operation<Input, Output>;
  /** The operations that rule it out. */
  involved: Operation<Input, Output>[];
  reason: string;
}

export interface CheckOptions {
  /**
   * Search steps allowed over the whole history before giving up with
   * 'unknown'. Memory grows with the configurations explored (one bit per
   * operation each), so this also bounds memory.
   */
  maxSteps?: number;
  /** Wall-clock milliseconds allowed before giving up with 'unknown'. */
  timeoutMs?: number;
}

export interface LinearizabilityViolation<Input, Output> {
  ok: false;
  /** The sub-history (partition) that has no linearization. */
  key: string;
  /**
   * The longest sequence the search could linearize, in linearization order;
   * empty when the model found the violation without a search.
   */
  longestPrefix: Operation<Input, Output>[];
  /** The operation that could not be placed (after that prefix: the first left to return). */
  blocked: Operation<Input, Output>;
  /** The operations involved: after a search, those left that were called before `blocked` returned. */
  candidates: Operation<Input, Output>[];
  message: string;
}

export type CheckResult<Input, Output> =
  | { ok: true }
  | { ok: 'unknown'; key: string; reason: 'max-steps' | 'timeout'; steps: number }
  | LinearizabilityViolation<Input, Output>;

/**
 * Decides whether `history` is linearizable with respect to `model`. 'fail'
 * operations are dropped first. Returns the first violating sub-history, or
 * 'unknown' once the budget in `options` runs out. Throws a RangeError when
 * an 'ok' operation has no return time or returns before its call.
 */
export function checkLinearizability<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
  options: CheckOptions = {},
): CheckResult<Input, Output> {
  const kept = history.filter((op) => op.status !== 'fail');
  kept.forEach(assertWellFormed);
  const parts = model.partition ? model.partition(kept) : new Map([['*', kept]]);
  const budget = new SearchBudget(options);
  for (const [key, part] of parts) {
    const ops = model.simplify ? model.simplify(part) : part;
    const evident = model.findEvidentViolation?.(ops);
    if (evident) return reportEvidentViolation(model, key, evident);
    const outcome = searchLinearization(model, ops, budget);
    if (outcome === 'exhausted') {
      return { ok: 'unknown', key, reason: budget.reason, steps: budget.steps };
    }
    if (outcome !== 'linearizable') return describeViolation(model, key, ops, outcome.longest);
  }
  return { ok: true };
}

/** Groups operations by their `key`: a model whose keys are independent objects uses this as `partition`. */
export function partitionByKey<Input, Output>(
  ops: readonly Operation<Input, Output>[],
): Map<string, Operation<Input, Output>[]> {
  const parts = new Map<string, Operation<Input, Output>[]>();
  for (const op of ops) {
    const part = parts.get(op.key);
    if (part) part.push(op);
    else parts.set(op.key, [op]);
  }
  return parts;
}

function assertWellFormed(op: Operation<unknown, unknown>): void {
  if (op.status === 'ok' && (op.return === undefined || op.return < op.call)) {
    throw new RangeError(`operation #${op.id}: status 'ok' needs a return time >= its call time`);
  }
}

type SearchOutcome = 'linearizable' | 'exhausted' | { longest: number[] };

/** An operation that fits the configuration, and the state it leads to. */
interface Candidate<State> {
  call: EventNode;
  after: State;
  afterHash: string;
}

/** A node of the depth-first search: the candidates from one configuration and the one taken. */
interface Frame<State> {
  candidates: Candidate<State>[];
  tried: number;
  chosen: EventNode | null;
}

function searchLinearization<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  budget: SearchBudget,
): SearchOutcome {
  const { head, calls } = buildEventList(ops);
  const visited = new VisitedConfigurations<State>((a, b) => model.equal(a, b), ops.length);
  const needed = NeededStates.track(model, ops);
  const open = (state: State): Frame<State> => ({
    candidates: orderCandidates(model, ops, head, state),
    tried: 0,
    chosen: null,
  });
  const stack = [open(model.init())];
  const longest: number[] = [];
  let shared = 0; // longest[0, shared) is also the start of the current path
  const record = (depth: number, extra?: EventNode): void => {
    if (depth + (extra ? 1 : 0) <= longest.length) return;
    longest.length = shared;
    for (let i = shared; i < depth; i++) longest.push(stack[i]!.chosen!.op);
    if (extra) longest.push(extra.op);
    shared = depth;
  };
  let remaining = ops.filter((op) => op.status === 'ok').length;
  while (remaining > 0) {
    if (!budget.spend()) return 'exhausted';
    const frame = stack.at(-1)!;
    const candidate = frame.candidates[frame.tried++];
    if (candidate === undefined) {
      record(stack.length - 1);
      stack.pop();
      const parent = stack.at(-1);
      if (parent === undefined) return { longest: extendGreedily(model, ops, head, calls, longest) };
      const undone = parent.chosen!;
      parent.chosen = null;
      shared = Math.min(shared, stack.length - 1);
      unlift(undone);
      visited.toggle(undone.op);
      needed?.change(undone.op, 1);
      if (!undone.info) remaining++;
      continue;
    }
    const { call, after, afterHash } = candidate;
    visited.toggle(call.op);
    needed?.change(call.op, -1);
    const dead = needed?.unreachable(afterHash) ?? false;
    if (dead || !visited.enter(after, afterHash)) {
      if (dead) record(stack.length - 1, call);
      visited.toggle(call.op);
      needed?.change(call.op, 1);
      continue;
    }
    frame.chosen = call;
    lift(call);
    if (!call.info) remaining--;
    if (remaining > 0) stack.push(open(after));
  }
  return 'linearizable';
}

/**
 * The operations that fit `state` and may be linearized next (those called
 * before the first outstanding return), in the order to try them. Orders
 * that cannot matter are left out:
 * - a read-only operation that fits is the only candidate: taking it at once
 *   loses nothing, since it leaves the state alone;
 * - an info operation that would leave the state as it is, or whose input
 *   equals an earlier info candidate's, is skipped: keeping it for later
 *   does at least as well.
 * The operation that returns first (the blocker) leads, preceded by the
 * candidates it would shut out and, if it does not fit yet, followed by those
 * after which it fits; then the rest by return time (info ones never return).
 */
function orderCandidates<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  head: EventNode,
  state: State,
): Candidate<State>[] {
  const apply = (at: State, call: EventNode): StepResult<State> => {
    const op = ops[call.op]!;
    return model.step(at, op.input, call.info ? undefined : op.output);
  };
  const fitting: Candidate<State>[] = [];
  const infoInputs = new Set<string>();
  let node = head.next;
  for (; node !== null && node.kind === 'call'; node = node.next) {
    const { ok, state: after } = apply(state, node);
    if (!ok) continue;
    const input = ops[node.op]!.input;
    const candidate = { call: node, after, afterHash: model.hash(after) };
    if (!node.info && model.readOnly?.(input)) return [candidate];
    if (node.info) {
      const key = JSON.stringify(input);
      if (model.equal(after, state) || infoInputs.has(key)) continue;
      infoInputs.add(key);
    }
    fitting.push(candidate);
  }
  const blocker = node?.match ?? undefined;
  const first = fitting.find((candidate) => candidate.call === blocker);
  const rank = ({ call, after }: Candidate<State>): number => {
    if (call === blocker) return 1;
    if (first) return apply(first.after, call).ok ? 3 : 0;
    return blocker !== undefined && apply(after, blocker).ok ? 2 : 3;
  };
  const returns = (call: EventNode): number => ops[call.op]!.return ?? Infinity;
  return fitting
    .map((candidate) => ({ candidate, rank: rank(candidate), returns: returns(candidate.call) }))
    .sort((a, b) => a.rank - b.rank || a.returns - b.returns)
    .map(({ candidate }) => candidate);
}

/**
 * Replays `prefix` on the restored event list, then linearizes whatever fits
 * first until nothing does. Pruning may stop the search before such a
 * prefix, so this makes the report's prefix run up to the real conflict.
 */
function extendGreedily<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  head: EventNode,
  calls: readonly EventNode[],
  prefix: readonly number[],
): number[] {
  let state = model.init();
  for (const index of prefix) {
    const op = ops[index]!;
    state = model.step(state, op.input, op.status === 'info' ? undefined : op.output).state;
    lift(calls[index]!);
  }
  const extended = [...prefix];
  for (let next = orderCandidates(model, ops, head, state)[0]; next; ) {
    lift(next.call);
    extended.push(next.call.op);
    next = orderCandidates(model, ops, head, next.after)[0];
  }
  return extended;
}

/**
 * Counts, per state, the definite operations left that need it and the
 * operations left that could produce it. A configuration whose state is not
 * a needed state that nothing can produce any more is a dead end.
 */
class NeededStates {
  private readonly ids = new Map<string, number>();
  private readonly needs: number[];
  private readonly makes: number[];
  private readonly consumers: Int32Array;
  private readonly producers: Int32Array;
  private readonly lost = new Set<number>();

  private constructor(needs: (string | undefined)[], makes: (string | undefined)[]) {
    this.needs = needs.map((hash) => this.intern(hash));
    this.makes = makes.map((hash) => this.intern(hash));
    this.consumers = new Int32Array(this.ids.size);
    this.producers = new Int32Array(this.ids.size);
    this.needs.forEach((_, op) => this.change(op, 1));
  }

  /** Undefined unless the model says what every operation requires and produces. */
  static track<State, Input, Output>(
    model: Model<State, Input, Output>,
    ops: readonly Operation<Input, Output>[],
  ): NeededStates | undefined {
    if (!model.requires || !model.produces) return undefined;
    const hash = (state: State | undefined): string | undefined =>
      state === undefined ? undefined : model.hash(state);
    const needs = ops.map((op) =>
      op.status === 'ok' ? hash(model.requires?.(op.input, op.output)) : undefined,
    );
    const makes = ops.map((op) => hash(model.produces?.(op.input)));
    const opaque = ops.some((op, index) => makes[index] === undefined && !model.readOnly?.(op.input));
    return opaque ? undefined : new NeededStates(needs, makes);
  }

  /** Counts `op` as linearized (delta -1) or as left again (+1). */
  change(op: number, delta: 1 | -1): void {
    const changes = [
      [this.needs[op]!, this.consumers],
      [this.makes[op]!, this.producers],
    ] as const;
    for (const [id, counts] of changes) {
      if (id < 0) continue;
      counts[id] = counts[id]! + delta;
      if (this.consumers[id]! > 0 && this.producers[id] === 0) this.lost.add(id);
      else this.lost.delete(id);
    }
  }

  /** True when an operation left needs a state, other than the one hashed, that cannot arise again. */
  unreachable(stateHash: string): boolean {
    if (this.lost.size !== 1) return this.lost.size > 1;
    return !this.lost.has(this.ids.get(stateHash) ?? -1);
  }

  private intern(hash: string | undefined): number {
    if (hash === undefined) return -1;
    const id = this.ids.get(hash) ?? this.ids.size;
    this.ids.set(hash, id);
    return id;
  }
}

class EventNode {
  /** The other event of the same operation; null for info calls, which never return. */
  match: EventNode | null = null;
  prev: EventNode = this;
  next: EventNode | null = null;

  constructor(
    readonly op: number,
    readonly kind: 'call' | 'return',
    readonly info: boolean,
  ) {}
}

/**
 * Links all events by time, calls before returns on ties, after a head
 * sentinel. Also returns each operation's call event.
 */
function buildEventList(ops: readonly Operation<unknown, unknown>[]): {
  head: EventNode;
  calls: EventNode[];
} {
  const events: { time: number; node: EventNode }[] = [];
  const calls = ops.map((op, index) => {
    const call = new EventNode(index, 'call', op.status === 'info');
    events.push({ time: op.call, node: call });
    if (call.info) return call;
    call.match = new EventNode(index, 'return', false);
    call.match.match = call;
    events.push({ time: op.return!, node: call.match });
    return call;
  });
  const rank = (node: EventNode): number => (node.kind === 'call' ? 0 : 1);
  events.sort((a, b) => a.time - b.time || rank(a.node) - rank(b.node));
  const head = new EventNode(-1, 'call', false);
  let last = head;
  for (const { node } of events) {
    last.next = node;
    node.prev = last;
    last = node;
  }
  return { head, calls };
}

/** Takes a call and its return out of the list; unlift undoes the latest lift. */
function lift(call: EventNode): void {
  for (const node of call.match ? [call, call.match] : [call]) {
    node.prev.next = node.next;
    if (node.next) node.next.prev = node.prev;
  }
}

function unlift(call: EventNode): void {
  for (const node of call.match ? [call.match, call] : [call]) {
    node.prev.next = node;
    if (node.next) node.next.prev = node;
  }
}

/**
 * The configurations (linearized set, state) the search entered, kept as
 * bitsets one after another in one array, plus the current linearized set
 * with an incrementally maintained Zobrist hash.
 */
class VisitedConfigurations<State> {
  private readonly current: Uint32Array;
  private setHash = 0;
  private sets: Uint32Array;
  private readonly states: State[] = [];
  private readonly sameKeyNext: number[] = [];
  private readonly firstWithKey = new Map<number, number>();

  constructor(
    private readonly equal: (a: State, b: State) => boolean,
    operations: number,
  ) {
    this.current = new Uint32Array(Math.ceil(operations / 32));
    this.sets = new Uint32Array(this.current.length * 64);
  }

  /** Adds an absent operation to the current set or removes a present one. */
  toggle(op: number): void {
    this.current[op >>> 5] = this.current[op >>> 5]! ^ (1 << (op & 31));
    this.setHash ^= mix32(op + 1);
  }

  /** Records the current set with `state`; false when this configuration was entered before. */
  enter(state: State, stateHash: string): boolean {
    const key = this.setHash ^ hashString(stateHash);
    for (let entry = this.firstWithKey.get(key) ?? -1; entry >= 0; entry = this.sameKeyNext[entry]!) {
      if (this.holdsCurrent(entry) && this.equal(this.states[entry]!, state)) return false;
    }
    const width = this.current.length;
    const entry = this.states.length;
    if ((entry + 1) * width > this.sets.length) {
      const grown = new Uint32Array(this.sets.length * 2);
      grown.set(this.sets);
      this.sets = grown;
    }
    this.sets.set(this.current, entry * width);
    this.states.push(state);
    this.sameKeyNext.push(this.firstWithKey.get(key) ?? -1);
    this.firstWithKey.set(key, entry);
    return true;
  }

  private holdsCurrent(entry: number): boolean {
    const offset = entry * this.current.length;
    for (let i = 0; i < this.current.length; i++) if (this.sets[offset + i] !== this.current[i]) return false;
    return true;
  }
}

function mix32(x: number): number {
  let h = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** FNV-1a. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

class SearchBudget {
  steps = 0;
  reason: 'max-steps' | 'timeout' = 'max-steps';
  private readonly maxSteps: number;
  private readonly deadline: number;

  constructor(options: CheckOptions) {
    this.maxSteps = options.maxSteps ?? Infinity;
    this.deadline = options.timeoutMs === undefined ? Infinity : performance.now() + options.timeoutMs;
  }

  /** Counts one step; false once the budget is spent. */
  spend(): boolean {
    this.steps++;
    if (this.steps > this.maxSteps) return false;
    if ((this.steps & 1023) !== 0 || performance.now() <= this.deadline) return true;
    this.reason = 'timeout';
    return false;
  }
}

function describeViolation<State, Input, Output>(
  model: Model<State, Input, Output>,
  key: string,
  ops: readonly Operation<Input, Output>[],
  longest: number[],
): LinearizabilityViolation<Input, Output> {
  const placed = new Set(longest);
  const unplaced = ops.filter((_, index) => !placed.has(index));
  const blocked = unplaced
    .filter((op) => op.status === 'ok')
    .reduce<Operation<Input, Output> | undefined>((a, b) => (a && a.return! <= b.return! ? a : b), undefined);
  if (!blocked) throw new Error(`key ${JSON.stringify(key)}: the search failed with every operation placed`);
  const candidates = unplaced.filter((op) => op.call <= blocked.return!);
  const longestPrefix = longest.map((index) => ops[index]!);
  const lines = [
    `key ${JSON.stringify(key)}: not linearizable; the longest linearizable prefix found has ` +
      `${longestPrefix.length} of ${ops.length} operations, ending with:`,
    ...listed(model, longestPrefix.slice(-5)),
    `after it, no order of these operations fits before ${model.describe(blocked)} returns:`,
    ...listed(model, candidates),
  ];
  return { ok: false, key, longestPrefix, blocked, candidates, message: lines.join('\n') };
}

/** One indented line per operation, at most 20. */
function listed<Input, Output>(
  model: Model<unknown, Input, Output>,
  ops: readonly Operation<Input, Output>[],
): string[] {
  const lines = ops.slice(0, 20).map((op) => `  ${model.describe(op)}`);
  return ops.length > 20 ? [...lines, `  ... and ${ops.length - 20} more`] : lines;
}

function reportEvidentViolation<State, Input, Output>(
  model: Model<State, Input, Output>,
  key: string,
  { blocked, involved, reason }: EvidentViolation<Input, Output>,
): LinearizabilityViolation<Input, Output> {
  const message = [
    `key ${JSON.stringify(key)}: not linearizable: ${model.describe(blocked)}: ${reason}:`,
    ...listed(model, involved),
  ].join('\n');
  return { ok: false, key, longestPrefix: [], blocked, candidates: [blocked, ...involved], message };
}
