import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_NEMESIS_TIMING, Nemesis, type FaultTarget } from '../../system/chaos/nemesis.js';
import { SeededRandom } from '../../system/chaos/seeded-random.js';

/**
 * A cluster stand-in whose faults take as long as the real ones at most (add
 * 2.5 s, remove handover + 0.5 s), waited for on the global setTimeout so
 * that the tests' fake timers drive them.
 */
class FakeTarget implements FaultTarget {
  members = ['w1', 'w2', 'w3'];
  paused = new Set<string>();
  readonly log: string[] = [];
  private next = 4;
  healthyMembers(): string[] {
    return this.members.filter((id) => !this.paused.has(id));
  }
  async kill(id: string): Promise<void> {
    this.log.push(`kill ${id}`);
  }
  pause(id: string): void {
    this.paused.add(id);
    this.log.push(`pause ${id}`);
  }
  resume(id: string): void {
    this.paused.delete(id);
    this.log.push(`resume ${id}`);
  }
  async addWorker(): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const id = `w${this.next++}`;
    this.members = [...this.members, id];
    return id;
  }
  async removeWorker(id: string, handoverMs: number): Promise<void> {
    this.members = this.members.filter((member) => member !== id);
    await new Promise((resolve) => setTimeout(resolve, handoverMs + 500));
  }
}

/** A cluster in which no member is healthy for 6 s after a worker is added (as when kills and a slow start coincide). */
class BlackoutTarget extends FakeTarget {
  private blackoutUntil = 0;
  override healthyMembers(): string[] {
    return Date.now() < this.blackoutUntil ? [] : super.healthyMembers();
  }
  override async addWorker(): Promise<string> {
    const id = await super.addWorker();
    this.blackoutUntil = Date.now() + 6000;
    return id;
  }
}

/** The nemesis of `seed` over the 26 s fault window of the short run (fake timers), then stopped. */
async function runFaultWindow(target: FakeTarget, seed: number): Promise<Nemesis> {
  const nemesis = new Nemesis(target, new SeededRandom(seed), DEFAULT_NEMESIS_TIMING);
  nemesis.start();
  await vi.advanceTimersByTimeAsync(26_000);
  const stopped = nemesis.stop();
  await vi.advanceTimersByTimeAsync(10_000);
  await stopped;
  return nemesis;
}

describe('Nemesis', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('injects every kind of fault within the 26 s fault window of the short run, whatever the seed', async () => {
    vi.useFakeTimers();
    for (let seed = 1; seed <= 20; seed++) {
      const nemesis = await runFaultWindow(new FakeTarget(), seed);
      const counts = { kill: nemesis.count('kill'), pause: nemesis.count('pause'), add: nemesis.count('add'), remove: nemesis.count('remove') };
      for (const [kind, count] of Object.entries(counts)) expect(count, `seed ${seed}: ${kind}`).toBeGreaterThan(0);
      expect(counts.kill, `seed ${seed}`).toBeGreaterThanOrEqual(5);
      expect(nemesis.errors).toEqual([]);
    }
  });

  it('does not skip a pause or a remove when no member is healthy at its turn: it comes again at the next step', async () => {
    vi.useFakeTimers();
    for (let seed = 1; seed <= 10; seed++) {
      const nemesis = await runFaultWindow(new BlackoutTarget(), seed);
      expect(nemesis.count('remove'), `seed ${seed}`).toBeGreaterThan(0);
    }
  });

  it('resumes a paused worker before stop() resolves, and never goes below the minimum membership', async () => {
    vi.useFakeTimers();
    const target = new FakeTarget();
    const nemesis = new Nemesis(target, new SeededRandom(5), DEFAULT_NEMESIS_TIMING);
    nemesis.start();
    await vi.advanceTimersByTimeAsync(60_000);
    const stopped = nemesis.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    await stopped;
    expect(target.paused.size).toBe(0);
    expect(target.members.length).toBeGreaterThanOrEqual(DEFAULT_NEMESIS_TIMING.minMembers);
    expect(target.log.filter((line) => line.startsWith('pause')).length).toBe(target.log.filter((line) => line.startsWith('resume')).length);
  });
});
