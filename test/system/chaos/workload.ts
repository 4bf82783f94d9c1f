/**
 * The chaos workload: concurrent clients over a set of users, every request
 * through the router, every operation recorded for the checkers.
 *
 * Per user: one register (`reg/r`, body `{ "v": value }`) and one counter
 * (`ctr/c`, body `{ "n": count, "by": key of the increment that wrote it }`).
 * - read: GET the register (404 object_not_found = absent, null);
 * - write: PUT a value no other write uses (`c<client>-<n>`);
 * - cas: a read (recorded as one), then PUT with If-Match of the rev it saw
 *   (If-None-Match: * when absent), recorded as cas(from = the value read,
 *   to = a new value); 412 is a fail;
 * - delete: DELETE the register; 404 (already absent) is a fail;
 * - increment: GET the counter, then POST /_tx with that rev in the read set
 *   and a put of n + 1; 409 is a fail. Not part of the register history:
 *   checked by counter-check.ts.
 * Every write carries an Idempotency-Key, and a retryable failure is retried
 * with the same key and the same bytes: one logical operation from its first
 * call to its last return (attempt-outcome.ts says how it resolves). Times
 * are performance.now() in this process.
 *
 * Impatient writes: a few writes (`impatientShare`) give up after 2-50 ms
 * and are never retried, as a client that loses interest (or its
 * connection) would. The router and the worker usually carry on and apply
 * them, so they are true unknowns ('info'), which the checkers must place
 * (or not) themselves: faults alone rarely produce one, because the router
 * re-sends keyed writes that broke midway.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { attemptLabel, classifyAttempt, resolveOperation, type Attempt } from './attempt-outcome.js';
import type { OperationStatus } from './linearizability.js';
import type { CasRegisterInput, CasRegisterOperation, RegisterValue } from './models.js';
import { OperationTally, type OperationType } from './operation-tally.js';
import { revOf, type RouterClient } from './router-client.js';
import type { SeededRandom } from './seeded-random.js';

export interface WorkloadOptions {
  client: RouterClient;
  users: number;
  clients: number;
  random: SeededRandom;
  /** Makes Idempotency-Keys unique to the run. */
  runId: string;
  /** Relative weights of the operation types. */
  mix?: Readonly<Record<OperationType, number>>;
  /** Attempts per write at most (default 4). */
  maxAttempts?: number;
  /** A write is not retried once this long has passed since its first call (default 12 s). */
  retryWindowMs?: number;
  /** The share of writes sent with a 2-50 ms timeout and never retried (default 0.03). */
  impatientShare?: number;
}

/** One logical counter increment. */
export interface IncrementRecord {
  id: number;
  clientId: number;
  user: string;
  key: string;
  path: string;
  /** The exact request body: a replay must repeat it byte for byte. */
  body: string;
  /** The counter's value and rev when the client read it (0, 0: absent). */
  readValue: number;
  readRev: number;
  status: OperationStatus;
  call: number;
  return: number;
  /** Every attempt's response label, in order. */
  attempts: string[];
}

/**
 * A write whose success was a replay (`Idempotent-Replayed: true`: an
 * earlier attempt had applied it) although every earlier attempt had been
 * answered with a refusal that says nothing was applied: one of those
 * answers was wrong. (A replay on the first attempt is fine: the router
 * re-sent the keyed write after the connection broke midway.)
 */
export interface RefusedButApplied {
  type: OperationType;
  method: string;
  path: string;
  key: string;
  attempts: string[];
}

export const DEFAULT_MIX: Readonly<Record<OperationType, number>> = {
  read: 25,
  write: 20,
  cas: 25,
  delete: 5,
  increment: 25,
};

export const registerPath = (user: string): string => `/api/users/${user}/reg/r`;
export const counterPath = (user: string): string => `/api/users/${user}/ctr/c`;
export const userName = (index: number): string => `u${index}`;

interface WriteResult {
  status: OperationStatus;
  call: number;
  return: number;
  attempts: string[];
}

export class Workload {
  /** Register operations, for the linearizability checker. */
  readonly history: CasRegisterOperation[] = [];
  readonly increments: IncrementRecord[] = [];
  readonly tally = new OperationTally();
  readonly refusedButApplied: RefusedButApplied[] = [];
  private readonly client: RouterClient;
  private readonly mix: Readonly<Record<OperationType, number>>;
  private readonly maxAttempts: number;
  private readonly retryWindowMs: number;
  private readonly impatientShare: number;
  private nextId = 0;
  private stopAt = 0;

