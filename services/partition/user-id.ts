import { createHash } from 'node:crypto';
import { join, relative, isAbsolute } from 'node:path';
import { USER_ID_PATTERN } from '../ids/id-patterns.js';
import { PinbaseError } from '../problem/pinbase-error.js';

/** Throws `invalid_user_id` unless `userId` matches USER_ID_PATTERN. No I/O. */
export function assertUserId(userId: string): void {
  if (!USER_ID_PATTERN.test(userId)) {
    throw new PinbaseError('invalid_user_id', `user ids match ${USER_ID_PATTERN.source}`);
  }
}

/** The 2-hex-character fan-out directory of a user: keeps directories small on shared filesystems. */
export function fanOutDir(userId: string): string {
  return createHash('sha256').update(userId).digest('hex').slice(0, 2);
}

/**
 * `<dataDir>/<fan-out>/<userId>.sqlite`. Validates the id first (before any
 * file-system call) and checks that the result stays inside `dataDir`.
 */
export function partitionPath(dataDir: string, userId: string): string {
  assertUserId(userId);
  const path = join(dataDir, fanOutDir(userId), `${userId}.sqlite`);
  const rel = relative(dataDir, path);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new PinbaseError('invalid_user_id', 'user id resolves outside the data directory');
  }
  return path;
}
