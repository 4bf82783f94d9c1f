import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COLLECTION_PATTERN, OBJECT_ID_PATTERN } from '../../../services/ids/id-patterns.js';
import { fanOutDir, partitionPath } from '../../../services/partition/user-id.js';
import { PinbaseError } from '../../../services/problem/pinbase-error.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof PinbaseError ? error.code : 'not a PinbaseError';
  }
  return undefined;
}

describe('partition paths', () => {
  it('puts a user file under a 2-hex-character fan-out directory of the data dir', () => {
    const path = partitionPath('/data', 'alice');
    expect(path).toBe(join('/data', fanOutDir('alice'), 'alice.sqlite'));
    expect(fanOutDir('alice')).toMatch(/^[0-9a-f]{2}$/);
  });

  it('spreads users over many fan-out directories', () => {
    const dirs = new Set(Array.from({ length: 2000 }, (_, i) => fanOutDir(`user-${i}`)));
    expect(dirs.size).toBeGreaterThan(200);
  });

  it.each(['', '..', '../x', 'a/b', 'a\\b', 'a\0b', '%2e%2e', 'x'.repeat(65), 'ä', 'a b', '.hidden'])(
    'rejects user id %j with invalid_user_id before touching the file system',
    (userId) => {
      expect(codeOf(() => partitionPath('/nonexistent-data-dir', userId))).toBe('invalid_user_id');
    },
  );

  it('accepts ids of letters, digits, "_" and "-" up to 64 characters', () => {
    for (const id of ['a', 'A-b_9', 'x'.repeat(64)]) expect(codeOf(() => partitionPath('/data', id))).toBeUndefined();
  });
});

describe('collection and object names', () => {
  it.each(['_changes', 'Upper', '9lives', '', 'a'.repeat(65), 'a/b', 'a.b'])('rejects collection %j', (name) => {
    expect(COLLECTION_PATTERN.test(name)).toBe(false);
  });

  it.each(['notes', 'a', 'user-prefs_2'])('accepts collection %j', (name) => {
    expect(COLLECTION_PATTERN.test(name)).toBe(true);
  });

  it.each(['.', '..', '.x', '', 'a/b', 'a b', 'x'.repeat(129), 'a%b'])('rejects object id %j', (id) => {
    expect(OBJECT_ID_PATTERN.test(id)).toBe(false);
  });

  it.each(['n1', '01J0ABCDEF', 'a.b:c-d_e', '_x'])('accepts object id %j', (id) => {
    expect(OBJECT_ID_PATTERN.test(id)).toBe(true);
  });
});