  constructor(private readonly options: WorkloadOptions) {
    this.client = options.client;
    this.mix = options.mix ?? DEFAULT_MIX;
    this.maxAttempts = options.maxAttempts ?? 4;
    this.retryWindowMs = options.retryWindowMs ?? 12_000;
    this.impatientShare = options.impatientShare ?? 0.03;
  }

  /** Runs every client until `durationMs` from now; resolves when the last operation has ended. */
  async run(durationMs: number): Promise<void> {
    this.stopAt = performance.now() + durationMs;
    const clients = Array.from({ length: this.options.clients }, (_, clientId) =>
      this.runClient(clientId, this.options.random.fork()),
    );
    await Promise.all(clients);
  }

  /**
   * After the faults: one read of every register (recorded, retried until it
   * gets an answer or `withinMs` has passed), so that the checker sees every
   * register's final value. Resolves with the users that never answered.
   */
  async readEveryRegister(withinMs: number): Promise<string[]> {
    const unanswered: string[] = [];
    const readerId = this.options.clients;
    const deadline = performance.now() + withinMs;
    await Promise.all(
      Array.from({ length: this.options.users }, async (_, index) => {
        const user = userName(index);
        do {
          if (await this.read(readerId, user)) return;
          await sleep(500);
        } while (performance.now() < deadline);
        unanswered.push(user);
      }),
    );
    return unanswered.sort();
  }

  private async runClient(clientId: number, random: SeededRandom): Promise<void> {
    let n = 0;
    while (performance.now() < this.stopAt) {
      const type = random.weighted(this.mix);
      const user = userName(random.int(0, this.options.users - 1));
      n++;
      const tag = `c${clientId}-${n}`;
      switch (type) {
        case 'read':
          await this.read(clientId, user);
          break;
        case 'write':
          await this.write(clientId, user, tag, random);
          break;
        case 'cas':
          await this.cas(clientId, user, tag, random);
          break;
        case 'delete':
          await this.remove(clientId, user, tag, random);
          break;
        case 'increment':
          await this.increment(clientId, user, tag, random);
          break;
      }
    }
  }

  /** A recorded register read; resolves with what it saw (and the rev), or undefined without an answer. */
  private async read(clientId: number, user: string): Promise<{ value: RegisterValue; rev: number } | undefined> {
    const call = performance.now();
    const attempt = await this.client.send('GET', registerPath(user));
    const returned = performance.now();
    this.tally.countResponse('read', attemptLabel(attempt));
    const seen = registerValue(attempt);
    const op: CasRegisterOperation = {
      id: this.nextId++,
      clientId,
      key: user,
      input: { type: 'read' },
      call,
      return: returned,
      status: seen ? 'ok' : classifyAttempt(attempt).outcome === 'fail' ? 'fail' : 'info',
    };
    if (seen) op.output = seen.value;
    this.history.push(op);
    this.tally.countOperation('read', op.status);
    return seen;
  }

  private async write(clientId: number, user: string, tag: string, random: SeededRandom): Promise<void> {
    const body = JSON.stringify({ v: tag });
    const result = await this.sendWrite('write', 'PUT', registerPath(user), this.keyed(tag), body, random);
    this.recordRegister(clientId, user, { type: 'write', value: tag }, result);
  }

  private async cas(clientId: number, user: string, tag: string, random: SeededRandom): Promise<void> {
    const seen = await this.read(clientId, user);
    if (!seen) return;
    const condition: Record<string, string> = seen.value === null ? { 'if-none-match': '*' } : { 'if-match': `"${seen.rev}"` };
    const body = JSON.stringify({ v: tag });
    const result = await this.sendWrite('cas', 'PUT', registerPath(user), { ...this.keyed(tag), ...condition }, body, random);
    this.recordRegister(clientId, user, { type: 'cas', from: seen.value, to: tag }, result);
  }

  private async remove(clientId: number, user: string, tag: string, random: SeededRandom): Promise<void> {
    const result = await this.sendWrite('delete', 'DELETE', registerPath(user), this.keyed(tag), undefined, random);
    this.recordRegister(clientId, user, { type: 'delete' }, result);
  }

