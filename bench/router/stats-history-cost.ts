/**
 * The memory and per-request cost of the router's stats history
 * (router/stats-history.ts): fills the ring (300 samples) for W workers and
 * times a 10-minute report with its JSON.
 *
 *   npm run build && node --expose-gc dist/bench/router/stats-history-cost.js [workers]
 */
import type { RouterState } from '../../router/router-state.js';
import { StatsHistory } from '../../router/stats-history.js';

const workerCount = Number(process.argv[2] ?? 20);
const state: RouterState = {
  version: 1,
  retired: [],
  workers: Array.from({ length: workerCount }, (_, i) => ({ id: `w${i}`, url: `http://127.0.0.1:${3600 + i}`, up: true, drained: false, since: 0, reason: undefined, topologyVersion: 1 })),
};
const gc = (globalThis as { gc?: () => void }).gc;
const history = new StatsHistory(2000, 300);
gc?.();
const before = process.memoryUsage().heapUsed;
for (let s = 0; s <= history.capacity; s++) {
  const workers = state.workers.map((w) => ({
    id: w.id,
    inFlight: 1,
    streams: 0,
    requests: s * 100,
    responses: [0, 0, s * 90, 0, s * 9, s],
    latency: Array.from({ length: 15 }, (_, i) => s * (15 - i)),
  }));
  history.record(state, [{ pid: 1, workers }], () => ({ openPartitions: 5, liveStreams: 1 }), s * history.intervalMs);
}
gc?.();
const heapKiB = Math.round((process.memoryUsage().heapUsed - before) / 1024);
const rounds = 100;
const started = process.hrtime.bigint();
let bytes = 0;
for (let i = 0; i < rounds; i++) bytes = JSON.stringify(history.report(state, 600_000, history.capacity * history.intervalMs)).length;
const ms = Number(process.hrtime.bigint() - started) / 1e6 / rounds;
console.log(`${workerCount} workers: ring ${heapKiB} KiB of heap${gc ? '' : ' (run with --expose-gc for a steadier figure)'}; a 10-minute report with its JSON: ${ms.toFixed(2)} ms, ${bytes} bytes`);
