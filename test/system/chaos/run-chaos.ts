/**
 * The long chaos run: `npm run chaos -- --seconds 600 [--seed N] [--keep]`.
 * Prints the summary; exits 1 when a check failed (the evidence is kept).
 */
import { parseArgs } from 'node:util';
import { runChaos } from './chaos-run.js';
import { formatSummary } from './chaos-summary.js';

const USAGE = 'usage: run-chaos [--seconds N (default 60)] [--seed N] [--users N] [--clients N] [--keep] [--quiet]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      seed: { type: 'string' },
      users: { type: 'string', default: '200' },
      clients: { type: 'string', default: '16' },
      keep: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const seconds = positiveInteger(values.seconds, 'seconds');
  const report = await runChaos({
    seconds,
    seed: values.seed === undefined ? undefined : positiveInteger(values.seed, 'seed', 0),
    users: positiveInteger(values.users, 'users'),
    clients: positiveInteger(values.clients, 'clients'),
    // The search budget grows with the history.
    checkerTimeoutMs: Math.max(20_000, seconds * 500),
    keepFiles: values.keep,
    log: values.quiet ? undefined : (line) => console.log(line),
  });
  console.log(formatSummary(report));
  return report.ok ? 0 : 1;
}

function positiveInteger(text: string, name: string, min = 1): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}\n${USAGE}`);
  return value;
}

// Ctrl-C or SIGTERM: exit through process.exit, whose 'exit' handlers stop the cluster's processes.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
