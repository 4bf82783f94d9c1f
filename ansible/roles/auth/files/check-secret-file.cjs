#!/usr/bin/env node
// Usage: node check-secret-file.cjs RELEASE_DIR KIND CANDIDATE
//
// Ansible's `validate` step for the secret files: the CANDIDATE must pass
// the parser the release's processes read it with (KIND auth-secret,
// admin-token or cluster-secret: dist/services/auth/ of RELEASE_DIR), or be
// a JWKS document of public keys (KIND jwks). Exits 1 with one line on
// stderr, which never holds the secret, when the candidate must not replace
// the file in use.
'use strict';

/** Members of a JWK that only a private or symmetric key has (RFC 7518 §6). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

function checkJwks(readFileSync, path) {
  let jwks;
  try {
    jwks = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new Error('the JWKS is not JSON');
  }
  const keys = jwks === null || typeof jwks !== 'object' ? undefined : jwks.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error('the JWKS has no "keys" array with a key in it');
  for (const [index, key] of keys.entries()) {
    if (key === null || typeof key !== 'object' || !['RSA', 'EC', 'OKP'].includes(key.kty)) {
      throw new Error(`key ${index} of the JWKS is not an RSA, EC or OKP public key`);
    }
    const secret = PRIVATE_MEMBERS.find((member) => member in key);
    if (secret !== undefined) throw new Error(`key ${index} of the JWKS holds private key material ("${secret}")`);
  }
  return `${keys.length} public key(s)`;
}

async function main() {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { pathToFileURL } = await import('node:url');
  const [releaseDir, kind, candidate] = process.argv.slice(2);
  const load = (name) => import(pathToFileURL(join(releaseDir, 'dist', 'services', 'auth', name)).href);
  let summary;
  if (kind === 'auth-secret') {
    const { readSecretLines } = await load('secret-file.js');
    const options = await load('auth-options.js');
    const secrets = readSecretLines(candidate, 'auth secret', options.MIN_SECRET_LENGTH);
    // Releases that bound the number of secrets export the bound.
    const max = options.MAX_TOKEN_SECRETS ?? Infinity;
    if (secrets.length > max) throw new Error(`the auth secret file holds ${secrets.length} secrets, at most ${max}`);
    summary = `${secrets.length} secret(s)`;
  } else if (kind === 'admin-token') {
    const { readAdminTokenFile } = await load('admin-token.js');
    readAdminTokenFile(candidate);
    summary = 'one token';
  } else if (kind === 'cluster-secret') {
    const { readSecret } = await load('secret-file.js');
    const { MIN_SECRET_LENGTH } = await load('auth-options.js');
    readSecret(candidate, 'cluster secret', MIN_SECRET_LENGTH);
    summary = 'one secret';
  } else if (kind === 'jwks') {
    summary = checkJwks(readFileSync, candidate);
  } else {
    throw new Error(`unknown kind "${kind}": auth-secret, admin-token, cluster-secret or jwks`);
  }
  process.stdout.write(`${kind}: ${summary}\n`);
}

main().catch((error) => {
  process.stderr.write(`secret file rejected: ${error.message}\n`);
  process.exit(1);
});
