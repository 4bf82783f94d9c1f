/**
 * Placement: which worker owns a user. Rendezvous (highest-random-weight)
 * hashing: every worker gets a pseudo-random score for the user, the highest
 * score wins. Adding a worker to N moves only the ~1/(N+1) of users for
 * which the new worker scores highest, and moves them only to it; removing a
 * worker moves only its own users. The functions are pure: every router
 * process and every worker computes the same answer without coordination.
 */

/** murmur3 fmix32: a bijective 32-bit avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3_32 over the UTF-16 code units of `key` (ids are ASCII). */
export function hashKey(key: string, seed = 0x9747b28c): number {
  let h = seed | 0;
  for (let i = 0; i < key.length; i++) {
    let k = key.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  return fmix32(h ^ key.length);
}

/** The score of `workerSeed` (hashKey(workerId)) for a user whose hash is `userHash`. */
function score(userHash: number, workerSeed: number): number {
  return fmix32(Math.imul(userHash ^ workerSeed, 0x9e3779b1) ^ workerSeed);
}

/**
 * A placement table for one set of workers. Build it once per topology and
 * call `owner()` per request: it hashes the user id once and scores each
 * worker with a few integer operations, without allocating.
 */
export class Placement {
  readonly workerIds: readonly string[];
  private readonly seeds: Uint32Array;

  constructor(workerIds: readonly string[]) {
    this.workerIds = [...workerIds];
    this.seeds = Uint32Array.from(this.workerIds, (id) => hashKey(id, 0x5bd1e995));
  }

  /**
   * The index (into workerIds) of the highest-scoring worker for `userId`
   * for which `isEligible(index)` is true, or -1 if none is. Ties, which need
   * a 32-bit collision, go to the lower worker id so every process agrees.
   */
  ownerIndex(userId: string, isEligible?: (index: number) => boolean): number {
    const userHash = hashKey(userId);
    let best = -1;
    let bestScore = -1;
    for (let i = 0; i < this.seeds.length; i++) {
      if (isEligible !== undefined && !isEligible(i)) continue;
      const s = score(userHash, this.seeds[i]!);
      if (s > bestScore || (s === bestScore && this.workerIds[i]! < this.workerIds[best]!)) {
        best = i;
        bestScore = s;
      }
    }
    return best;
  }

  /** The owner's id (see ownerIndex), or undefined if no worker is eligible. */
  owner(userId: string, isEligible?: (workerId: string) => boolean): string | undefined {
    const index = this.ownerIndex(userId, isEligible && ((i) => isEligible(this.workerIds[i]!)));
    return index < 0 ? undefined : this.workerIds[index];
  }

  /** Every worker id, best first: the failover order for `userId`. */
  rank(userId: string): string[] {
    const userHash = hashKey(userId);
    return this.workerIds
      .map((id, i) => ({ id, s: score(userHash, this.seeds[i]!) }))
      .sort((a, b) => b.s - a.s || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((entry) => entry.id);
  }
}
