import { describe, it, expect } from 'vitest';
import { checkLinearizability } from '../../system/chaos/linearizability.js';
import type { CheckResult, Model } from '../../system/chaos/linearizability.js';
import { casRegisterModel } from '../../system/chaos/models.js';
import type { CasRegisterInput, CasRegisterOperation, RegisterValue } from '../../system/chaos/models.js';
import { SeededRandom } from '../../system/chaos/seeded-random.js';

type Span = [call: number, returned: number];
type RegisterModel = Model<RegisterValue, CasRegisterInput, RegisterValue>;
type Result = CheckResult<CasRegisterInput, RegisterValue>;

let nextId = 0;
function record(clientId: number, input: CasRegisterInput, [call, returned]: Span): CasRegisterOperation {
  return { id: nextId++, clientId, key: 'k', input, call, return: returned, status: 'ok' };
}
const read = (client: number, span: Span, output: RegisterValue): CasRegisterOperation => ({
  ...record(client, { type: 'read' }, span),
  output,
});
const write = (client: number, span: Span, value: string): CasRegisterOperation =>
  record(client, { type: 'write', value }, span);
const cas = (client: number, span: Span, from: RegisterValue, to: string): CasRegisterOperation =>
  record(client, { type: 'cas', from, to }, span);
const remove = (client: number, span: Span): CasRegisterOperation =>
  record(client, { type: 'delete' }, span);
const failed = (op: CasRegisterOperation): CasRegisterOperation => ({ ...op, status: 'fail' });
const unknown = (op: CasRegisterOperation): CasRegisterOperation => ({
  ...op,
  status: 'info',
  return: undefined,
});
const onKey = (key: string, op: CasRegisterOperation): CasRegisterOperation => ({ ...op, key });

/** The register model without its shortcut for evident violations: every verdict comes from the search. */
const searchOnly: RegisterModel = { ...casRegisterModel, findEvidentViolation: undefined };
/** The bare Wing & Gong search: no reductions, no pruning, no shortcut. */
const bare: RegisterModel = {
  ...searchOnly,
  readOnly: undefined,
  requires: undefined,
  produces: undefined,
  simplify: undefined,
};

const check = (history: CasRegisterOperation[], model = casRegisterModel): Result =>
  checkLinearizability(model, history, { timeoutMs: 10_000 });

/** Asserts the same verdict with and without the shortcut and the reductions, and returns it. */
function verdict(history: CasRegisterOperation[]): Result['ok'] {
  const verdicts = [casRegisterModel, searchOnly, bare].map((model) => check(history, model).ok);
  expect(new Set(verdicts).size, `verdicts ${verdicts.join(', ')}`).toBe(1);
  return verdicts[0]!;
}

describe('checkLinearizability on a cas register: accepted histories', () => {
  it('accepts a sequential history of reads, writes, cas and deletes', () => {
    const history = [
      read(1, [0, 1], null),
      write(1, [2, 3], 'a'),
      read(2, [4, 5], 'a'),
      cas(2, [6, 7], 'a', 'b'),
      read(1, [8, 9], 'b'),
      remove(1, [10, 11]),
      read(2, [12, 13], null),
      cas(1, [14, 15], null, 'c'),
      read(2, [16, 17], 'c'),
    ];
    expect(verdict(history)).toBe(true);
  });

  it('accepts an empty history and one made only of info operations', () => {
    expect(verdict([])).toBe(true);
    expect(verdict([unknown(write(1, [0, 1], 'a')), unknown(read(2, [0, 1], 'a'))])).toBe(true);
  });

  it('ignores a failed cas, which did not take effect', () => {
    const history = [write(1, [0, 1], 'a'), failed(cas(2, [2, 3], 'zz', 'b')), read(1, [4, 5], 'a')];
    expect(verdict(history)).toBe(true);
  });

  it('accepts a concurrent history whose only linearization reorders the calls', () => {
    // 'a' is called first but must take effect after 'b' was read; the second
    // cas must come after the first although it was called earlier.
    const history = [
      write(1, [0, 10], 'a'),
      write(2, [1, 3], 'b'),
      read(3, [2, 4], 'b'),
      cas(4, [5, 20], 'c', 'd'),
      cas(5, [6, 12], 'a', 'c'),
      read(3, [13, 14], 'c'),
      read(6, [21, 22], 'd'),
    ];
    expect(verdict(history)).toBe(true);
  });

  it('accepts concurrent reads that see a concurrent write at different moments', () => {
    const history = [
      write(1, [0, 1], 'a'),
      write(2, [2, 10], 'b'),
      read(3, [3, 4], 'a'),
      read(4, [3, 5], 'b'),
      read(3, [6, 7], 'b'),
    ];
    expect(verdict(history)).toBe(true);
  });
});

