/**
 * Is the file system under `--data` safe for Pinbase's single-writer
 * guarantees? A worker decides who owns a user's file from a lease's mtime
 * and the owner record, and hands SQLite files between hosts: it needs POSIX
 * locks that hold, and metadata and data no older than the last close on
 * another host. Local file systems give that. Shared ones only with the
 * right settings (docs/ARCHITECTURE.md, "Storage checks"):
 * - fuse.glusterfs: the client must run with attribute-timeout=0,
 *   entry-timeout=0 and fopen-keep-cache=false (and no negative-timeout);
 *   read from the client's command line (glusterfs-client.ts);
 * - nfs, nfs4: hard, locks through the server (no nolock, local_lock=none),
 *   close-to-open (no nocto), no attribute cache (actimeo=0 or noac) and
 *   lookupcache=none; read from mountinfo's super options;
 * - any other file system not known to be local (cifs, ceph, 9p, other
 *   FUSE file systems, ...) is refused: its guarantees are unknown.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { glusterCaching, glusterClientArgs } from './glusterfs-client.js';
import { mountFor, parseMountinfo, type MountEntry } from './mountinfo.js';

/** File systems whose files live on this machine only: locks and metadata are exact. */
const LOCAL_FILE_SYSTEMS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'f2fs', 'bcachefs', 'jfs', 'reiserfs', 'tmpfs', 'ramfs', 'overlay']);

/** `unchecked`: the platform has no /proc/self/mountinfo (not Linux): nothing could be checked. */
export type StorageKind = 'local' | 'glusterfs' | 'nfs' | 'unknown' | 'unchecked';

/** What the check found; `/_worker/status` shows it as is. */
export interface StorageVerdict {
  /** The data directory, symlinks resolved. */
  readonly path: string;
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
  readonly kind: StorageKind;
  readonly safe: boolean;
  /** What makes it unsafe: each a required option missing (`actimeo=0`) or a forbidden one present (`nolock`). Empty when safe. */
  readonly problems: readonly string[];
  /** Why, in one sentence, when unsafe or unchecked. */
  readonly reason: string | undefined;
}

/** Where the check reads from; tests give captured text. */
export interface StorageSources {
  readonly mountinfo: () => string;
  /** The glusterfs client's arguments for one of these mount points (glusterClientArgs). */
  readonly glusterClientArgs: (mountPoints: readonly string[]) => string[] | undefined;
  readonly realpath: (path: string) => string;
  readonly platform: NodeJS.Platform;
}

export const SYSTEM_STORAGE_SOURCES: StorageSources = {
  mountinfo: () => readFileSync('/proc/self/mountinfo', 'utf8'),
  glusterClientArgs: (mountPoints) => glusterClientArgs(mountPoints),
  realpath: (path) => realpathSync(path),
  platform: process.platform,
};

/** Inspects the file system `dataDir` (which must exist) is on. Never throws for an unsafe one: see `safe`. */
export function checkStorage(dataDir: string, sources: StorageSources = SYSTEM_STORAGE_SOURCES): StorageVerdict {
  const path = sources.realpath(dataDir);
  let entries: MountEntry[];
  try {
    entries = parseMountinfo(sources.mountinfo());
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    // Production runs on Linux; a laptop on another OS has no mountinfo to read, and its disk is its own.
    if (code === 'ENOENT' && sources.platform !== 'linux') {
      return { path, mountPoint: '', fsType: 'unknown', source: '', kind: 'unchecked', safe: true, problems: [], reason: `no /proc/self/mountinfo on ${sources.platform}: storage not checked` };
    }
    return unknownMount(path, `cannot read /proc/self/mountinfo (${code})`);
  }
  const mount = mountFor(entries, path);
  if (mount === undefined) return unknownMount(path, 'no mount in /proc/self/mountinfo holds it');
  const found = { path, mountPoint: mount.mountPoint, fsType: mount.fsType, source: mount.source };
  if (LOCAL_FILE_SYSTEMS.has(mount.fsType)) return { ...found, kind: 'local', safe: true, problems: [], reason: undefined };
  if (mount.fsType === 'fuse.glusterfs') return { ...found, kind: 'glusterfs', ...glusterfsProblems(mount, entries, sources) };
  if (mount.fsType === 'nfs' || mount.fsType === 'nfs4') return { ...found, kind: 'nfs', ...verdict(nfsProblems(mount.superOptions), 'the NFS mount options allow stale reads or lost locks') };
  return {
    ...found,
    kind: 'unknown',
    safe: false,
    problems: [],
    reason: `${mount.fsType} is not a file system Pinbase knows to be local, GlusterFS or NFS; its locking and caching are unknown`,
  };
}

