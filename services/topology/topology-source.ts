import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { parseTopology, TopologyError, type Topology } from './topology.js';

export interface TopologySourceOptions {
  /** How often the file's stat is polled, in ms. Polling survives atomic rename-replace. */
  pollIntervalMs?: number;
  /** Called with the new topology after every accepted change. */
  onChange: (next: Topology, previous: Topology) => void;
  /** Called with one line when a changed file is rejected; the old topology stays. */
  onReject: (message: string) => void;
}

/**
 * The topology file as a live value. `current` is always a validated
 * topology: a change is accepted only if the new file parses and validates,
 * and only if its version is not older than the one in use.
 */
export class TopologySource {
  private topology: Topology;
  private readonly listener: (curr: Stats, prev: Stats) => void;

  /** Reads the file once; throws TopologyError (one line) if it is unusable. */
  constructor(
    readonly path: string,
    private readonly options: TopologySourceOptions,
  ) {
    this.topology = readTopologyFile(path);
    this.listener = (curr, prev) => {
      if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino) this.reload();
    };
    watchFile(path, { interval: options.pollIntervalMs ?? 500, persistent: false }, this.listener);
  }

  get current(): Topology {
    return this.topology;
  }

  /**
   * Re-reads the file (SIGHUP, or a detected change). Returns true when a new
   * topology was applied. Idempotent: an unchanged file changes nothing.
   */
  reload(): boolean {
    let next: Topology;
    try {
      next = readTopologyFile(this.path);
    } catch (error) {
      this.options.onReject(`topology ${this.path} rejected, keeping version ${this.topology.version}: ${(error as Error).message}`);
      return false;
    }
    if (next.version < this.topology.version) {
      this.options.onReject(
        `topology ${this.path} rejected: version ${next.version} is older than version ${this.topology.version} in use`,
      );
      return false;
    }
    if (sameTopology(next, this.topology)) return false;
    const previous = this.topology;
    this.topology = next;
    this.options.onChange(next, previous);
    return true;
  }

  close(): void {
    unwatchFile(this.path, this.listener);
  }
}

export function readTopologyFile(path: string): Topology {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TopologyError(`cannot read topology file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return parseTopology(text);
}

function sameTopology(a: Topology, b: Topology): boolean {
  return (
    a.version === b.version &&
    a.workers.length === b.workers.length &&
    a.workers.every((w, i) => w.id === b.workers[i]!.id && w.url === b.workers[i]!.url)
  );
}
