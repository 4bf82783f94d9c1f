import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { CliError } from '../cli/command.js';

/**
 * The cluster's secrets live in files, one secret per line (a file may hold
 * several where rotation needs it: the first is used, all are accepted). The
 * files are read once at start-up; a missing, short or malformed one stops
 * the process with one line naming the file.
 */
export function readSecretLines(path: string, what: string, minLength: number): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read the ${what} file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (lines.length === 0) throw new CliError(`the ${what} file ${path} is empty`);
  for (const line of lines) {
    if (line.length < minLength) throw new CliError(`the ${what} in ${path} must be at least ${minLength} characters`);
    if (!/^[\x21-\x7e]+$/.test(line)) throw new CliError(`the ${what} in ${path} must be visible ASCII without spaces`);
  }
  return lines;
}

/** Like readSecretLines, for a file that must hold exactly one secret. */
export function readSecret(path: string, what: string, minLength: number): string {
  const lines = readSecretLines(path, what, minLength);
  if (lines.length > 1) throw new CliError(`the ${what} file ${path} must hold one line, not ${lines.length}`);
  return lines[0]!;
}

/** A new random secret: 32 bytes (256 bits), base64url, 43 characters. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Writes `secret` to a new file readable by its owner only (0600). Fails
 * with EEXIST rather than replace an existing secret.
 */
export function writeSecretFile(path: string, secret: string): void {
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
}
