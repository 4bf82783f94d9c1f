/**
 * The user ids this router process has routed recently, bounded: when full,
 * the oldest id is forgotten. Feeds the users-per-worker figures of
 * /_router/status, which assign each remembered user to its current owner.
 */
export class SeenUsers {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity: number) {}

  add(userId: string): void {
    const ids = this.ids;
    if (ids.has(userId)) return;
    if (ids.size >= this.capacity) {
      const oldest = ids.values().next();
      if (oldest.done !== true) ids.delete(oldest.value);
    }
    ids.add(userId);
  }

  list(): string[] {
    return [...this.ids];
  }
}
