/** No tracked file carries a merge's conflict markers (one did, inside a template literal, and still compiled). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');

describe('the tree', () => {
  it('has no merge conflict markers in any tracked text file', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
    expect(files.length).toBeGreaterThan(100);
    const marked: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(join(root, file), 'utf8');
      } catch {
        continue; // deleted in the working tree
      }
      if (text.includes('\0')) continue; // binary
      const line = text.split('\n').findIndex((l) => /^(<{7} |>{7} |={7}$)/.test(l));
      if (line >= 0) marked.push(`${file}:${line + 1}`);
    }
    expect(marked).toEqual([]);
  });
});
