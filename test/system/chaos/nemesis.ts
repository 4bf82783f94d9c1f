/**
 * The nemesis: faults injected into a running ChaosCluster on a schedule,
 * on two independent timelines so that faults overlap:
 * - kills: every 3-5 s, kill -9 a random healthy member (the cluster's
 *   supervisor restarts it);
 * - membership and pauses, in a cycle: SIGSTOP a random healthy member for
 *   2-3 s then SIGCONT; add a worker (started first, then published in the
 *   topology); another pause; remove a random healthy member by publishing
 *   a topology without it (it hands its partitions over, and gets SIGTERM
 *   some seconds later). Each step 1.5-3 s after the previous one ended.
 * With those numbers a 25 s window sees every kind of fault at least once.
 */
import type { SeededRandom } from './seeded-random.js';

/** What the nemesis needs from the cluster (ChaosCluster implements it). */
export interface FaultTarget {
  /** Worker ids in the current topology. */
  readonly members: readonly string[];
  /** Members whose process is up, ready and not paused. */
  healthyMembers(): string[];
  kill(id: string): Promise<void>;
  pause(id: string): void;
  resume(id: string): void;
  /** Starts a worker, then publishes it in the topology; resolves with its id. */
  addWorker(): Promise<string>;
  /** Publishes a topology without `id`, then stops it after `handoverMs`. */
  removeWorker(id: string, handoverMs: number): Promise<void>;
}

export type FaultKind = 'kill' | 'pause' | 'add' | 'remove';

export interface FaultEvent {
  kind: FaultKind;
  worker: string;
  /** Ms since the nemesis started. */
  at: number;
  /** How long the fault took to inject (a pause: how long the process was stopped). */
  durationMs: number;
}

export interface NemesisTiming {
  killEveryMs: [number, number];
  pauseMs: [number, number];
  stepGapMs: [number, number];
  /** Time between publishing a topology without a worker and its SIGTERM. */
  handoverMs: number;
  /** Members kept at least: a remove is skipped below it. */
  minMembers: number;
}

export const DEFAULT_NEMESIS_TIMING: NemesisTiming = {
  killEveryMs: [3000, 5000],
  pauseMs: [2000, 3000],
  stepGapMs: [1500, 3000],
  handoverMs: 3000,
  minMembers: 3,
};

const CYCLE: readonly Exclude<FaultKind, 'kill'>[] = ['pause', 'add', 'pause', 'remove'];

export class Nemesis {
  readonly events: FaultEvent[] = [];
  readonly errors: string[] = [];
  private stopped = false;
  private wake: () => void = () => undefined;
  private readonly stopping: Promise<void>;
  private loops: Promise<void>[] = [];
  private startedAt = 0;

  constructor(
    private readonly cluster: FaultTarget,
    private readonly random: SeededRandom,
    private readonly timing: NemesisTiming = DEFAULT_NEMESIS_TIMING,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.stopping = new Promise((resolve) => (this.wake = resolve));
  }

  start(): void {
    this.startedAt = performance.now();
    this.loops = [this.killLoop(this.random.fork()), this.cycleLoop(this.random.fork())];
  }

  /** Stops scheduling faults; resolves once the faults under way are over (paused workers resumed). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await Promise.all(this.loops);
  }

  count(kind: FaultKind): number {
    return this.events.filter((event) => event.kind === kind).length;
  }

  private async killLoop(random: SeededRandom): Promise<void> {
    while (await this.wait(random.int(...this.timing.killEveryMs))) {
      const victim = this.pickHealthy(random);
      if (victim === undefined) continue;
      await this.inject('kill', victim, () => this.cluster.kill(victim));
    }
  }

  private async cycleLoop(random: SeededRandom): Promise<void> {
    for (let step = 0; await this.wait(random.int(...this.timing.stepGapMs)); step++) {
      const kind = CYCLE[step % CYCLE.length]!;
      if (kind === 'add') {
        await this.inject('add', '(new)', async (event) => {
          event.worker = await this.cluster.addWorker();
        });
        continue;
      }
      const victim = this.pickHealthy(random);
      if (victim === undefined) {
        // No healthy member now (kills under way): the same step again next time, so that no kind of fault is skipped.
        step--;
        continue;
      }
      if (kind === 'pause') {
        const ms = random.int(...this.timing.pauseMs);
        await this.inject('pause', victim, async () => {
          this.cluster.pause(victim);
          await sleep(ms);
          this.cluster.resume(victim);
        });
      } else if (this.cluster.members.length > this.timing.minMembers) {
        await this.inject('remove', victim, () => this.cluster.removeWorker(victim, this.timing.handoverMs));
      }
    }
  }

  private pickHealthy(random: SeededRandom): string | undefined {
    const healthy = this.cluster.healthyMembers();
    return healthy.length === 0 ? undefined : random.pick(healthy);
  }

  private async inject(kind: FaultKind, worker: string, fault: (event: FaultEvent) => Promise<void>): Promise<void> {
    const at = performance.now() - this.startedAt;
    const event: FaultEvent = { kind, worker, at: Math.round(at), durationMs: 0 };
    this.events.push(event);
    this.log(`nemesis +${(at / 1000).toFixed(1)}s: ${kind} ${worker}`);
    try {
      await fault(event);
    } catch (error) {
      this.errors.push(`${kind} ${event.worker}: ${(error as Error).message}`);
    }
    event.durationMs = Math.round(performance.now() - this.startedAt - at);
  }

  /** Sleeps `ms` unless stopped first; false once stopped. */
  private async wait(ms: number): Promise<boolean> {
    if (this.stopped) return false;
    await Promise.race([sleep(ms), this.stopping]);
    return !this.stopped;
  }
}

/**
 * On the global setTimeout, not node:timers/promises: the nemesis' unit test
 * runs whole schedules under vitest's fake timers, which replace only the
 * global timer functions.
 */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
