/**
 * A steady load of writes through the router, sent as a careful client
 * sends them, and the check that reads every acknowledged one back.
 *
 * Every write is a PUT of a new object (`/api/users/<user>/load/<name>-<n>`,
 * body `{"n":<n>}`) with an Idempotency-Key. An answer that says "nothing
 * was changed, try again" (429, 503) is retried with the same key after a
 * short pause; a network error, a timeout (15 s) or any other answer that is not a
 * success is a failure. Every acknowledged write is remembered. With
 * `authorization`, every request carries that user's Authorization header.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { send, type Reply } from './http-client.js';

export interface Write {
  readonly path: string;
  readonly body: string;
}

/** The Authorization header value for a user's requests (e.g. `Bearer <JWT>`). */
export type UserAuthorization = (userId: string) => string;

/** The user of `/api/users/<id>/...`. */
function userOf(path: string): string {
  const user = /^\/api\/users\/([^/]+)\//.exec(path)?.[1];
  if (user === undefined) throw new Error(`not a user's path: ${path}`);
  return user;
}

function authorizationHeaders(path: string, authorization: UserAuthorization | undefined): Record<string, string> {
  return authorization === undefined ? {} : { authorization: authorization(userOf(path)) };
}

export interface Ack extends Write {
  /** The worker that acknowledged it (X-Pinbase-Worker). */
  readonly worker: string;
  /** When the acknowledgement arrived (epoch ms). */
  readonly at: number;
  /** When the write was first sent (epoch ms). */
  readonly sentAt: number;
}

/** Statuses that say nothing was changed and the request may be sent again. */
const RETRYABLE = new Set([429, 503]);
const RETRY_PAUSE_MS = 50;
const MAX_RETRIES = 100;

/** Sends `request` again while it is answered 429 or 503, up to 100 times; rejects on a network error. */
async function retried(request: () => Promise<Reply>): Promise<Reply & { retries: number }> {
  for (let retries = 0; ; retries++) {
    const reply = await request();
    if (!RETRYABLE.has(reply.status) || retries >= MAX_RETRIES) return { ...reply, retries };
    await sleep(RETRY_PAUSE_MS);
  }
}

/** PUT `write` with Idempotency-Key `key`, retrying 429 and 503; rejects on a network error. */
export function putWithRetry(url: string, write: Write, key: string, authorization?: UserAuthorization): Promise<Reply & { retries: number }> {
  const headers = { 'content-type': 'application/json', 'idempotency-key': key, ...authorizationHeaders(write.path, authorization) };
  return retried(() => send(url, write.path, { method: 'PUT', headers, body: write.body }));
}

export interface WriteLoadOptions {
  /** Names the objects and keys; unique per WriteLoad of this process by default. */
  name?: string;
  /** Writers running at once (default 4). */
  concurrency?: number;
  /** Pause of each writer after each write (default 0). */
  pauseMs?: number;
  /** Each user's Authorization header (default: none). */
  authorization?: UserAuthorization;
}

let loads = 0;

export class WriteLoad {
  readonly acks: Ack[] = [];
  readonly failures: string[] = [];
  /** 429/503 answers retried. */
  retries = 0;
  private readonly name: string;
  private readonly concurrency: number;
  private readonly pauseMs: number;
  private readonly authorization: UserAuthorization | undefined;
  private running = false;
  private loops: Promise<void>[] = [];
  private next = 0;

  constructor(
    private readonly url: string,
    private readonly users: readonly string[],
    options: WriteLoadOptions = {},
  ) {
    this.name = options.name ?? `load${++loads}`;
    this.concurrency = options.concurrency ?? 4;
    this.pauseMs = options.pauseMs ?? 0;
    this.authorization = options.authorization;
  }

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.concurrency }, () => this.loop());
  }

  /** Resolves once every write under way has ended. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /**
   * The first acknowledged write for `user` first sent at or after `since`
   * (epoch ms). A write sent earlier may be acknowledged later by a worker
   * that has since been killed: it was served before the kill.
   */
  firstAckSentAfter(user: string, since: number): Ack | undefined {
    return this.acks.find((ack) => ack.sentAt >= since && ack.path.startsWith(`/api/users/${user}/`));
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const n = this.next++;
      const tag = `${this.name}-${n}`;
      const write = { path: `/api/users/${this.users[n % this.users.length]}/load/${tag}`, body: JSON.stringify({ n }) };
      const sentAt = Date.now();
      try {
        const reply = await putWithRetry(this.url, write, tag, this.authorization);
        this.retries += reply.retries;
        if (reply.status === 200 || reply.status === 201) this.acks.push({ ...write, worker: reply.header('x-pinbase-worker') ?? '', at: Date.now(), sentAt });
        else this.failures.push(`${write.path}: ${reply.status} ${reply.body}`);
      } catch (error) {
        this.failures.push(`${write.path}: ${(error as Error).message}`);
      }
      if (this.pauseMs > 0) await sleep(this.pauseMs);
    }
  }
}

/**
 * Reads every write back (a 429 or 503 is retried as above); resolves with
 * one line for each that is missing or holds something else.
 */
export async function unreadableWrites(url: string, writes: Iterable<Write>, authorization?: UserAuthorization): Promise<string[]> {
  const problems: string[] = [];
  for (const write of writes) {
    const reply = await retried(() => send(url, write.path, { headers: authorizationHeaders(write.path, authorization) }));
    if (reply.status !== 200) problems.push(`${write.path}: ${reply.status} ${reply.body}`);
    else if (JSON.stringify(JSON.parse(reply.body)) !== JSON.stringify(JSON.parse(write.body))) {
      problems.push(`${write.path}: read ${reply.body}, wrote ${write.body}`);
    }
  }
  return problems;
}
