import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../system/chaos/seeded-random.js';

const draws = (random: SeededRandom, n: number): number[] => Array.from({ length: n }, () => random.next());

describe('SeededRandom', () => {
  it('repeats its sequence for the same seed, and forks repeat too', () => {
    expect(draws(new SeededRandom(42), 5)).toEqual(draws(new SeededRandom(42), 5));
    expect(draws(new SeededRandom(42), 5)).not.toEqual(draws(new SeededRandom(43), 5));
    expect(draws(new SeededRandom(7).fork(), 3)).toEqual(draws(new SeededRandom(7).fork(), 3));
  });

  it('draws floats in [0, 1) and integers within inclusive bounds, reaching both ends', () => {
    const random = new SeededRandom(1);
    const ints = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const x = random.next();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      ints.add(random.int(3, 5));
    }
    expect([...ints].sort()).toEqual([3, 4, 5]);
  });

  it('picks by weight, never a zero-weight key, and refuses an empty pick', () => {
    const random = new SeededRandom(9);
    const counts = { a: 0, b: 0, never: 0 };
    for (let i = 0; i < 4000; i++) counts[random.weighted({ a: 3, b: 1, never: 0 })]++;
    expect(counts.never).toBe(0);
    expect(counts.a / counts.b).toBeGreaterThan(2.4);
    expect(counts.a / counts.b).toBeLessThan(3.7);
    expect(() => random.pick([])).toThrow(RangeError);
  });
});
