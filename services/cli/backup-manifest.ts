/**
 * `<dir>/manifest.json` of `pinbase backup --all`: every tenant whose export
 * in the directory is complete, with its seq, size, SHA-256 and time. It is
 * written atomically (a temporary file, fsynced, renamed over it): a reader
 * sees the previous manifest or the new one, never a mix; the directory is
 * fsynced before (the listed files' renames) and after. A tenant is in the
 * manifest only once its file was renamed into place, so every entry names
 * a complete file; a complete file may be missing from it (the manifest is
 * rewritten every MANIFEST_EVERY tenants and at the end), and a rerun then
 * exports that tenant again.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { USER_ID_PATTERN } from '../ids/id-patterns.js';
import { CliError } from './command.js';
import { EXPORT_FORMATS, type ExportFormat } from './tenant-transfer.js';

export const MANIFEST_FILE = 'manifest.json';
/** The manifest is rewritten after every this many tenants. */
export const MANIFEST_EVERY = 100;

export interface ManifestEntry {
  readonly user: string;
  /** The file's name in the backup directory: `<user>.<ndjson|sqlite>`. */
  readonly file: string;
  readonly seq: number | null;
  readonly bytes: number;
  readonly sha256: string;
  /** When the export completed (ISO 8601). */
  readonly at: string;
}

export interface Manifest {
  readonly format: 'pinbase-backup';
  readonly version: 1;
  readonly exportFormat: ExportFormat;
  readonly history: boolean;
  readonly router: string;
  readonly updatedAt: string;
  /** Sorted by user. */
  readonly tenants: ManifestEntry[];
}

/** The manifest of `dir`, or undefined when it has none. A manifest that cannot be used is a CliError. */
export async function readManifest(dir: string): Promise<Manifest | undefined> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch {
    throw new CliError(`${path} is not JSON: remove it to back up into ${dir} from scratch`);
  }
  const valid =
    manifest.format === 'pinbase-backup' &&
    manifest.version === 1 &&
    Object.hasOwn(EXPORT_FORMATS, manifest.exportFormat) &&
    Array.isArray(manifest.tenants) &&
    manifest.tenants.every((t) => typeof t?.user === 'string' && USER_ID_PATTERN.test(t.user) && t.file === fileName(t.user, manifest.exportFormat) && Number.isSafeInteger(t.bytes));
  if (!valid) throw new CliError(`${path} is not a pinbase backup manifest (version 1)`);
  return manifest;
}

/**
 * Replaces `dir`'s manifest atomically and durably: the directory is fsynced
 * first (the renames that put the listed files in place are on disk before
 * a manifest names them), then the manifest is written, fsynced, renamed,
 * and the directory fsynced again.
 */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await fsyncDirectory(dir);
  const path = join(dir, MANIFEST_FILE);
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(manifest, null, 1)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  await fsyncDirectory(dir);
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** `<user>.<extension>`: user ids have no dot, so the name is unambiguous. */
export function fileName(user: string, format: ExportFormat): string {
  return `${user}.${EXPORT_FORMATS[format].extension}`;
}
