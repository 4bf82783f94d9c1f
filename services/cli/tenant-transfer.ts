/**
 * One tenant's export and import through the router, for `pinbase export |
 * import | backup | restore`.
 *
 * An export is checked while it streams and judged complete only when:
 * NDJSON: the first line is a pinbase-export header and the last line is
 * `{"type":"end","count":N}` with N the number of lines between them;
 * SQLite: it starts with "SQLite format 3\0" and is exactly Content-Length
 * bytes long. A file export is written to `<file>.partial`, fsynced, and
 * renamed to `<file>` only when complete: a file with the final name is
 * always a complete export.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RequestFailure, type ClusterClient } from './cluster-client.js';

export const EXPORT_FORMATS = {
  ndjson: { contentType: 'application/x-ndjson', extension: 'ndjson' },
  sqlite: { contentType: 'application/vnd.sqlite3', extension: 'sqlite' },
} as const;
export type ExportFormat = keyof typeof EXPORT_FORMATS;

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
/** The NDJSON header line is read to this length at most; the end line is looked for in this many trailing bytes. */
const HEADER_LIMIT = 64 * 1024;
const TAIL_LIMIT = 4096;

export interface ExportResult {
  /** The commit the export reflects (X-Pinbase-Seq, or the NDJSON header's seq). */
  readonly seq: number | null;
  readonly bytes: number;
  readonly sha256: string;
}

/** Tallies an export as it passes: size, SHA-256, and what completeness is judged on. */
class ExportCheck extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  private head: Buffer = Buffer.alloc(0);
  private tail: Buffer = Buffer.alloc(0);
  private newlines = 0;

  constructor(private readonly format: ExportFormat) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    if (this.head.length < HEADER_LIMIT) this.head = Buffer.concat([this.head, chunk.subarray(0, HEADER_LIMIT - this.head.length)]);
    if (this.format === 'ndjson') {
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) this.newlines++;
      const joined = chunk.length >= TAIL_LIMIT ? chunk : Buffer.concat([this.tail, chunk]);
      this.tail = joined.subarray(Math.max(0, joined.length - TAIL_LIMIT));
    }
    callback(null, chunk);
  }

  /** Throws RequestFailure `incomplete_export` (retryable) unless the export is complete. */
  verify(contentLength: number | undefined, headerSeq: number | null): ExportResult {
    const sha256 = this.hash.digest('hex');
    if (this.format === 'sqlite') {
      if (!this.head.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) throw incomplete('it does not start with the SQLite header');
      if (contentLength !== undefined && contentLength !== this.bytes) throw incomplete(`${this.bytes} bytes of ${contentLength}`);
      return { seq: headerSeq, bytes: this.bytes, sha256 };
    }
    const newline = this.head.indexOf(10);
    const header = parseLine(this.head.subarray(0, newline < 0 ? this.head.length : newline).toString('utf8'));
    if (header?.type !== 'header' || header.format !== 'pinbase-export') throw incomplete('its first line is not a pinbase-export header');
    const text = this.tail.toString('utf8');
    const endsWithNewline = text.endsWith('\n');
    const body = endsWithNewline ? text.slice(0, -1) : text;
    const end = parseLine(body.slice(body.lastIndexOf('\n') + 1));
    const lines = this.newlines + (endsWithNewline ? 0 : 1);
    if (end?.type !== 'end' || end.count !== lines - 2) throw incomplete(`it has ${lines} lines and no matching end line`);
    if (contentLength !== undefined && contentLength !== this.bytes) throw incomplete(`${this.bytes} bytes of ${contentLength}`);
    return { seq: typeof header.seq === 'number' ? header.seq : headerSeq, bytes: this.bytes, sha256 };
  }
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function incomplete(why: string): RequestFailure {
  return new RequestFailure('incomplete_export', `the export is incomplete: ${why}`, undefined, true);
}

/** Streams `user`'s export into `sink` and checks it (RequestFailure when refused, cut short or incomplete). */
export async function exportTenant(
  client: ClusterClient,
  user: string,
  format: ExportFormat,
  history: boolean,
  sink: Writable,
): Promise<ExportResult> {
  const path = `/api/users/${encodeURIComponent(user)}/_export${history ? '?history=true' : ''}`;
  const response = await client.send({ method: 'GET', path, headers: { accept: EXPORT_FORMATS[format].contentType } });
  const check = new ExportCheck(format);
  try {
    await pipeline(response.body, check, sink);
  } catch (error) {
    throw new RequestFailure('export_interrupted', `the export of ${user} broke off: ${(error as Error).message}`, undefined, true);
  }
  const length = Number(response.headers['content-length']);
  const seq = Number(response.headers['x-pinbase-seq']);
  return check.verify(Number.isSafeInteger(length) ? length : undefined, Number.isSafeInteger(seq) ? seq : null);
}

/**
 * Exports `user` to `file`: written to `file.partial`, fsynced, renamed to
 * `file` only once complete. On failure the partial file is removed (and a
 * crash leaves only a `.partial`, never a complete-looking `file`).
 */
export async function exportTenantToFile(client: ClusterClient, user: string, format: ExportFormat, history: boolean, file: string): Promise<ExportResult> {
  const partial = `${file}.partial`;
  try {
    const result = await exportTenant(client, user, format, history, createWriteStream(partial, { mode: 0o600 }));
    await fsyncFile(partial);
    await rename(partial, file);
    return result;
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The format of an export file, from its first bytes; undefined if it is neither. */
export async function detectFormat(file: string): Promise<ExportFormat | undefined> {
  const handle = await open(file, 'r');
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(SQLITE_MAGIC.length), 0, SQLITE_MAGIC.length, 0);
    if (bytesRead === SQLITE_MAGIC.length && buffer.equals(SQLITE_MAGIC)) return 'sqlite';
    return bytesRead > 0 && buffer[0] === 0x7b ? 'ndjson' : undefined;
  } finally {
    await handle.close();
  }
}

export interface ImportResult {
  readonly seq?: number;
  readonly objects?: number;
  readonly versions?: number;
  readonly indexes?: number;
}

/** Imports `file` (already known to be `format`) into `user`; streams the file as the body. RequestFailure when refused. */
export async function importTenant(client: ClusterClient, user: string, file: string, format: ExportFormat, replace: boolean): Promise<ImportResult> {
  const { size } = await stat(file);
  const path = `/api/users/${encodeURIComponent(user)}/_import${replace ? '?replace=true' : ''}`;
  const response = await client.send({
    method: 'POST',
    path,
    headers: { 'content-type': EXPORT_FORMATS[format].contentType, 'content-length': String(size) },
    body: createReadStream(file),
  });
  return (await response.body.json()) as ImportResult;
}
