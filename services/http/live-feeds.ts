/** A live change stream that the worker may have to end (handover, shutdown). */
export interface LiveStream {
  end(): void;
}

/**
 * The open SSE change streams of this worker, by user. When a user's
 * partition moves to another worker its streams are ended, so clients
 * reconnect (with Last-Event-ID) through the router to the new owner.
 */
export class LiveFeeds {
  private readonly streams = new Map<string, Set<LiveStream>>();

  add(userId: string, stream: LiveStream): () => void {
    let set = this.streams.get(userId);
    if (!set) this.streams.set(userId, (set = new Set()));
    set.add(stream);
    return () => {
      set.delete(stream);
      if (set.size === 0 && this.streams.get(userId) === set) this.streams.delete(userId);
    };
  }

  endUser(userId: string): void {
    for (const stream of [...(this.streams.get(userId) ?? [])]) stream.end();
  }

  endAll(): void {
    for (const userId of [...this.streams.keys()]) this.endUser(userId);
  }

  get count(): number {
    let count = 0;
    for (const set of this.streams.values()) count += set.size;
    return count;
  }
}
