/**
 * One careful client per user, through the router, one request at a time:
 *   PUT /reg/r {"v": k}   (Idempotency-Key <user>-r<k>), then
 *   GET /reg/r            must show v = k: anything older is a stale read
 *                         (the user's file read through a mount that did
 *                         not see the last commit),
 *   POST /items {"n": k}  (Idempotency-Key <user>-i<k>): a server-made id,
 *                         so a write applied twice leaves two objects.
 * A write answered 429/503 or not answered (network error, timeout) is sent
 * again with the same key until it is acknowledged, so at the end every
 * user holds items n = 1..k exactly once, and the register holds k.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { GlusterCluster } from '../../support/glusterfs/gluster-cluster.js';
import type { Reply } from '../../support/http-client.js';

export interface UserAck {
  k: number;
  worker: string;
  at: number;
}

export class UserWriter {
  /** Writes acknowledged (k of the last one). */
  k = 0;
  readonly acks: UserAck[] = [];
  readonly staleReads: string[] = [];
  readonly failures: string[] = [];
  retries = 0;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly cluster: GlusterCluster,
    readonly user: string,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The last acknowledgement at or after `since` from `worker`, if any. */
  ackedBy(worker: string, since: number): UserAck | undefined {
    for (let i = this.acks.length - 1; i >= 0 && this.acks[i]!.at >= since; i--) if (this.acks[i]!.worker === worker) return this.acks[i];
    return undefined;
  }

  /** Every item's n (all pages), read through the router. */
  async itemNumbers(): Promise<number[]> {
    const numbers: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '?limit=1000' : `?limit=1000&cursor=${encodeURIComponent(cursor)}`;
      const reply = await this.untilAnswered(() => this.cluster.userRequest(this.user, `/items${query}`));
      if (reply.status !== 200) throw new Error(`list ${this.user}/items: ${reply.status} ${reply.body}`);
      const page = reply.json() as { items: { data: { n: number } }[]; next: string | null };
      for (const item of page.items) numbers.push(item.data.n);
      cursor = page.next;
    } while (cursor !== null);
    return numbers.sort((a, b) => a - b);
  }

  /** The register's value, read through the router. */
  async register(): Promise<number | undefined> {
    const reply = await this.untilAnswered(() => this.cluster.userRequest(this.user, '/reg/r'));
    return reply.status === 200 ? (reply.json() as { v: number }).v : undefined;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const k = this.k + 1;
      const put = await this.untilAnswered(() =>
        this.cluster.userRequest(this.user, '/reg/r', { method: 'PUT', json: { v: k }, headers: { 'idempotency-key': `${this.user}-r${k}` } }),
      );
      if (put.status !== 200 && put.status !== 201) {
        this.failures.push(`PUT ${this.user}/reg/r v=${k}: ${put.status} ${put.body}`);
        return;
      }
      const read = await this.untilAnswered(() => this.cluster.userRequest(this.user, '/reg/r'));
      const seen = read.status === 200 ? (read.json() as { v: number }).v : undefined;
      if (seen !== k) this.staleReads.push(`${this.user}: wrote v=${k} (acked by ${put.header('x-pinbase-worker')}), then read ${read.status} v=${seen} from ${read.header('x-pinbase-worker')}`);
      const post = await this.untilAnswered(() =>
        this.cluster.userRequest(this.user, '/items', { method: 'POST', json: { n: k }, headers: { 'idempotency-key': `${this.user}-i${k}` } }),
      );
      if (post.status !== 200 && post.status !== 201) {
        this.failures.push(`POST ${this.user}/items n=${k}: ${post.status} ${post.body}`);
        return;
      }
      this.k = k;
      this.acks.push({ k, worker: post.header('x-pinbase-worker') ?? '', at: Date.now() });
    }
  }

  /** Sends `request` until it is answered with something other than 429/503 (at most 60 s). */
  private async untilAnswered(request: () => Promise<Reply>): Promise<Reply> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      let reply: Reply | undefined;
      try {
        reply = await request();
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (reply !== undefined && ((reply.status !== 429 && reply.status !== 503) || Date.now() > deadline)) return reply;
      this.retries++;
      await sleep(20);
    }
  }
}
