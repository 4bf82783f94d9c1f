/**
 * Fan-out of "user X committed seq N" to live change-feed subscribers of this
 * worker. Subscribers read the changes themselves (from the partition), so a
 * slow subscriber never holds commits or memory here.
 */
export class ChangeHub {
  private readonly subscribers = new Map<string, Set<(seq: number) => void>>();

  /** Calls `listener(seq)` after every durable commit of `userId`; returns the unsubscribe function. */
  subscribe(userId: string, listener: (seq: number) => void): () => void {
    let set = this.subscribers.get(userId);
    if (!set) this.subscribers.set(userId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.subscribers.get(userId) === set) this.subscribers.delete(userId);
    };
  }

  publish(userId: string, seq: number): void {
    const set = this.subscribers.get(userId);
    if (set) for (const listener of [...set]) listener(seq);
  }

  get subscriberCount(): number {
    let count = 0;
    for (const set of this.subscribers.values()) count += set.size;
    return count;
  }
}
