/**
 * The chaos workload's operations, issued through `pinbase/client` instead of
 * raw HTTP, recorded in the chaos checkers' formats (test/system/chaos):
 * register operations for the linearizability checker (models.ts), counter
 * increments for the counter check (counter-check.ts).
 *
 * Per user: a register (`reg/r`, `{ v }`) and a counter (`ctr/c`, `{ n, by }`).
 * - read: `get`; object_not_found reads as absent (null);
 * - write: `put` of a value no other write uses;
 * - cas: a recorded read, then `put` with `ifRev` (`ifAbsent` when absent);
 * - increment: `get` of the counter, then `tx` with that rev in the read set
 *   and a put of n + 1 carrying the increment's Idempotency-Key in `by`.
 * Every write gets its own Idempotency-Key from here, so that the counter
 * check can replay an increment of unknown outcome with the same key and
 * bytes. The client retries by itself; what it finally answers decides the
 * operation's status (clientOutcome).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PinbaseClient } from '../../../services/client/index.js';
import { PinbaseError } from '../../../services/client/index.js';
import type { OperationStatus } from '../../system/chaos/linearizability.js';
import type { CasRegisterInput, CasRegisterOperation, RegisterValue } from '../../system/chaos/models.js';
import type { IncrementRecord } from '../../system/chaos/workload.js';

/**
 * What an error the client finally threw says about a write: a worker's
 * decision on the request (precondition, read-set conflict) means it was not
 * applied — a retry with the same key after an earlier attempt had been
 * applied would have answered that attempt's stored result instead. Anything
 * else (a deadline spent on 502s, 503s, timeouts) leaves it unknown.
 */
export function clientOutcome(error: unknown): OperationStatus {
  if (error instanceof PinbaseError && (error.code === 'precondition_failed' || error.code === 'transaction_conflict')) return 'fail';
  return 'info';
}

interface Counter {
  n: number;
  by: string;
}

export class ClientWorkload {
  readonly history: CasRegisterOperation[] = [];
  readonly increments: IncrementRecord[] = [];
  readonly errors = new Map<string, number>();
  private nextId = 0;

  constructor(
    private readonly runId: string,
    private readonly users: readonly string[],
  ) {}

  /** Runs `clients` lanes (lane i uses clients[i % clients.length]) until `durationMs` from now. */
  async run(clients: readonly PinbaseClient[], lanes: number, durationMs: number): Promise<void> {
    const stopAt = performance.now() + durationMs;
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        const client = clients[lane % clients.length]!;
        for (let n = 1; performance.now() < stopAt; n++) {
          const user = this.users[Math.floor(Math.random() * this.users.length)]!;
          const tag = `${this.runId}.c${lane}-${n}`;
          const pick = Math.random();
          if (pick < 0.2) await this.read(client, lane, user);
          else if (pick < 0.45) await this.write(client, lane, user, tag);
          else if (pick < 0.7) await this.cas(client, lane, user, tag);
          else await this.increment(client, lane, user, tag);
        }
      }),
    );
  }

  /** One recorded read of every register (retried until answered), so that the checker sees the final values. */
  async readEveryRegister(client: PinbaseClient): Promise<void> {
    await Promise.all(
      this.users.map(async (user) => {
        for (let i = 0; i < 20 && (await this.read(client, this.users.length + 1000, user)) === undefined; i++) await sleep(250);
      }),
    );
  }

  private async read(client: PinbaseClient, clientId: number, user: string): Promise<{ value: RegisterValue; rev: number } | undefined> {
    const call = performance.now();
    let seen: { value: RegisterValue; rev: number } | undefined;
    try {
      const got = await client.user(user).collection<{ v: string }>('reg').get('r');
      seen = { value: got.data.v, rev: got.rev };
    } catch (error) {
      if (error instanceof PinbaseError && error.code === 'object_not_found') seen = { value: null, rev: 0 };
      else this.countError('read', error);
    }
    const op: CasRegisterOperation = { id: this.nextId++, clientId, key: user, input: { type: 'read' }, call, return: performance.now(), status: seen ? 'ok' : 'fail' };
    if (seen) op.output = seen.value;
    this.history.push(op);
    return seen;
  }

  private async write(client: PinbaseClient, clientId: number, user: string, tag: string): Promise<void> {
    await this.recordWrite(clientId, user, { type: 'write', value: tag }, () =>
      client.user(user).collection<{ v: string }>('reg').put('r', { v: tag }, { idempotencyKey: tag }),
    );
  }

  private async cas(client: PinbaseClient, clientId: number, user: string, tag: string): Promise<void> {
    const seen = await this.read(client, clientId, user);
    if (!seen) return;
    const condition = seen.value === null ? { ifAbsent: true } : { ifRev: seen.rev };
    await this.recordWrite(clientId, user, { type: 'cas', from: seen.value, to: tag }, () =>
      client.user(user).collection<{ v: string }>('reg').put('r', { v: tag }, { idempotencyKey: tag, ...condition }),
    );
  }

  private async increment(client: PinbaseClient, clientId: number, user: string, key: string): Promise<void> {
    let seen: { n: number; rev: number };
    try {
      const got = await client.user(user).collection<Counter>('ctr').get('c');
      seen = { n: got.data.n, rev: got.rev };
    } catch (error) {
      if (!(error instanceof PinbaseError && error.code === 'object_not_found')) {
        this.countError('increment read', error);
        return;
      }
      seen = { n: 0, rev: 0 };
    }
    const reads = [{ collection: 'ctr', id: 'c', rev: seen.rev }];
    const ops = [{ op: 'put' as const, collection: 'ctr', id: 'c', data: { n: seen.n + 1, by: key } }];
    const call = performance.now();
    let status: OperationStatus = 'ok';
    let outcome = 'ok';
    try {
      await client.user(user).tx(reads, ops, { idempotencyKey: key });
    } catch (error) {
      status = clientOutcome(error);
      outcome = this.countError('increment', error);
    }
    this.increments.push({
      id: this.nextId++,
      clientId,
      user,
      key,
      path: `/api/users/${user}/_tx`,
      // The bytes the client sent: the counter check replays an unknown increment with them.
      body: JSON.stringify({ reads, ops }),
      readValue: seen.n,
      readRev: seen.rev,
      status,
      call,
      return: performance.now(),
      attempts: [outcome],
    });
  }

  private async recordWrite(clientId: number, user: string, input: CasRegisterInput, write: () => Promise<unknown>): Promise<void> {
    const call = performance.now();
    let status: OperationStatus = 'ok';
    try {
      await write();
    } catch (error) {
      status = clientOutcome(error);
      this.countError(input.type, error);
    }
    const returned = performance.now();
    this.history.push({ id: this.nextId++, clientId, key: user, input, call, return: status === 'info' ? undefined : returned, status });
  }

  /** Counts an error by its kind and code; returns the label. */
  private countError(kind: string, error: unknown): string {
    const label = `${kind}: ${error instanceof PinbaseError ? `${error.status} ${error.code}` : String(error)}`;
    this.errors.set(label, (this.errors.get(label) ?? 0) + 1);
    return label;
  }
}