describe('checkLinearizability on a cas register: rejected histories', () => {
  it('rejects a stale read after a completed write', () => {
    expect(verdict([write(1, [0, 1], 'a'), write(1, [2, 3], 'b'), read(2, [4, 5], 'a')])).toBe(false);
  });

  it('rejects a read of a value never written', () => {
    expect(verdict([write(1, [0, 1], 'a'), read(2, [0, 5], 'ghost')])).toBe(false);
  });

  it('rejects reads that observe two writes in opposite orders (new-old inversion)', () => {
    const history = [
      write(1, [0, 100], 'a'),
      write(2, [0, 100], 'b'),
      read(3, [10, 20], 'a'),
      read(3, [30, 40], 'b'),
      read(4, [10, 20], 'b'),
      read(4, [30, 40], 'a'),
    ];
    expect(verdict(history)).toBe(false);
  });

  it('rejects an old value read after a newer one was seen during a slow write', () => {
    const history = [
      write(1, [0, 1], 'a'),
      write(2, [2, 50], 'b'),
      read(3, [3, 4], 'b'),
      read(3, [5, 6], 'a'),
    ];
    expect(verdict(history)).toBe(false);
  });

  it('rejects a cas that succeeded although the value was different', () => {
    expect(verdict([write(1, [0, 1], 'a'), write(1, [2, 3], 'b'), cas(2, [4, 5], 'a', 'c')])).toBe(false);
  });

  it('rejects two concurrent cas from the same value that both succeeded', () => {
    const history = [write(1, [0, 1], 'a'), cas(2, [2, 5], 'a', 'b'), cas(3, [2, 5], 'a', 'c')];
    expect(verdict(history)).toBe(false);
  });

  it('rejects a lost acknowledged write', () => {
    expect(verdict([write(1, [0, 1], 'a'), read(2, [2, 3], null)])).toBe(false);
  });
});

describe('checkLinearizability violation reports', () => {
  it('reports an evident stale read at once, with the write that overwrote the value', () => {
    const [first, second, stale] = [write(1, [0, 1], 'a'), write(1, [2, 3], 'b'), read(2, [4, 5], 'a')];
    const result = checkLinearizability(casRegisterModel, [first, second, stale], { maxSteps: 1 });
    if (result.ok !== false) throw new Error('expected a violation');
    expect(result).toMatchObject({ key: 'k', longestPrefix: [], blocked: stale });
    expect(result.candidates).toEqual([stale, first, second]);
    expect(result.message).toContain(`#${stale.id} client 2 read -> "a" [4, 5] ok`);
  });

  it('reports the longest linearizable prefix and the operations left when the search fails', () => {
    const [slow, newer, older] = [write(2, [2, 50], 'b'), read(3, [3, 4], 'b'), read(3, [5, 6], 'a')];
    const first = write(1, [0, 1], 'a');
    const result = check([first, slow, newer, older]);
    if (result.ok !== false) throw new Error('expected a violation');
    expect(result.longestPrefix).toEqual([first, slow, newer]);
    expect(result.blocked).toBe(older);
    expect(result.candidates).toEqual([older]);
    expect(result.message).toContain('the longest linearizable prefix found has 3 of 4 operations');
  });
});