/** The problems of an NFS mount's super options (as mountinfo shows them, e.g. `vers=4.2,hard,...,acregmin=0`). */
export function nfsProblems(options: readonly string[]): string[] {
  const has = (name: string) => options.includes(name);
  const value = (name: string) => options.find((option) => option.startsWith(`${name}=`))?.slice(name.length + 1);
  const problems: string[] = [];
  if (has('soft') || has('softerr')) problems.push(has('soft') ? 'soft (use hard)' : 'softerr (use hard)');
  if (has('nolock')) problems.push('nolock');
  const localLock = value('local_lock');
  if (localLock !== undefined && localLock !== 'none') problems.push(`local_lock=${localLock} (use local_lock=none)`);
  if (has('nocto')) problems.push('nocto');
  const noAttributeCache = has('noac') || ['acregmin', 'acregmax', 'acdirmin', 'acdirmax'].every((name) => value(name) === '0');
  if (!noAttributeCache) problems.push('actimeo=0 (or noac) missing');
  if (value('lookupcache') !== 'none') problems.push('lookupcache=none missing');
  return problems;
}

function glusterfsProblems(mount: MountEntry, entries: readonly MountEntry[], sources: StorageSources): Pick<StorageVerdict, 'safe' | 'problems' | 'reason'> {
  // A bind mount of (part of) the volume shares the device of the mount its client serves.
  const mountPoints = entries.filter((entry) => entry.device === mount.device && entry.fsType === mount.fsType).map((entry) => entry.mountPoint);
  const args = sources.glusterClientArgs(mountPoints);
  if (args === undefined) {
    return {
      safe: false,
      problems: [],
      reason: `no glusterfs client process serving ${mountPoints.join(', ')} is visible in /proc, so its caching options cannot be checked`,
    };
  }
  const caching = glusterCaching(args);
  const problems: string[] = [];
  if (caching.attributeTimeout !== 0) problems.push('attribute-timeout=0 missing');
  if (caching.entryTimeout !== 0) problems.push('entry-timeout=0 missing');
  if (caching.negativeTimeout !== undefined && caching.negativeTimeout !== 0) problems.push(`negative-timeout=${caching.negativeTimeout} (use 0)`);
  if (caching.fopenKeepCache !== false) problems.push('fopen-keep-cache=false missing');
  return verdict(problems, 'the GlusterFS client caches attributes, entries or file contents across hosts');
}

function verdict(problems: string[], reason: string): Pick<StorageVerdict, 'safe' | 'problems' | 'reason'> {
  return problems.length === 0 ? { safe: true, problems, reason: undefined } : { safe: false, problems, reason };
}

function unknownMount(path: string, reason: string): StorageVerdict {
  return { path, mountPoint: '', fsType: 'unknown', source: '', kind: 'unknown', safe: false, problems: [], reason };
}

/** The one line a worker refuses (or, overridden, warns) with. */
export function describeUnsafeStorage(verdict: StorageVerdict): string {
  const where = verdict.mountPoint === '' ? verdict.path : `${verdict.path} (${verdict.fsType} ${verdict.source} on ${verdict.mountPoint})`;
  const problems = verdict.problems.length === 0 ? '' : `: ${verdict.problems.join(', ')}`;
  return `unsafe storage for --data ${where}${problems}; ${verdict.reason ?? 'unsafe'}`;
}
