/** A running export's hold on a snapshot; see SnapshotPins. */
export interface SnapshotPin {
  /** The seq the pin holds. */
  readonly seq: number;
  /** False once the partition's data was replaced under the pin (an import): the reader must stop. */
  readonly valid: boolean;
  /** Ends the pin. Idempotent. */
  release(): void;
}

/**
 * The snapshots running exports still read, on one open partition. The
 * pruner never moves its horizon past the smallest pinned seq (see
 * prunePartition), so every version a pinned reader needs stays. An import
 * that replaces the partition's data invalidates every pin. Memory: one
 * entry per running export.
 */
export class SnapshotPins {
  private readonly pins = new Set<{ seq: number; valid: boolean }>();

  pin(seq: number): SnapshotPin {
    const entry = { seq, valid: true };
    this.pins.add(entry);
    return {
      seq,
      get valid() {
        return entry.valid;
      },
      release: () => {
        this.pins.delete(entry);
      },
    };
  }

  /** The highest seq the pruner may move its horizon to: the smallest pinned seq (Infinity when none). */
  get limit(): number {
    let limit = Infinity;
    for (const entry of this.pins) limit = Math.min(limit, entry.seq);
    return limit;
  }

  get count(): number {
    return this.pins.size;
  }

  /** Marks every pin invalid (their readers stop) and forgets them. */
  invalidateAll(): void {
    for (const entry of this.pins) entry.valid = false;
    this.pins.clear();
  }
}