describe('checkLinearizability with operations of unknown outcome', () => {
  it('accepts an info write whose value is read later: it took effect', () => {
    const history = [write(1, [0, 1], 'a'), unknown(write(2, [2, 3], 'b')), read(3, [40, 41], 'b')];
    expect(verdict(history)).toBe(true);
  });

  it('accepts an info write never observed: it did not take effect', () => {
    const history = [
      write(1, [0, 1], 'a'),
      unknown(write(2, [2, 3], 'b')),
      read(3, [4, 5], 'a'),
      read(3, [40, 41], 'a'),
    ];
    expect(verdict(history)).toBe(true);
  });

  it('accepts an info read whatever it might have returned', () => {
    const history = [write(1, [0, 1], 'a'), unknown(read(2, [2, 3], 'ghost')), read(3, [4, 5], 'a')];
    expect(verdict(history)).toBe(true);
  });

  it('accepts an info cas that took effect only if its value is seen', () => {
    const history = [write(1, [0, 1], 'a'), unknown(cas(2, [2, 3], 'a', 'b')), read(3, [9, 10], 'b')];
    expect(verdict(history)).toBe(true);
    expect(verdict([write(1, [0, 1], 'x'), ...history.slice(1)])).toBe(false);
  });

  it('rejects an info write observed, then unobserved, then observed again', () => {
    const history = [
      write(1, [0, 1], 'a'),
      unknown(write(2, [2, 3], 'b')),
      read(3, [4, 5], 'b'),
      read(3, [6, 7], 'a'),
      read(3, [8, 9], 'b'),
    ];
    expect(verdict(history)).toBe(false);
    expect(verdict(history.filter((_, index) => index !== 3))).toBe(true);
  });

  it('rejects a value of an info write read before the write was called', () => {
    expect(verdict([read(1, [0, 1], 'b'), unknown(write(2, [2, 3], 'b'))])).toBe(false);
  });
});

describe('checkLinearizability partitioning and limits', () => {
  it('reports the key of the violating partition while the other keys pass', () => {
    const history = [
      onKey('x', write(1, [0, 1], 'x1')),
      onKey('y', write(1, [2, 3], 'y1')),
      onKey('x', read(2, [4, 5], 'x1')),
      onKey('y', read(2, [6, 7], 'x1')),
    ];
    const result = check(history);
    expect(result.ok).toBe(false);
    expect(result.ok === false && result.key).toBe('y');
    expect(check(history.slice(0, 3))).toEqual({ ok: true });
  });

  it('returns unknown instead of searching past the step budget', () => {
    const history = [write(1, [0, 10], 'a'), write(2, [0, 10], 'b'), read(3, [11, 12], 'a')];
    const result = checkLinearizability(casRegisterModel, history, { maxSteps: 2 });
    expect(result).toMatchObject({ ok: 'unknown', key: 'k', reason: 'max-steps' });
  });

  it('throws on an ok operation without a return time', () => {
    const broken = { ...write(1, [0, 1], 'a'), return: undefined };
    expect(() => check([broken])).toThrow(RangeError);
  });

  it('throws on an ok read without an output rather than treating it as unknown', () => {
    const broken = record(1, { type: 'read' }, [0, 1]);
    expect(() => check([broken])).toThrow(TypeError);
  });
});

/** A discrete-event clock: callbacks run in time order, ties in scheduling order. */
class Agenda {
  now = 0;
  private readonly pending: { time: number; order: number; run: () => void }[] = [];
  private scheduled = 0;

  at(time: number, run: () => void): void {
    this.pending.push({ time, order: this.scheduled++, run });
  }

