import type { Statements } from '../partition/statements.js';
import { parseFieldPath, type FieldPath } from './field-path.js';

/** A ready index of a collection, as queries see it. */
export interface ReadyIndex {
  /** The user's name of the index (`by_status`). */
  name: string;
  paths: FieldPath[];
  unique: boolean;
  generation: number;
}

/**
 * The ready indexes of `collection` (the catalog's rows in state 'ready';
 * the index slice writes the catalog). `paths` is stored as a JSON array of
 * dot paths. A row that does not parse is skipped: a query then scans
 * rather than trust it.
 */
export function readyIndexes(sql: Statements, collection: string): ReadyIndex[] {
  const rows = sql
    .get("SELECT name, paths, is_unique, generation FROM indexes WHERE collection = ? AND state = 'ready' ORDER BY name")
    .all(collection) as { name: string; paths: string; is_unique: number; generation: number }[];
  const ready: ReadyIndex[] = [];
  for (const row of rows) {
    try {
      const paths = (JSON.parse(row.paths) as unknown[]).map((path) => (Array.isArray(path) ? path.join('.') : String(path)));
      if (paths.length === 0) continue;
      ready.push({ name: row.name, paths: paths.map((path) => parseFieldPath(path, 'invalid_index')), unique: row.is_unique === 1, generation: Number(row.generation) });
    } catch {
      continue;
    }
  }
  return ready;
}
