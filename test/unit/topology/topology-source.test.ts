import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TopologySource } from '../../../services/topology/topology-source.js';
import { TopologyError, type Topology } from '../../../services/topology/topology.js';

const dirs: string[] = [];
const sources: TopologySource[] = [];
afterEach(() => {
  for (const source of sources.splice(0)) source.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function topologyFile(topology: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-topology-'));
  dirs.push(dir);
  const file = join(dir, 'topology.json');
  writeFileSync(file, JSON.stringify(topology));
  return file;
}

function replaceAtomically(file: string, topology: unknown): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(topology));
  renameSync(`${file}.tmp`, file);
}

const v1 = { version: 1, workers: [{ id: 'w1', url: 'http://127.0.0.1:3601' }] };
const v2 = { version: 2, workers: [...v1.workers, { id: 'w2', url: 'http://127.0.0.1:3602' }] };

function open(file: string, pollIntervalMs = 20) {
  const changes: Topology[] = [];
  const rejects: string[] = [];
  const source = new TopologySource(file, {
    pollIntervalMs,
    onChange: (next) => changes.push(next),
    onReject: (line) => rejects.push(line),
  });
  sources.push(source);
  return { source, changes, rejects };
}

describe('TopologySource', () => {
  it('throws one TopologyError line when the file is missing or invalid at start', () => {
    expect(() => new TopologySource('/nonexistent/topology.json', { onChange() {}, onReject() {} })).toThrow(TopologyError);
    const bad = topologyFile({ version: 1, workers: [] });
    expect(() => new TopologySource(bad, { onChange() {}, onReject() {} })).toThrow(/non-empty/);
  });

  it('applies a newer file on reload and reports the change once', () => {
    const file = topologyFile(v1);
    const { source, changes } = open(file, 60_000);
    replaceAtomically(file, v2);
    expect(source.reload()).toBe(true);
    expect(source.reload()).toBe(false);
    expect(source.current.version).toBe(2);
    expect(changes.map((t) => t.version)).toEqual([2]);
  });

  it('keeps the old topology and logs one line when the new file is bad', () => {
    const file = topologyFile(v1);
    const { source, changes, rejects } = open(file, 60_000);
    writeFileSync(file, '{"version": 2, "workers": [');
    expect(source.reload()).toBe(false);
    expect(source.current).toEqual(v1);
    expect(changes).toEqual([]);
    expect(rejects).toHaveLength(1);
    expect(rejects[0]).toMatch(/rejected, keeping version 1: topology is not valid JSON/);
    expect(rejects[0]).not.toContain('\n');
  });

  it('rejects a file whose version is older than the one in use', () => {
    const file = topologyFile(v2);
    const { source, rejects } = open(file, 60_000);
    replaceAtomically(file, v1);
    expect(source.reload()).toBe(false);
    expect(source.current.version).toBe(2);
    expect(rejects[0]).toMatch(/version 1 is older than version 2/);
  });

  it('notices a changed file by itself, including an atomic rename-replace', async () => {
    const file = topologyFile(v1);
    const { source, changes } = open(file);
    // At once: the poller's first stat is taken later, and must still see this change.
    replaceAtomically(file, v2);
    await vi.waitFor(() => expect(changes.map((t) => t.version)).toEqual([2]), { timeout: 3000, interval: 20 });
    expect(source.current.workers.map((w) => w.id)).toEqual(['w1', 'w2']);
  });
});
