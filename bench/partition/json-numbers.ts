/**
 * What the check of a body's numbers costs (scanJsonText with fromOutside,
 * the check every document from a client passes before JSON.parse), against
 * JSON.parse of the same text, side by side: a body of about 1 MiB made of
 * an array of numbers of each kind, the scan and the parse timed alternately,
 * median of the runs.
 *
 * - typical: doubles as JavaScript writes them (decided in the one pass);
 * - integers above 2^53 but within 17 digits (each parsed and compared:
 *   the slow path);
 * - 17-digit fractions with exponents beyond ±280 (also the slow path).
 *
 *   npm run build && node dist/bench/partition/json-numbers.js 1048576 21
 *   node dist/bench/partition/json-numbers.js 65536 3    # CI smoke (test/integration/bench/portability-bench-smoke.test.ts)
 */
import { DOCUMENT_STRUCTURE, scanJsonText } from '../../services/partition/json-structure.js';

const bytes = Number(process.argv[2] ?? 1 << 20);
const runs = Number(process.argv[3] ?? 21);
/** Node limits do not apply here: the bench measures the number check, not the node cap. */
const limits = { maxDepth: DOCUMENT_STRUCTURE.maxDepth, maxNodes: Number.MAX_SAFE_INTEGER };

function bodyOf(next: (i: number) => string): string {
  const parts: string[] = [];
  let size = 2;
  for (let i = 0; size < bytes; i++) {
    const number = next(i);
    parts.push(number);
    size += number.length + 1;
  }
  return `[${parts.join(',')}]`;
}

const kinds: [string, string][] = [
  ['typical doubles', bodyOf((i) => String(Math.sin(i) * 10 ** (i % 9)))],
  ['integers above 2^53', bodyOf((i) => String(2 ** 53 + 2 * (i + 1)))],
  ['17 digits, exponent beyond 280', bodyOf((i) => `1.${String(1e15 + i).padStart(16, '0')}e${290 + (i % 10)}`)],
];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const time = (fn: () => unknown) => {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
};

console.log(`body of ${bytes} bytes, median of ${runs} runs`);
for (const [name, text] of kinds) {
  const scans: number[] = [];
  const parses: number[] = [];
  for (let run = 0; run < runs; run++) {
    scans.push(time(() => scanJsonText(text, limits, true)));
    parses.push(time(() => JSON.parse(text)));
  }
  const scan = median(scans);
  const parse = median(parses);
  console.log(`${name}: check ${scan.toFixed(2)} ms, JSON.parse ${parse.toFixed(2)} ms, ${(scan / parse).toFixed(2)}×`);
}
