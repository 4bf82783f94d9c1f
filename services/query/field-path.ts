import { PinbaseError } from '../problem/pinbase-error.js';

/**
 * A field of a document named by its path from the root, in dot form:
 * `status`, `address.city`. Each segment is an object key of 1 to 64 of
 * [A-Za-z0-9_-]; at most MAX_PATH_SEGMENTS segments. Array elements are not
 * addressed by a path (`contains` tests array membership).
 *
 * This is the one place where a field path becomes SQL. Filters bind every
 * value, and a path that no index covers is bound too (fieldValueSql with a
 * parameter). A path an index covers must appear in the query as the very
 * expression the index was created with, as text: SQLite matches an
 * expression index only against an identical expression, never against a
 * bound parameter (measured: `json_extract(body, ?)` scans). That text is
 * rendered here from the validated segments, each quoted as a JSON-path
 * label, and the segment alphabet holds no quote, backslash or dot, so the
 * literal cannot be escaped from.
 */
export type FieldPath = readonly string[];

export const MAX_PATH_SEGMENTS = 8;
const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;

/** Parses a dot path; `invalid_path_code` names the error (invalid_filter, invalid_order, ...). */
export function parseFieldPath(text: string, errorCode: 'invalid_filter' | 'invalid_order' | 'invalid_fields' | 'invalid_index'): FieldPath {
  const segments = text.split('.');
  if (segments.length > MAX_PATH_SEGMENTS) {
    throw new PinbaseError(errorCode, `a field path has at most ${MAX_PATH_SEGMENTS} segments`);
  }
  for (const segment of segments) {
    if (!SEGMENT.test(segment)) {
      throw new PinbaseError(
        errorCode,
        `"${text.length > 80 ? `${text.slice(0, 80)}...` : text}" is not a field path (dot-separated keys of 1 to 64 letters, digits, "_" or "-")`,
      );
    }
  }
  return segments;
}

/** The path in dot form, as users write it. */
export function formatFieldPath(path: FieldPath): string {
  return path.join('.');
}

/** The SQLite JSON path of `path`: `$."address"."city"` (each label quoted). */
export function jsonPath(path: FieldPath): string {
  return `$${path.map((segment) => `."${segment}"`).join('')}`;
}

/**
 * The SQL expression of the field's value in the document column of table
 * alias `alias` (none: unqualified, as CREATE INDEX writes it), as index DDL
 * and index-matching queries write it: `json_extract(v.body, '$."status"')`.
 * Only for validated paths (see the module comment).
 */
export function fieldValueSql(alias: string | undefined, path: FieldPath): string {
  for (const segment of path) if (!SEGMENT.test(segment)) throw new Error(`unvalidated path segment ${JSON.stringify(segment)}`);
  return `json_extract(${alias === undefined ? '' : `${alias}.`}body, '${jsonPath(path)}')`;
}

/** The same value with the path as a bound parameter: for paths no index covers. */
export function boundFieldValueSql(alias: string): string {
  return `json_extract(${alias}.body, ?)`;
}