  runAll(): void {
    while (this.pending.length > 0) {
      let next = 0;
      this.pending.forEach((event, index) => {
        const best = this.pending[next]!;
        if (event.time < best.time || (event.time === best.time && event.order < best.order)) next = index;
      });
      const [event] = this.pending.splice(next, 1);
      this.now = event!.time;
      event!.run();
    }
  }
}

interface Simulation {
  seed: number;
  clients: number;
  opsPerClient: number;
  keys: readonly string[];
  infoRate: number;
}

/**
 * Runs clients against an in-memory linearizable register: every operation
 * takes effect at one random instant between its call and its return. An
 * operation turned 'info' takes effect at a random later instant, or never.
 */
function simulate({ seed, clients, opsPerClient, keys, infoRate }: Simulation): CasRegisterOperation[] {
  const random = new SeededRandom(seed);
  const upTo = (max: number): number => random.int(0, max);
  const registers = new Map<string, RegisterValue>();
  const lastSeen = new Map<string, RegisterValue>();
  const history: CasRegisterOperation[] = [];
  const agenda = new Agenda();

  const chooseInput = (id: number, seen: RegisterValue): CasRegisterInput => {
    const dice = random.next();
    if (dice < 0.4) return { type: 'read' };
    if (dice < 0.7) return { type: 'write', value: `v${id}` };
    if (dice < 0.9) return { type: 'cas', from: random.next() < 0.8 ? seen : null, to: `v${id}` };
    return { type: 'delete' };
  };
  const takeEffect = (op: CasRegisterOperation, info: boolean): void => {
    const current = registers.get(op.key) ?? null;
    const input = op.input;
    if (input.type === 'read' && !info) op.output = current;
    if (input.type === 'write') registers.set(op.key, input.value);
    if (input.type === 'delete') registers.set(op.key, null);
    if (input.type === 'cas' && input.from === current) registers.set(op.key, input.to);
    if (input.type === 'cas' && input.from !== current && !info) op.status = 'fail';
  };
  const issue = (clientId: number, issued: number): void => {
    if (issued === opsPerClient) return;
    const key = keys[upTo(keys.length - 1)]!;
    const seen = lastSeen.get(`${clientId}/${key}`) ?? null;
    const id = history.length;
    const op: CasRegisterOperation = {
      id, clientId, key, input: chooseInput(id, seen), call: agenda.now, return: undefined, status: 'ok',
    };
    history.push(op);
    const info = random.next() < infoRate;
    const returnAt = agenda.now + 1 + upTo(20);
    const effectAt = agenda.now + upTo((info ? 4 : 1) * (returnAt - agenda.now));
    if (!info || random.next() < 0.5) agenda.at(effectAt, () => takeEffect(op, info));
    agenda.at(returnAt, () => {
      if (info) op.status = 'info';
      else op.return = returnAt;
      if (op.status === 'ok') lastSeen.set(`${clientId}/${key}`, op.output ?? valueWritten(op.input));
      agenda.at(returnAt + upTo(5), () => issue(clientId, issued + 1));
    });
  };
  for (let client = 0; client < clients; client++) agenda.at(upTo(10), () => issue(client, 0));
  agenda.runAll();
  return history;
}

function valueWritten(input: CasRegisterInput): RegisterValue {
  if (input.type === 'write') return input.value;
  if (input.type === 'cas') return input.to;
  return null;
}

const isOkRead = (op: CasRegisterOperation): boolean => op.status === 'ok' && op.input.type === 'read';
const isWrite = (op: CasRegisterOperation): boolean => op.input.type === 'write' || op.input.type === 'cas';
const isOkMutation = (op: CasRegisterOperation): boolean => op.status === 'ok' && op.input.type !== 'read';

function withOutput(history: CasRegisterOperation[], target: CasRegisterOperation, output: RegisterValue) {
  return history.map((op) => (op === target ? { ...op, output } : op));
}

