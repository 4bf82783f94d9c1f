/**
 * A client of the deployed cluster, through its router: single REST calls,
 * and a steady background load of writes sent as a careful client would
 * (PUT with an Idempotency-Key; 429/503 retried after Retry-After). Every
 * acknowledged write is remembered so a test can read it back.
 */

export interface Reply {
  status: number;
  worker: string;
  body: string;
}

export interface Write {
  readonly path: string;
  readonly body: string;
}

export async function call(router: string, path: string, init: { method?: string; body?: string; key?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.key !== undefined) headers['idempotency-key'] = init.key;
  const response = await fetch(`${router}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.body,
    signal: AbortSignal.timeout(15_000),
  });
  return { status: response.status, worker: response.headers.get('x-pinbase-worker') ?? '', body: await response.text() };
}

/** PUT with an Idempotency-Key, retrying what the API marks retryable (429, 503). */
export async function putObject(router: string, write: Write, key: string): Promise<Reply & { retries: number }> {
  for (let retries = 0; ; retries++) {
    const reply = await call(router, write.path, { method: 'PUT', body: write.body, key });
    if ((reply.status !== 429 && reply.status !== 503) || retries >= 100) return { ...reply, retries };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Reads back every write; resolves with a description of each one that is missing or different. */
export async function unreadable(router: string, writes: Iterable<Write>): Promise<string[]> {
  const problems: string[] = [];
  for (const write of writes) {
    const reply = await call(router, write.path);
    if (reply.status !== 200) problems.push(`${write.path}: ${reply.status} ${reply.body}`);
    else if (JSON.stringify(JSON.parse(reply.body)) !== JSON.stringify(JSON.parse(write.body))) {
      problems.push(`${write.path}: read ${reply.body}, wrote ${write.body}`);
    }
  }
  return problems;
}

export class WriteLoad {
  readonly acknowledged: Write[] = [];
  readonly failures: string[] = [];
  retries = 0;
  private running = false;
  private loops: Promise<void>[] = [];
  private next = 0;

  constructor(
    private readonly router: string,
    private readonly users: readonly string[],
    private readonly name: string,
    private readonly concurrency = 2,
  ) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.concurrency }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const n = this.next++;
      const write = { path: `/api/users/${this.users[n % this.users.length]}/load/${this.name}-${n}`, body: JSON.stringify({ n }) };
      try {
        const reply = await putObject(this.router, write, `${this.name}-${n}`);
        this.retries += reply.retries;
        if (reply.status === 201 || reply.status === 200) this.acknowledged.push(write);
        else this.failures.push(`${write.path}: ${reply.status} ${reply.body}`);
      } catch (error) {
        this.failures.push(`${write.path}: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
