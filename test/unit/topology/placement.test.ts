import { describe, expect, it } from 'vitest';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Placement } from '../../../services/topology/placement.js';

const users = Array.from({ length: 1000 }, (_, i) => `user-${i}`);

function ownersOf(placement: Placement, ids: readonly string[]): string[] {
  return ids.map((id) => placement.owner(id)!);
}

describe('Placement', () => {
  it('spreads 1000 users over 3 workers within ±15% of even', () => {
    const placement = new Placement(['w1', 'w2', 'w3']);
    const counts = new Map<string, number>();
    for (const owner of ownersOf(placement, users)) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['w1', 'w2', 'w3']);
    const even = users.length / 3;
    for (const count of counts.values()) {
      expect(count).toBeGreaterThanOrEqual(even * 0.85);
      expect(count).toBeLessThanOrEqual(even * 1.15);
    }
  });

  it.each([1, 2, 3, 4, 7])('adding a worker to %i moves at most 1/(N+1) + 2%% of users, only to the new worker', (n) => {
    const before = Array.from({ length: n }, (_, i) => `w${i + 1}`);
    const after = [...before, `w${n + 1}`];
    const oldOwners = ownersOf(new Placement(before), users);
    const newOwners = ownersOf(new Placement(after), users);
    let moved = 0;
    newOwners.forEach((owner, i) => {
      if (owner === oldOwners[i]) return;
      moved++;
      expect(owner).toBe(`w${n + 1}`);
    });
    expect(moved).toBeGreaterThan(0);
    expect(moved / users.length).toBeLessThanOrEqual(1 / (n + 1) + 0.02);
  });

  it('removing a worker moves only that worker\'s users, each to its next-ranked worker', () => {
    const all = new Placement(['w1', 'w2', 'w3', 'w4']);
    for (const user of users) {
      const rank = all.rank(user);
      const withoutW2 = all.owner(user, (id) => id !== 'w2');
      expect(withoutW2).toBe(rank[0] === 'w2' ? rank[1] : rank[0]);
    }
  });

  it('does not depend on the order in which workers are listed', () => {
    const a = new Placement(['w1', 'w2', 'w3']);
    const b = new Placement(['w3', 'w1', 'w2']);
    expect(ownersOf(b, users)).toEqual(ownersOf(a, users));
  });

  it('ranks every worker, owner first, and answers undefined when none is eligible', () => {
    const placement = new Placement(['w1', 'w2', 'w3']);
    const rank = placement.rank('alice');
    expect([...rank].sort()).toEqual(['w1', 'w2', 'w3']);
    expect(rank[0]).toBe(placement.owner('alice'));
    expect(placement.owner('alice', () => false)).toBeUndefined();
    expect(placement.ownerIndex('alice', () => false)).toBe(-1);
  });

  it('gives the same answer in every process', async () => {
    const script = fileURLToPath(new URL('./placement-child.fixture.ts', import.meta.url));
    const answers = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<string[]>((resolve, reject) => {
            const child = fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
            child.once('message', (message) => resolve(message as string[]));
            child.once('error', reject);
            child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`child exited ${code}`))));
          }),
      ),
    );
    const here = ownersOf(new Placement(['w1', 'w2', 'w3']), users);
    expect(answers[0]).toEqual(here);
    expect(answers[1]).toEqual(here);
  });
});