/** A read returns the value of a write (or cas) that was called only after the read returned. */
function corruptWithFutureRead(history: CasRegisterOperation[]): CasRegisterOperation[] | undefined {
  for (const reader of history.filter(isOkRead)) {
    const future = history.find((op) => op.key === reader.key && isWrite(op) && op.call > reader.return!);
    if (future) return withOutput(history, reader, valueWritten(future.input));
  }
  return undefined;
}

/** A read returns the value of a write that a completed mutation overwrote before the read was called. */
function corruptWithStaleRead(history: CasRegisterOperation[]): CasRegisterOperation[] | undefined {
  for (const reader of [...history].reverse().filter(isOkRead)) {
    const sameKey = history.filter((op) => op.key === reader.key && op.status === 'ok');
    for (const overwrite of sameKey.filter((op) => isOkMutation(op) && op.return! < reader.call)) {
      const old = sameKey.find((op) => isWrite(op) && op.return! < overwrite.call);
      if (old) return withOutput(history, reader, valueWritten(old.input));
    }
  }
  return undefined;
}


describe('checkLinearizability against simulated linearizable registers', () => {
  const simulations = Array.from({ length: 300 }, (_, seed) => ({
    seed,
    clients: 2 + (seed % 7),
    opsPerClient: 5 + (seed % 11),
    keys: seed % 3 === 0 ? ['k1', 'k2'] : ['k1'],
    infoRate: 0.1,
  }));

  it('accepts every history a linearizable register produces', () => {
    for (const simulation of simulations) {
      const result = check(simulate(simulation));
      expect({ seed: simulation.seed, result }).toEqual({ seed: simulation.seed, result: { ok: true } });
    }
  });

  it('rejects those histories once a read returns a value it cannot have seen', () => {
    let corrupted = 0;
    for (const simulation of simulations) {
      const history = simulate(simulation);
      for (const corrupt of [corruptWithFutureRead, corruptWithStaleRead]) {
        const bad = corrupt(history);
        if (!bad) continue;
        corrupted++;
        for (const model of [casRegisterModel, searchOnly]) {
          const ok = check(bad, model).ok;
          expect({ seed: simulation.seed, corrupt: corrupt.name, ok }).toMatchObject({ ok: false });
        }
      }
    }
    expect(corrupted).toBeGreaterThan(400);
  });

  it('gives the verdict of the bare search on histories with one read changed at random', () => {
    for (let seed = 0; seed < 150; seed++) {
      const clients = 2 + (seed % 4);
      const history = simulate({ seed, clients, opsPerClient: 6, keys: ['k'], infoRate: 0.1 });
      const random = new SeededRandom(seed);
      const reads = history.filter(isOkRead);
      const values = [null, ...history.filter(isWrite).map((op) => valueWritten(op.input))];
      const victim = reads[Math.floor(random.next() * reads.length)];
      const output = values[Math.floor(random.next() * values.length)]!;
      const changed = victim ? withOutput(history, victim, output) : history;
      expect(verdict(changed)).not.toBe('unknown');
    }
  });

  it('returns unknown once the time budget is spent', () => {
    const history = simulate({ seed: 7, clients: 16, opsPerClient: 100, keys: ['k'], infoRate: 0 });
    const result = checkLinearizability(casRegisterModel, history, { timeoutMs: 0 });
    expect(result).toMatchObject({ ok: 'unknown', key: 'k', reason: 'timeout' });
  });

  it('checks 5000 operations of 16 clients on one key in under 2 s', () => {
    const history = simulate({ seed: 42, clients: 16, opsPerClient: 313, keys: ['k'], infoRate: 0.02 });
    expect(history.length).toBeGreaterThanOrEqual(5000);
    const started = performance.now();
    const result = checkLinearizability(casRegisterModel, history, { timeoutMs: 10_000 });
    const elapsed = performance.now() - started;
    expect(result).toEqual({ ok: true });
    expect(elapsed, `checked in ${elapsed.toFixed(0)} ms`).toBeLessThan(2_000);
  });
});
