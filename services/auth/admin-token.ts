import { createHash, timingSafeEqual } from 'node:crypto';
import { readSecret } from './secret-file.js';

/**
 * The shared secret that guards the cluster's mutating admin endpoints: the
 * router's drain/undrain and the workers' partition handover. Every router
 * and worker of a cluster is given the same token file (Ansible renders it
 * from a vault variable); without one the endpoints are open, which is what
 * a single-machine cluster on loopback (`pinbase up`) uses.
 */
export function readAdminTokenFile(path: string | undefined): string | undefined {
  return path === undefined ? undefined : readSecret(path, 'admin token', 16);
}

/** The Authorization header value that carries `token`. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/**
 * Whether an Authorization header carries `token`; always true when no
 * token is set. Both sides are hashed before a constant-time compare, so
 * neither the token's length nor its content leaks through timing.
 */
export function isAuthorized(authorization: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  if (authorization === undefined) return false;
  return timingSafeEqual(sha256(authorization), sha256(bearer(token)));
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
