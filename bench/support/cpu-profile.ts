/**
 * The top self-time items of a V8 `.cpuprofile` (node --cpu-prof): time per
 * function (name + file:line), from the sample time deltas, as a share of
 * the whole profile, `(idle)`, `(program)` and `(garbage collector)`
 * included. Paths are shown relative to the checkout or to node_modules.
 * With a `window` (µs of the monotonic clock: `process.hrtime.bigint() / 1000n`
 * in any process of the machine, the clock V8 stamps samples with), only the
 * samples inside it count: the load, without start-up and shutdown.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeItem {
  name: string;
  ms: number;
  share: number;
}

export function topSelfTime(file: string, count: number, window?: { fromUs: number; toUs: number }): { totalMs: number; items: SelfTimeItem[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nameOf = new Map<number, string>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url === '' ? '' : ` ${shortUrl(url)}:${lineNumber + 1}`;
    nameOf.set(node.id, `${functionName === '' ? '(anonymous)' : functionName}${where}`);
  }
  const self = new Map<string, number>();
  let totalUs = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window !== undefined && (at < window.fromUs || at > window.toUs)) continue;
    const name = nameOf.get(profile.samples[i]!) ?? '?';
    self.set(name, (self.get(name) ?? 0) + delta);
    totalUs += delta;
  }
  const items = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => ({ name, ms: us / 1000, share: totalUs > 0 ? us / totalUs : 0 }));
  return { totalMs: totalUs / 1000, items };
}

function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('/node_modules/');
  if (modules !== -1) return path.slice(modules + '/node_modules/'.length);
  const dist = path.indexOf('/dist/');
  return dist !== -1 ? path.slice(dist + '/dist/'.length) : path;
}
