/**
 * The caching flags of the GlusterFS FUSE client serving a mount. They are
 * not in /proc/self/mountinfo: the kernel only sees the FUSE options
 * (`user_id=0,group_id=0,default_permissions,allow_other,max_read=131072`
 * with or without them). They are on the command line of the `glusterfs`
 * process that serves the mount (mount.glusterfs turns `attribute-timeout=0`
 * into `--attribute-timeout=0`), which names the mount point as an argument
 * and stays running as long as the mount. The volfile has no say over these
 * FUSE-side flags, and a statedump needs a signal to the client: the command
 * line is the one source a worker can read without privileges.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, normalize } from 'node:path';

/** What a client command line says about its caching; undefined where it says nothing (GlusterFS's default applies). */
export interface GlusterCaching {
  readonly attributeTimeout: number | undefined;
  readonly entryTimeout: number | undefined;
  readonly negativeTimeout: number | undefined;
  readonly fopenKeepCache: boolean | undefined;
}

/**
 * The arguments (argv without argv[0]) of the `glusterfs` process whose
 * mount point argument is one of `mountPoints`, or undefined if no such
 * process is visible (another PID namespace, /proc with hidepid, or the
 * mount's client died).
 */
export function glusterClientArgs(mountPoints: readonly string[], procDir = '/proc'): string[] | undefined {
  const wanted = new Set(mountPoints.map(samePath));
  let names: string[];
  try {
    names = readdirSync(procDir).filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of names) {
    let argv: string[];
    try {
      argv = readFileSync(`${procDir}/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // the process ended, or is not ours to read
    }
    if (argv.at(-1) === '') argv.pop();
    if (argv.length < 2 || basename(argv[0]!) !== 'glusterfs') continue;
    const args = argv.slice(1);
    if (args.some((arg) => arg.startsWith('/') && wanted.has(samePath(arg)))) return args;
  }
  return undefined;
}

function samePath(path: string): string {
  const normal = normalize(path);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

/**
 * Reads the caching flags from a glusterfs client's arguments, as its
 * argument parser takes them: `--attribute-timeout=0` or
 * `--attribute-timeout 0`, `--fopen-keep-cache[=BOOL]` (alone: true); the
 * last occurrence wins.
 */
export function glusterCaching(args: readonly string[]): GlusterCaching {
  return {
    attributeTimeout: seconds(valueOf(args, 'attribute-timeout', true)),
    entryTimeout: seconds(valueOf(args, 'entry-timeout', true)),
    negativeTimeout: seconds(valueOf(args, 'negative-timeout', true)),
    fopenKeepCache: boolean(valueOf(args, 'fopen-keep-cache', false)),
  };
}

/** The option's last value; '' for an optional-argument flag given alone; undefined if absent. */
function valueOf(args: readonly string[], name: string, separateValue: boolean): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith(`--${name}=`)) value = arg.slice(name.length + 3);
    else if (arg === `--${name}`) value = separateValue ? (args[++i] ?? '') : '';
  }
  return value;
}

function seconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  return value.trim() === '' || Number.isNaN(number) ? Number.NaN : number;
}

function boolean(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === '') return true;
  const lower = value.toLowerCase();
  if (['false', 'off', 'no', '0', 'disable'].includes(lower)) return false;
  return true;
}
