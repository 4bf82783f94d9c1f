import { PinbaseError } from '../problem/pinbase-error.js';

/** How many live change streams (SSE) a worker holds at once. */
export interface StreamLimits {
  /** Streams open on this worker at once, all users together (503 overloaded beyond). */
  maxStreams: number;
  /** Streams open for one user at once (429 too_many_streams beyond). */
  maxStreamsPerUser: number;
}

/**
 * The worker's live streams, counted apart from request slots (maxInFlight):
 * a stream holds a socket, a store subscription and a heartbeat timer for as
 * long as the client keeps it, so it is bounded by its own caps instead of
 * starving every user's short requests. Memory: one map entry per user with
 * a stream open.
 */
export class StreamSlots {
  private open = 0;
  private readonly perUser = new Map<string, number>();

  constructor(private readonly limits: StreamLimits) {}

  /** Streams open now. */
  get count(): number {
    return this.open;
  }

  /**
   * Takes a worker-wide stream slot for a stream whose user is not known
   * yet (a WebSocket waiting for its auth message): it counts against
   * maxStreams only, so unauthenticated sockets cannot use up a user's
   * maxStreamsPerUser. Throws `overloaded`; returns the idempotent release.
   */
  acquireUnattributed(): () => void {
    if (this.open >= this.limits.maxStreams) {
      throw new PinbaseError('overloaded', `at most ${this.limits.maxStreams} live streams on this worker`);
    }
    this.open++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open--;
    };
  }

  /**
   * Takes a stream slot for `userId`. Throws PinbaseError `too_many_streams`
   * when the user holds maxStreamsPerUser already, `overloaded` when the
   * worker holds maxStreams; both retryable (Retry-After). Returns the
   * release, which may be called any number of times.
   */
  acquire(userId: string): () => void {
    const mine = this.perUser.get(userId) ?? 0;
    if (mine >= this.limits.maxStreamsPerUser) {
      throw new PinbaseError('too_many_streams', `at most ${this.limits.maxStreamsPerUser} live streams per user on this worker`);
    }
    if (this.open >= this.limits.maxStreams) {
      throw new PinbaseError('overloaded', `at most ${this.limits.maxStreams} live streams on this worker`);
    }
    this.open++;
    this.perUser.set(userId, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open--;
      const left = (this.perUser.get(userId) ?? 1) - 1;
      if (left === 0) this.perUser.delete(userId);
      else this.perUser.set(userId, left);
    };
  }
}
