/**
 * `pinbase token <userId>`: prints an HS256 bearer token for a user, signed
 * with the first secret of the auth secret file (by default the local
 * cluster's, `<data>/secrets/auth-secret`, which `pinbase up` creates).
 */
import { join } from 'node:path';
import { MIN_SECRET_LENGTH } from '../auth/auth-options.js';
import { localSecretsDir } from '../auth/local-secrets.js';
import { readSecretLines } from '../auth/secret-file.js';
import { signUserToken, type TokenScope } from '../auth/token-signer.js';
import { USER_ID_PATTERN } from '../ids/id-patterns.js';
import { parseDuration } from '../worker/durations.js';
import { CliError, parseCommandLine } from './command.js';

/** Longest lifetime `pinbase token` signs for: a token cannot be revoked before its `exp` (short-lived tokens are the revocation). */
export const MAX_TOKEN_TTL_MS = 30 * 86_400_000;

export const usage = `Usage: pinbase token <userId> [--read-only] [--service] [--ttl 1h] [--data ./data | --secret-file FILE]

Prints a bearer token (an HS256 JWT) for <userId>, for the workers that check
tokens with the same secret: \`curl -H "Authorization: Bearer $(npx pinbase token alice)" ...\`.

Options:
  --read-only           scope "read": reads only (writes answer 403 insufficient_scope)
  --service             scope "service": any user, not only <userId> (for back-end services)
  --ttl DURATION        lifetime, e.g. 15m, 1h, 7d (default 1h, at most 30d)
  -d, --data DIR        the local cluster's data directory (default ./data): signs with
                        DIR/secrets/auth-secret
  --secret-file FILE    sign with the first secret of FILE instead (a worker's --auth-secret-file)
  --issuer ISS          set "iss" (for workers started with --jwt-issuer)
  --audience AUD        set "aud" (for workers started with --jwt-audience)
  --scope-claim NAME    the claim that holds the scopes (default scope; as the workers' --jwt-scope-claim)`;

const OPTIONS = {
  'read-only': { type: 'boolean' },
  service: { type: 'boolean' },
  ttl: { type: 'string' },
  data: { type: 'string', short: 'd' },
  'secret-file': { type: 'string' },
  issuer: { type: 'string' },
  audience: { type: 'string' },
  'scope-claim': { type: 'string' },
} as const;

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (positionals.length !== 1) throw new CliError('give exactly one user id: pinbase token <userId>');
  const userId = positionals[0]!;
  if (!USER_ID_PATTERN.test(userId)) throw new CliError(`the user id must match ${USER_ID_PATTERN.source}, got "${userId}"`);
  if (values.data !== undefined && values['secret-file'] !== undefined) throw new CliError('give --data or --secret-file, not both');
  const ttlMs = values.ttl === undefined ? 3_600_000 : parseDuration(values.ttl);
  if (ttlMs === undefined || ttlMs < 1000 || ttlMs > MAX_TOKEN_TTL_MS) {
    throw new CliError(`--ttl must be a duration from 1s to 30d, like 15m, 1h or 7d, got "${values.ttl}"`);
  }
  for (const flag of ['issuer', 'audience', 'scope-claim'] as const) {
    if (values[flag] === '') throw new CliError(`--${flag} must not be empty`);
  }
  const secretFile = values['secret-file'] ?? join(localSecretsDir(values.data ?? './data'), 'auth-secret');
  const secret = readSigningSecret(secretFile, values['secret-file'] === undefined);
  const scopes: TokenScope[] = [...(values['read-only'] === true ? ['read' as const] : []), ...(values.service === true ? ['service' as const] : [])];
  const token = await signUserToken(secret, {
    userId,
    scopes,
    ttlSeconds: Math.floor(ttlMs / 1000),
    issuer: values.issuer,
    audience: values.audience,
    scopeClaim: values['scope-claim'],
  });
  process.stdout.write(`${token}\n`);
}

/** The first secret of the file (the one that signs; the others only verify, during a rotation). */
export function readSigningSecret(path: string, isLocalCluster: boolean): string {
  try {
    return readSecretLines(path, 'auth secret', MIN_SECRET_LENGTH)[0]!;
  } catch (error) {
    if (isLocalCluster && error instanceof CliError && error.message.includes('ENOENT')) {
      throw new CliError(`${error.message}: start the local cluster once with \`pinbase up\` (it creates the secret), or pass --secret-file FILE`);
    }
    throw error;
  }
}
