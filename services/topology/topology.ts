import { WORKER_ID_PATTERN } from '../ids/id-patterns.js';

/**
 * The cluster topology file: which workers exist and where they listen.
 * Written by `pinbase up` and by Ansible, read by the router and the workers.
 *
 *   { "version": 7,
 *     "workers": [ { "id": "w1", "url": "http://127.0.0.1:3601" } ] }
 */
export interface WorkerEntry {
  readonly id: string;
  readonly url: string;
}

export interface Topology {
  readonly version: number;
  readonly workers: readonly WorkerEntry[];
}

export class TopologyError extends Error {
  override name = 'TopologyError';
}

/**
 * Parses and validates a topology document. Throws TopologyError with one
 * line saying what is wrong; never returns a partially valid topology.
 */
export function parseTopology(text: string): Topology {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new TopologyError(`topology is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TopologyError('topology must be a JSON object with "version" and "workers"');
  }
  const { version, workers } = raw as { version?: unknown; workers?: unknown };
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw new TopologyError('topology "version" must be a non-negative integer');
  }
  if (!Array.isArray(workers) || workers.length === 0) {
    throw new TopologyError('topology "workers" must be a non-empty array');
  }
  const ids = new Set<string>();
  const urls = new Set<string>();
  const parsed = workers.map((entry: unknown, index): WorkerEntry => {
    const where = `topology workers[${index}]`;
    if (typeof entry !== 'object' || entry === null) throw new TopologyError(`${where} must be an object`);
    const { id, url } = entry as { id?: unknown; url?: unknown };
    if (typeof id !== 'string' || !WORKER_ID_PATTERN.test(id)) {
      throw new TopologyError(`${where}.id must match ${WORKER_ID_PATTERN.source}`);
    }
    if (ids.has(id)) throw new TopologyError(`${where}.id "${id}" is listed twice`);
    const normalized = normalizeWorkerUrl(url, where);
    if (urls.has(normalized)) throw new TopologyError(`${where}.url "${normalized}" is listed twice`);
    ids.add(id);
    urls.add(normalized);
    return { id, url: normalized };
  });
  return { version, workers: parsed };
}

function normalizeWorkerUrl(url: unknown, where: string): string {
  if (typeof url !== 'string') throw new TopologyError(`${where}.url must be a string`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TopologyError(`${where}.url "${url}" is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TopologyError(`${where}.url must be http:// or https://`);
  }
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search || parsed.hash) {
    throw new TopologyError(`${where}.url must not have a path, query or fragment`);
  }
  return parsed.origin;
}

export function serializeTopology(topology: Topology): string {
  return `${JSON.stringify(topology, null, 2)}\n`;
}
