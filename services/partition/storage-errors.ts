import { PinbaseError } from '../problem/pinbase-error.js';

/**
 * Maps an error from SQLite or the file system to what the client is told.
 * `fatal` means the partition's on-disk state is in doubt and it must be
 * closed (and reopened from disk by the next request).
 */
export function classifyStorageError(error: unknown): { error: PinbaseError; fatal: boolean } {
  if (error instanceof PinbaseError) return { error, fatal: false };
  const code = (error as { code?: unknown }).code;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') {
    return {
      error: new PinbaseError('insufficient_storage', 'the data volume is full; nothing was written', { cause: error }),
      fatal: false,
    };
  }
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return {
      error: new PinbaseError('partition_busy', 'another process has this user\'s file open', { cause: error }),
      fatal: false,
    };
  }
  if (typeof code === 'string' && (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CORRUPT') || code === 'EIO' || code === 'SQLITE_READONLY')) {
    return {
      error: new PinbaseError('io_error', `storage failed (${code}); retry with the same Idempotency-Key to learn the outcome`, {
        cause: error,
      }),
      fatal: true,
    };
  }
  return { error: new PinbaseError('internal_error', undefined, { cause: error }), fatal: true };
}
