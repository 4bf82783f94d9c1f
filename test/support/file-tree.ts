import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Every file and directory under `dir`, as sorted paths relative to it ([] if `dir` does not exist). */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      out.push(relative(dir, path) + (entry.isDirectory() ? '/' : ''));
      if (entry.isDirectory()) walk(path);
    }
  };
  walk(dir);
  return out.sort();
}
