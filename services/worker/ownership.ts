import type { HintedRequest, OwnershipCheck } from '../http/app.js';
import { DOWN_HEADER, HINT_HEADER, type HintVerifier } from '../auth/hint-signature.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import { Placement } from '../topology/placement.js';
import type { Topology } from '../topology/topology.js';

/**
 * Which users this worker serves: those that rendezvous placement over the
 * topology gives to it, after excluding the workers the router reports as
 * down (X-Pinbase-Down). The router computes the same function, so a request
 * it routes here passes; a request sent to the wrong worker gets 421.
 *
 * The down list is believed only when the router signed it (X-Pinbase-Hint,
 * services/auth/hint-signature.ts) with the cluster secret: a client that
 * reaches this worker directly cannot make it serve, and take over, another
 * worker's user. An unsigned, forged, stale or replayed hint is ignored (the
 * user is placed as if no worker were down). Without a cluster secret (dev
 * mode: loopback or --insecure) every down list is believed.
 */
export class Ownership implements OwnershipCheck {
  private placement: Placement;
  /** X-Pinbase-Topology's value: computed once per topology, not per request. */
  private versionHeader: string;
  private lastDownHeader = '';
  private lastDown = new Set<string>();

  /** `hints` verifies the router's hints; undefined (no cluster secret) believes every down list. */
  constructor(
    private readonly workerId: string,
    private topology: Topology,
    private readonly hints: HintVerifier | undefined,
  ) {
    this.placement = new Placement(topology.workers.map((w) => w.id));
    this.versionHeader = String(topology.version);
  }

  get topologyVersion(): number {
    return this.topology.version;
  }

  get current(): Topology {
    return this.topology;
  }

  get topologyHeader(): string {
    return this.versionHeader;
  }

  update(topology: Topology): void {
    this.topology = topology;
    this.placement = new Placement(topology.workers.map((w) => w.id));
    this.versionHeader = String(topology.version);
  }

  /** Whether this worker owns `userId` when every worker is up. */
  owns(userId: string): boolean {
    return this.placement.owner(userId) === this.workerId;
  }

  /**
   * Throws misdirected_request unless this worker owns `userId` for this
   * request. The hint's signature is checked only when the down list would
   * change the answer (a user this worker owns with every worker up stays
   * its own whatever other workers are down), or when `reportDown` asks for
   * the list; it is checked at most once per request (a hint's nonce is
   * good for one check). Returns the down list when `reportDown` and the
   * hint verifies: the topology's workers it names, in topology order (so
   * at most the topology's size); otherwise an empty list.
   */
  assertOwner(userId: string, request: HintedRequest, reportDown = false): readonly string[] {
    const header = request.headers[DOWN_HEADER];
    const down = this.downSet(typeof header === 'string' ? header : undefined);
    let believed: boolean | undefined;
    const believe = () => (believed ??= this.believes(request, header as string));
    let owner = this.placement.owner(userId);
    if (down.size > 0 && (owner !== this.workerId || down.has(this.workerId)) && believe()) {
      owner = this.placement.owner(userId, (id) => !down.has(id));
    }
    if (owner !== this.workerId) {
      throw new PinbaseError('misdirected_request', `user ${userId} is served by worker ${owner ?? '(none)'}`, {
        extensions: { owner: owner ?? null, topologyVersion: this.topology.version },
      });
    }
    if (!reportDown || down.size === 0 || !believe()) return NO_WORKERS;
    return this.topology.workers.filter((w) => down.has(w.id)).map((w) => w.id);
  }

  /** The URL of a worker in the current topology. */
  urlOf(workerId: string): string | undefined {
    return this.topology.workers.find((w) => w.id === workerId)?.url;
  }

  /** Whether the request's down list comes from the router (always, without a cluster secret). */
  private believes(request: HintedRequest, down: string): boolean {
    if (this.hints === undefined) return true;
    const hint = request.headers[HINT_HEADER];
    return this.hints.verify(typeof hint === 'string' ? hint : undefined, request.method, request.url, down) === 'valid';
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
const NO_WORKERS: readonly string[] = [];
