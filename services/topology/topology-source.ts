import { readFileSync, statSync, type Stats } from 'node:fs';
import { parseTopology, TopologyError, type Topology } from './topology.js';

export interface TopologySourceOptions {
  /** How often the file's stat is polled, in ms. Polling by path survives atomic rename-replace. */
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
  /** The file's stat when it was last read; each poll compares with it. */
  private readStat: Stats | undefined;
  private readonly poller: NodeJS.Timeout;

  /** Reads the file once; throws TopologyError (one line) if it is unusable. */
  constructor(
    readonly path: string,
    private readonly options: TopologySourceOptions,
  ) {
    this.readStat = statOrUndefined(path);
    this.topology = readTopologyFile(path);
    // A stat per poll, compared with the stat at the last read (not with the
    // previous poll), so that no change is missed, however early it comes.
    this.poller = setInterval(() => {
      const current = statOrUndefined(path);
      const last = this.readStat;
      const changed = current === undefined ? false : last === undefined || !sameStat(current, last);
      if (changed) this.reload();
    }, options.pollIntervalMs ?? 500);
    this.poller.unref();
  }

  get current(): Topology {
    return this.topology;
  }

  /**
   * Re-reads the file (SIGHUP, or a detected change). Returns true when a new
   * topology was applied. Idempotent: an unchanged file changes nothing.
   */
  reload(): boolean {
    this.readStat = statOrUndefined(this.path);
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
    clearInterval(this.poller);
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

function sameStat(a: Stats, b: Stats): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino && a.ctimeMs === b.ctimeMs;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function sameTopology(a: Topology, b: Topology): boolean {
  return (
    a.version === b.version &&
    a.workers.length === b.workers.length &&
    a.workers.every((w, i) => w.id === b.workers[i]!.id && w.url === b.workers[i]!.url)
  );
}