  private async increment(clientId: number, user: string, tag: string, random: SeededRandom): Promise<void> {
    const read = await this.client.send('GET', counterPath(user));
    this.tally.countResponse('increment', `read ${attemptLabel(read)}`);
    const seen = counterValue(read);
    if (!seen) return;
    const key = this.key(tag);
    const body = JSON.stringify({
      reads: [{ collection: 'ctr', id: 'c', rev: seen.rev }],
      ops: [{ op: 'put', collection: 'ctr', id: 'c', data: { n: seen.n + 1, by: key } }],
    });
    const path = `/api/users/${user}/_tx`;
    const result = await this.sendWrite('increment', 'POST', path, { 'idempotency-key': key }, body, random);
    this.increments.push({
      id: this.nextId++,
      clientId,
      user,
      key,
      path,
      body,
      readValue: seen.n,
      readRev: seen.rev,
      ...result,
    });
    this.tally.countOperation('increment', result.status);
  }

  /** Sends a write, retrying retryable failures with the same key and bytes; see attempt-outcome.ts. */
  private async sendWrite(
    type: OperationType,
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    random: SeededRandom,
  ): Promise<WriteResult> {
    const impatient = random.next() < this.impatientShare;
    const options = { headers, ...(body === undefined ? {} : { body }), ...(impatient ? { timeoutMs: random.int(2, 50) } : {}) };
    const maxAttempts = impatient ? 1 : this.maxAttempts;
    const call = performance.now();
    const outcomes: OperationStatus[] = [];
    const attempts: string[] = [];
    for (let i = 1; ; i++) {
      const attempt = await this.client.send(method, path, options);
      const verdict = classifyAttempt(attempt);
      outcomes.push(verdict.outcome);
      attempts.push(attemptLabel(attempt) + (impatient ? ' (impatient)' : '') + (attempt.worker ? ` @${attempt.worker}` : ''));
      this.tally.countResponse(type, attemptLabel(attempt));
      const now = performance.now();
      if (verdict.outcome === 'ok' && attempt.replayed && i > 1 && outcomes.slice(0, -1).every((o) => o === 'fail')) {
        this.refusedButApplied.push({ type, method, path, key: headers['idempotency-key'] ?? '', attempts: [...attempts] });
      }
      if (!verdict.retry || i >= maxAttempts || now - call > this.retryWindowMs || now > this.stopAt) break;
      await sleep(random.int(100, 300) * i);
    }
    return { status: resolveOperation(outcomes), call, return: performance.now(), attempts };
  }

  private recordRegister(clientId: number, user: string, input: CasRegisterInput, result: WriteResult): void {
    this.history.push({
      id: this.nextId++,
      clientId,
      key: user,
      input,
      call: result.call,
      return: result.status === 'info' ? undefined : result.return,
      status: result.status,
    });
    this.tally.countOperation(input.type, result.status);
  }

  private key(tag: string): string {
    return `${this.options.runId}.${tag}`;
  }

  private keyed(tag: string): Record<string, string> {
    return { 'idempotency-key': this.key(tag) };
  }
}

/** The register's value in a read's answer; undefined when the read got no answer. */
function registerValue(attempt: Attempt): { value: RegisterValue; rev: number } | undefined {
  if (attempt.status === 404 && attempt.code === 'object_not_found') return { value: null, rev: 0 };
  if (attempt.status !== 200) return undefined;
  const rev = revOf(attempt.etag) ?? -1;
  try {
    const { v } = JSON.parse(attempt.body ?? '') as { v?: unknown };
    return { value: typeof v === 'string' ? v : `<malformed ${attempt.body}>`, rev };
  } catch {
    return { value: `<malformed ${attempt.body}>`, rev };
  }
}

/** The counter and its rev in a read's answer (0, 0 when absent); undefined without an answer. */
function counterValue(attempt: Attempt): { n: number; rev: number } | undefined {
  if (attempt.status === 404 && attempt.code === 'object_not_found') return { n: 0, rev: 0 };
  const rev = revOf(attempt.etag);
  if (attempt.status !== 200 || rev === undefined) return undefined;
  const { n } = JSON.parse(attempt.body ?? '{}') as { n?: unknown };
  return typeof n === 'number' ? { n, rev } : undefined;
}
