import { TokenVerifier } from '../../services/auth/token-verifier.js';

/** A worker's token check with one HS256 secret and the defaults `pinbase worker` uses (scope claim, 5 s leeway). */
export function hs256Verifier(secret: string): TokenVerifier {
  return TokenVerifier.fromOptions({
    secrets: [secret],
    jwksFile: undefined,
    jwksUrl: undefined,
    algorithms: ['HS256'],
    issuer: undefined,
    audience: undefined,
    scopeClaim: 'scope',
    clockToleranceSeconds: 5,
  });
}
