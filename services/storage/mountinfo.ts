/**
 * /proc/self/mountinfo (proc(5)): which mount a path is on, with its file
 * system type, source and both option lists. Paths in the file escape space,
 * tab, newline and backslash as octal (`\040`, `\011`, `\012`, `\134`).
 * Pure: parsing and lookup take text and paths, never read the file.
 */
export interface MountEntry {
  readonly mountId: number;
  readonly parentId: number;
  /** `major:minor` of the file system: a bind mount shares it with the mount it was made from. */
  readonly device: string;
  /** The directory of the file system that is mounted here (`/` unless a bind mount of a subdirectory). */
  readonly root: string;
  readonly mountPoint: string;
  /** Per-mount options (rw, noatime, ...). */
  readonly mountOptions: readonly string[];
  /** e.g. ext4, overlay, fuse.glusterfs, nfs4. */
  readonly fsType: string;
  /** e.g. /dev/sda1, host:volume, server:/export. */
  readonly source: string;
  /** Per-file-system options (for NFS: vers, hard, acregmin=..., lookupcache=...). */
  readonly superOptions: readonly string[];
}

/** Every well-formed line of a mountinfo text, in file order; malformed lines are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const entry = parseLine(line);
    if (entry !== undefined) entries.push(entry);
  }
  return entries;
}

function parseLine(line: string): MountEntry | undefined {
  const fields = line.trim().split(' ');
  const separator = fields.indexOf('-', 6);
  if (separator < 0 || fields.length < separator + 4) return undefined;
  const [mountId, parentId, device, root, mountPoint, mountOptions] = fields;
  return {
    mountId: Number(mountId),
    parentId: Number(parentId),
    device: device!,
    root: unescapeMountPath(root!),
    mountPoint: unescapeMountPath(mountPoint!),
    mountOptions: mountOptions!.split(','),
    fsType: fields[separator + 1]!,
    source: unescapeMountPath(fields[separator + 2]!),
    superOptions: fields[separator + 3]!.split(','),
  };
}

/** Undoes the kernel's octal escapes (`\040` is a space). */
export function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * The mount `path` (absolute, symlinks resolved) is on: the entry whose
 * mount point is the longest whole-component prefix of it; of several
 * mounts on the same point, the last one (it hides the others).
 */
export function mountFor(entries: readonly MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const entry of entries) {
    if (!isUnder(path, entry.mountPoint)) continue;
    if (best === undefined || entry.mountPoint.length >= best.mountPoint.length) best = entry;
  }
  return best;
}

function isUnder(path: string, mountPoint: string): boolean {
  if (mountPoint === '/') return path.startsWith('/');
  return path === mountPoint || path.startsWith(`${mountPoint}/`);
}
