import type { OwnershipCheck } from '../http/app.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import { Placement } from '../topology/placement.js';
import type { Topology } from '../topology/topology.js';

/**
 * Which users this worker serves: those that rendezvous placement over the
 * topology gives to it, after excluding the workers the router reports as
 * down (X-Pinbase-Down). The router computes the same function, so a request
 * it routes here passes; a request sent to the wrong worker gets 421.
 */
export class Ownership implements OwnershipCheck {
  private placement: Placement;
  private lastDownHeader = '';
  private lastDown = new Set<string>();

  constructor(
    private readonly workerId: string,
    private topology: Topology,
  ) {
    this.placement = new Placement(topology.workers.map((w) => w.id));
  }

  get topologyVersion(): number {
    return this.topology.version;
  }

  update(topology: Topology): void {
    this.topology = topology;
    this.placement = new Placement(topology.workers.map((w) => w.id));
  }

  /** Whether this worker owns `userId` when every worker is up. */
  owns(userId: string): boolean {
    return this.placement.owner(userId) === this.workerId;
  }

  assertOwner(userId: string, downHeader: string | undefined): void {
    const down = this.downSet(downHeader);
    const owner = down.size === 0 ? this.placement.owner(userId) : this.placement.owner(userId, (id) => !down.has(id));
    if (owner !== this.workerId) {
      throw new PinbaseError('misdirected_request', `user ${userId} is served by worker ${owner ?? '(none)'}`, {
        extensions: { owner: owner ?? null, topologyVersion: this.topology.version },
      });
    }
  }

  /** The URL of a worker in the current topology. */
  urlOf(workerId: string): string | undefined {
    return this.topology.workers.find((w) => w.id === workerId)?.url;
  }

  private downSet(header: string | undefined): ReadonlySet<string> {
    if (header === undefined || header === '') return EMPTY;
    if (header !== this.lastDownHeader) {
      this.lastDownHeader = header;
      this.lastDown = new Set(header.split(',').map((id) => id.trim()).filter((id) => id !== ''));
    }
    return this.lastDown;
  }
}

const EMPTY: ReadonlySet<string> = new Set<string>();
