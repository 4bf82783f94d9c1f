/**
 * Why a subscription ended: the user's partition was handed over (another
 * worker serves the user now), the user was erased, or this worker is
 * shutting down. Either way no further commit of the user (as it was) will
 * be published here.
 */
export type FeedCloseReason = 'released' | 'erased' | 'shutdown';

/** A live follower of one user's commits (an SSE change stream). Implementations must not throw. */
export interface CommitSubscriber {
  /** After every durable commit of the user on this worker; `seq` is the commit's seq. */
  onCommit(seq: number): void;
  /** The subscription has ended (it is already removed): no more onCommit calls. */
  onClose(reason: FeedCloseReason): void;
}

/**
 * The live subscribers to users' commits on this worker, by user: the one
 * registry of change streams. Subscribers read the changes themselves (from
 * the partition), so a slow subscriber never holds commits or memory here.
 * Only a release (handover), an erase or shutdown ends subscriptions. A partition
 * closed while idle, evicted, or broken (lease lost, storage in doubt) keeps
 * its subscribers: if this worker still serves the user, the next commit
 * reopens it and is published as usual.
 */
export class CommitFeed {
  private readonly subscribers = new Map<string, Set<CommitSubscriber>>();

  /** Follows `userId`'s commits until close(); returns the unsubscribe function (idempotent). */
  subscribe(userId: string, subscriber: CommitSubscriber): () => void {
    let set = this.subscribers.get(userId);
    if (!set) this.subscribers.set(userId, (set = new Set()));
    set.add(subscriber);
    return () => {
      set.delete(subscriber);
      if (set.size === 0 && this.subscribers.get(userId) === set) this.subscribers.delete(userId);
    };
  }

  publish(userId: string, seq: number): void {
    const set = this.subscribers.get(userId);
    if (set) for (const subscriber of [...set]) subscriber.onCommit(seq);
  }

  /** Ends every subscription of `userId` (a no-op if there is none). */
  close(userId: string, reason: FeedCloseReason): void {
    const set = this.subscribers.get(userId);
    if (!set) return;
    this.subscribers.delete(userId);
    for (const subscriber of [...set]) subscriber.onClose(reason);
  }

  /** Ends every subscription. */
  closeAll(reason: FeedCloseReason): void {
    for (const userId of [...this.subscribers.keys()]) this.close(userId, reason);
  }

  /** The users with at least one subscriber. */
  users(): string[] {
    return [...this.subscribers.keys()];
  }

  get count(): number {
    let count = 0;
    for (const set of this.subscribers.values()) count += set.size;
    return count;
  }
}
