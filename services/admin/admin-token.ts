import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CliError } from '../cli/command.js';

/**
 * The shared secret that guards the cluster's mutating admin endpoints: the
 * router's drain/undrain and the workers' partition handover. Every router
 * and worker of a cluster is given the same token file (Ansible renders it
 * from a vault variable); without one the endpoints are open, which is what
 * a single-machine cluster on loopback (`pinbase up`) uses.
 */
export function readAdminTokenFile(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new CliError(`cannot read the admin token file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (token.length < 16) throw new CliError(`the admin token in ${path} must be at least 16 characters`);
  if (!/^[\x21-\x7e]+$/.test(token)) throw new CliError(`the admin token in ${path} must be visible ASCII without spaces`);
  return token;
}

/** The Authorization header value that carries `token`. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/** Whether an Authorization header carries `token` (constant time); always true when no token is set. */
export function isAuthorized(authorization: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  if (authorization === undefined) return false;
  const given = Buffer.from(authorization);
  const expected = Buffer.from(bearer(token));
  return given.length === expected.length && timingSafeEqual(given, expected);
}
