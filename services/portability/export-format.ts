/**
 * The NDJSON export format, version 1 (the contract the CLI and other
 * tools read and write; extend it only by adding fields):
 *
 *   {"type":"header","format":"pinbase-export","version":1,"user":"<id>","seq":<S>,"history":<bool>,"prunedThrough":<P>,"exportedAt":"<ISO>"}
 *   {"type":"index","collection":"c","name":"n","paths":["a.b"],"unique":false}     (each catalog entry)
 *   {"type":"version","collection":"c","id":"x","rev":5,"deleted":false,"committedAt":<ms>,"data":{...}}
 *   {"type":"end","count":<lines between header and end>}
 *
 * One JSON object per line, each followed by "\n". Version lines: the live
 * objects at S (by default), or with history every retained version with
 * rev ≤ S, tombstones included (`"deleted":true,"data":null`), grouped per
 * object, oldest first. `prunedThrough` (added to version 1, optional on
 * import) is the oldest snapshot the history is exact from. A file without
 * the end line, or with another count, is truncated.
 */
export const EXPORT_FORMAT = 'pinbase-export';
export const EXPORT_FORMAT_VERSION = 1;

export const NDJSON_TYPE = 'application/x-ndjson';
export const SQLITE_TYPE = 'application/vnd.sqlite3';
export type PortableFormat = 'ndjson' | 'sqlite';

export interface HeaderLine {
  type: 'header';
  format: typeof EXPORT_FORMAT;
  version: number;
  user: string;
  seq: number;
  history: boolean;
  prunedThrough: number;
  exportedAt: string;
}

export interface IndexLine {
  type: 'index';
  collection: string;
  name: string;
  paths: string[];
  unique: boolean;
}

/** A version line as the exporter writes it: `data` is the stored JSON text (null for a tombstone). */
export interface ExportedVersion {
  collection: string;
  id: string;
  rev: number;
  deleted: boolean;
  committedAt: number;
  body: string | null;
}

export function formatVersionLine(v: ExportedVersion): string {
  return (
    `{"type":"version","collection":${JSON.stringify(v.collection)},"id":${JSON.stringify(v.id)},"rev":${v.rev},` +
    `"deleted":${v.deleted},"committedAt":${v.committedAt},"data":${v.body ?? 'null'}}\n`
  );
}

export function formatLine(line: HeaderLine | IndexLine | { type: 'end'; count: number }): string {
  return `${JSON.stringify(line)}\n`;
}

/** What an import answers. */
export interface ImportResult {
  seq: number;
  /** Live objects after the import. */
  objects: number;
  /** Versions imported, tombstones included. */
  versions: number;
  indexes: number;
}
