/**
 * A steady load of idempotent writes (PUT, each to a new object) through the
 * router, as a careful client would send it: a 503 (retryable) is retried
 * after a short pause; anything else that is not a success is a failure.
 * Every acknowledged write is remembered so a test can read it back.
 */
import { send } from './http-client.js';

export interface Ack {
  readonly path: string;
  readonly body: string;
  readonly worker: string;
  readonly at: number;
}

export class WriteLoad {
  readonly acks: Ack[] = [];
  readonly failures: string[] = [];
  retried503 = 0;
  private running = false;
  private loops: Promise<void>[] = [];
  private seq = 0;

  constructor(
    private readonly url: string,
    private readonly users: readonly string[],
    private readonly concurrency = 4,
  ) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.concurrency }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** The first acknowledged write for `user` at or after `since` (epoch ms). */
  firstAckAfter(user: string, since: number): Ack | undefined {
    return this.acks.find((ack) => ack.at >= since && ack.path.startsWith(`/api/users/${user}/`));
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const n = this.seq++;
      const user = this.users[n % this.users.length]!;
      const path = `/api/users/${user}/load/k${n}`;
      const body = JSON.stringify({ n });
      await this.write(path, body);
    }
  }

  private async write(path: string, body: string): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      let status: number;
      let worker = '';
      let detail = '';
      try {
        const reply = await send(this.url, path, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
        status = reply.status;
        worker = String(reply.headers['x-pinbase-worker']);
        detail = reply.body;
      } catch (error) {
        this.failures.push(`${path}: ${(error as Error).message}`);
        return;
      }
      if (status === 200 || status === 201) {
        this.acks.push({ path, body, worker, at: Date.now() });
        return;
      }
      if (status !== 503) {
        this.failures.push(`${path}: ${status} ${detail}`);
        return;
      }
      this.retried503++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    this.failures.push(`${path}: still 503 after 100 attempts`);
  }
}

/** Reads every acknowledged write back; returns the ones that are missing or different. */
export async function missingAcks(url: string, acks: readonly Ack[]): Promise<string[]> {
  const missing: string[] = [];
  for (const ack of acks) {
    for (let attempt = 0; ; attempt++) {
      const reply = await send(url, ack.path);
      if (reply.status === 503 && attempt < 100) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      if (reply.status !== 200 || JSON.stringify(reply.json()) !== ack.body) missing.push(`${ack.path}: ${reply.status} ${reply.body}`);
      break;
    }
  }
  return missing;
}
