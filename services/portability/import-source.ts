import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { PinbaseError } from '../problem/pinbase-error.js';

/** The import_too_large error of an import body over `maxBytes`. */
export function tooLarge(maxBytes: number): PinbaseError {
  return new PinbaseError('import_too_large', `an import is at most ${maxBytes} bytes (the user quota)`);
}

/** The invalid_import error, with what is wrong. */
export function invalidImport(detail: string): PinbaseError {
  return new PinbaseError('invalid_import', detail);
}

/**
 * Writes `source` to `file` as it arrives (never more than one chunk in
 * memory, waiting for the disk), refusing (import_too_large) as soon as
 * more than `maxBytes` arrived. Returns the size. The caller deletes the
 * file on any failure.
 */
export async function receiveFile(source: AsyncIterable<Buffer>, file: string, maxBytes: number): Promise<number> {
  const out = createWriteStream(file, { flags: 'wx' });
  let size = 0;
  try {
    for await (const chunk of source) {
      size += chunk.length;
      if (size > maxBytes) throw tooLarge(maxBytes);
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    return size;
  } finally {
    if (!out.writableFinished) out.destroy();
  }
}

/**
 * The lines of an NDJSON body as they arrive, with their 1-based numbers.
 * Bounds: a line longer than `maxLineBytes` is invalid_import (memory per
 * import: one line), the whole body beyond `maxBytes` is import_too_large,
 * bytes that are not UTF-8 are invalid_import. A last line without "\n" is
 * yielded too.
 */
export async function* ndjsonLines(
  source: AsyncIterable<Buffer>,
  limits: { maxBytes: number; maxLineBytes: number },
): AsyncGenerator<{ text: string; number: number }> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = (bytes: Buffer, number: number) => {
    try {
      return decoder.decode(bytes);
    } catch {
      throw invalidImport(`line ${number} is not UTF-8`);
    }
  };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let number = 0;
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > limits.maxBytes) throw tooLarge(limits.maxBytes);
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, newline);
      if (pendingBytes + piece.length > limits.maxLineBytes) throw invalidImport(`line ${number + 1} is longer than ${limits.maxLineBytes} bytes`);
      number++;
      yield { text: decode(pending.length === 0 ? piece : Buffer.concat([...pending, piece]), number), number };
      pending = [];
      pendingBytes = 0;
      start = newline + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0) {
      pendingBytes += rest.length;
      if (pendingBytes > limits.maxLineBytes) throw invalidImport(`line ${number + 1} is longer than ${limits.maxLineBytes} bytes`);
      pending.push(Buffer.from(rest));
    }
  }
  if (pendingBytes > 0) {
    number++;
    yield { text: decode(Buffer.concat(pending), number), number };
  }
}
