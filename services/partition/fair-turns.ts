/**
 * Turns of the event loop shared fairly between users. A worker's reads and
 * commits run synchronously on one thread, each bounded (docs/ARCHITECTURE.md,
 * "Bounds"), but a user may have many requests in flight (the router allows
 * 64): 64 queries that each sort 100,000 objects arrive in one turn of the
 * event loop and, run back to back, held it for ~10 s while every other
 * user's requests waited behind them.
 *
 * So each user gets ROUND_MS of synchronous storage work per turn of the
 * event loop (a round: charged work, then setImmediate); a user that has
 * spent it waits for the next round, in its own FIFO, and each round
 * releases one waiting piece of work per user (round robin), after which
 * the requests that arrived meanwhile run. Alone, a user loses nothing
 * (the same work runs, a turn apart); beside others, a co-tenant's request
 * waits for one piece of each busy user's work, not for all of it.
 *
 * Only work of at least MIN_CHARGE_MS is counted, so that the ordinary
 * request (a read costs microseconds) pays two clock reads and a map lookup
 * and never schedules a round.
 */
export const ROUND_MS = 20;
export const MIN_CHARGE_MS = 1;

export class FairTurns {
  /** Milliseconds of counted work per user in this round (cleared when the round ends). */
  private readonly spent = new Map<string, number>();
  /** Work waiting for a later round, per user, oldest first. */
  private readonly waiting = new Map<string, (() => void)[]>();
  private roundScheduled = false;
  /** Pieces of work that waited for a later round, since the start (metrics: pinbase_turn_waits_total). */
  waits = 0;

  constructor(private readonly roundMs: number = ROUND_MS) {}

  /** Undefined when `userId` may run now; else a promise resolved in a later round (after the user's earlier waiters). */
  admit(userId: string): Promise<void> | undefined {
    if (!this.mustWait(userId)) return undefined;
    return new Promise((resolve) => this.later(userId, resolve));
  }

  /** True when `userId` has spent its round or has work waiting (new work goes behind it). */
  mustWait(userId: string): boolean {
    return this.waiting.has(userId) || (this.spent.get(userId) ?? 0) >= this.roundMs;
  }

  /** Runs `work` in a later round, after the user's earlier waiters. */
  later(userId: string, work: () => void): void {
    this.waits++;
    const queue = this.waiting.get(userId);
    if (queue === undefined) this.waiting.set(userId, [work]);
    else queue.push(work);
    this.scheduleRound();
  }

  /** Counts `ms` of synchronous work done for `userId` (ignored below MIN_CHARGE_MS). */
  charge(userId: string, ms: number): void {
    if (ms < MIN_CHARGE_MS) return;
    this.spent.set(userId, (this.spent.get(userId) ?? 0) + ms);
    this.scheduleRound();
  }

  /** Users with work waiting (for metrics and tests). */
  get waitingUsers(): number {
    return this.waiting.size;
  }

  private scheduleRound(): void {
    if (this.roundScheduled) return;
    this.roundScheduled = true;
    setImmediate(() => this.round());
  }

  private round(): void {
    this.roundScheduled = false;
    this.spent.clear();
    const released: (() => void)[] = [];
    for (const [userId, queue] of this.waiting) {
      released.push(queue.shift()!);
      if (queue.length === 0) this.waiting.delete(userId);
    }
    // Released work runs now (a write's flush) or in the microtasks right after this callback (a read),
    // before the next poll of the event loop: it counts against the new round, as does whatever its user
    // sends in that poll.
    for (const work of released) work();
    if (this.waiting.size > 0) this.scheduleRound();
  }
}
