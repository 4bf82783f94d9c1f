/**
 * The long chaos run on a GlusterFS volume:
 * `npm run chaos:glusterfs -- --seconds 600 [--seed N] [--mounts N] [--users N] [--clients N] [--keep] [--quiet]`.
 * Creates a volume (test/support/glusterfs: its own glusterd, the required
 * options), mounts it `--mounts` times (default 3), gives each worker one of
 * the mounts as --data, runs the chaos test, prints the summary and tears
 * the volume down (with --keep, the brick's folder is copied beside the
 * run's evidence first). Exits 1 when a check failed. Needs root and FUSE.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GlusterVolume, glusterUnavailable } from '../../support/glusterfs/gluster-volume.js';
import { runChaos } from '../chaos/chaos-run.js';
import { formatSummary } from '../chaos/chaos-summary.js';

const USAGE =
  'usage: run-chaos-glusterfs [--seconds N (default 60)] [--seed N] [--mounts N (default 3)] [--users N] [--clients N] [--keep] [--quiet]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      seed: { type: 'string' },
      mounts: { type: 'string', default: '3' },
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
  const unavailable = glusterUnavailable();
  if (unavailable !== undefined) {
    console.error(unavailable);
    return 2;
  }
  const seconds = positiveInteger(values.seconds, 'seconds');
  const mounts = positiveInteger(values.mounts, 'mounts');
  const log = values.quiet ? () => undefined : (line: string) => console.log(line);
  const volume = await GlusterVolume.create();
  try {
    const dataDirs: string[] = [];
    for (let i = 0; i < mounts; i++) dataDirs.push((await volume.mount()).path);
    log(`glusterfs: volume ${volume.name}, brick ${volume.brick}, ${mounts} mounts`);
    const report = await runChaos({
      seconds,
      seed: values.seed === undefined ? undefined : positiveInteger(values.seed, 'seed', 0),
      users: positiveInteger(values.users, 'users'),
      clients: positiveInteger(values.clients, 'clients'),
      checkerTimeoutMs: Math.max(20_000, seconds * 500),
      keepFiles: values.keep,
      dataDirs,
      log,
    });
    console.log(formatSummary(report));
    if (report.evidenceDir !== undefined) {
      cpSync(volume.brick, join(report.evidenceDir, 'brick'), { recursive: true, filter: (source) => !source.includes('/.glusterfs') });
      console.log(`the volume's files are copied to ${join(report.evidenceDir, 'brick')}`);
    }
    return report.ok ? 0 : 1;
  } finally {
    volume.teardown();
  }
}

function positiveInteger(text: string, name: string, min = 1): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}\n${USAGE}`);
  return value;
}

// Ctrl-C or SIGTERM: exit through process.exit, whose 'exit' handlers stop the processes and tear the volume down.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
