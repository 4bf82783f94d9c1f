import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TokenVerification } from '../../../services/auth/auth-options.js';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { MAX_TOKEN_LENGTH, readJwksFile, TokenVerifier } from '../../../services/auth/token-verifier.js';
import { PinbaseError } from '../../../services/problem/pinbase-error.js';
import { makeTempDir } from '../../support/temp-dir.js';

const T0 = Date.UTC(2026, 0, 1) ; // a fixed clock, in ms
const nowS = () => Math.floor(T0 / 1000);

function options(overrides: Partial<TokenVerification> = {}): TokenVerification {
  return {
    secrets: [],
    jwksFile: undefined,
    jwksUrl: undefined,
    algorithms: ['HS256'],
    issuer: undefined,
    audience: undefined,
    scopeClaim: 'scope',
    clockToleranceSeconds: 5,
    ...overrides,
  };
}

function hs256(secret: string, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ exp: nowS() + 3600, ...claims })
    .setProtectedHeader({ alg: 'HS256', ...header })
    .sign(Buffer.from(secret, 'utf8'));
}

async function rejection(promise: Promise<unknown>): Promise<PinbaseError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PinbaseError);
  return error as PinbaseError;
}

describe('token verification with HS256 secrets', () => {
  const secret = generateSecret();
  let clock = T0;
  let verifier: TokenVerifier;
  beforeEach(() => {
    clock = T0;
    verifier = new TokenVerifier(options({ secrets: [secret] }), { jwks: undefined }, () => clock);
  });

  it('grants a valid token its subject, with no scope read and write', async () => {
    expect(await verifier.verify(await hs256(secret, { sub: 'alice' }))).toEqual({ subject: 'alice', readOnly: false, service: false });
  });

  it('reads scopes from a space-separated string or an array, ignoring unknown ones', async () => {
    expect(await verifier.verify(await hs256(secret, { sub: 'a', scope: 'openid read profile' }))).toMatchObject({ readOnly: true, service: false });
    expect(await verifier.verify(await hs256(secret, { sub: 'a', scope: ['service', 'read'] }))).toMatchObject({ readOnly: true, service: true });
    const custom = new TokenVerifier(options({ secrets: [secret], scopeClaim: 'pinbase_scopes' }), { jwks: undefined }, () => clock);
    expect(await custom.verify(await hs256(secret, { sub: 'a', pinbase_scopes: 'service', scope: 'read' }))).toMatchObject({ readOnly: false, service: true });
  });

  it('accepts a token signed with any secret of the file (rotation) and none other', async () => {
    const next = generateSecret();
    const rotating = new TokenVerifier(options({ secrets: [next, secret] }), { jwks: undefined }, () => clock);
    expect((await rotating.verify(await hs256(secret, { sub: 'old' }))).subject).toBe('old');
    expect((await rotating.verify(await hs256(next, { sub: 'new' }))).subject).toBe('new');
    const stranger = await rejection(rotating.verify(await hs256(generateSecret(), { sub: 'x' })));
    expect(stranger).toMatchObject({ code: 'invalid_token', detail: 'the token\'s signature does not verify' });
  });

  it.each([
    ['expired beyond the clock tolerance', { sub: 'a', exp: nowS() - 6 }, 'the token has expired'],
    ['without exp', { sub: 'a', exp: undefined }, 'the token has no "exp" claim'],
    ['without sub', { sub: undefined }, 'the token has no "sub" claim'],
    ['with a non-string sub', { sub: 42 }, 'the token\'s "sub" claim must be a non-empty string'],
    ['with a scope claim that is neither a string nor strings', { sub: 'a', scope: { read: true } }, 'the token\'s "scope" claim must be a string or an array of strings'],
    ['not valid yet (nbf)', { sub: 'a', nbf: nowS() + 60 }, 'the token\'s "nbf" claim is not accepted here'],
  ])('refuses a token %s', async (_name, claims, detail) => {
    const problem = await rejection(verifier.verify(await hs256(secret, claims as JWTPayload)));
    expect(problem).toMatchObject({ code: 'invalid_token', detail, status: 401 });
  });

  it('accepts a token that expired within the clock tolerance', async () => {
    expect((await verifier.verify(await hs256(secret, { sub: 'a', exp: nowS() - 3 }))).subject).toBe('a');
  });

  it('checks iss and aud when configured, and only then', async () => {
    const strict = new TokenVerifier(options({ secrets: [secret], issuer: 'https://id.example', audience: 'pinbase' }), { jwks: undefined }, () => clock);
    const good = { sub: 'a', iss: 'https://id.example', aud: ['other', 'pinbase'] };
    expect((await strict.verify(await hs256(secret, good))).subject).toBe('a');
    expect(await rejection(strict.verify(await hs256(secret, { ...good, iss: 'https://evil.example' })))).toMatchObject({
      detail: 'the token\'s "iss" claim is not accepted here',
    });
    expect(await rejection(strict.verify(await hs256(secret, { ...good, aud: 'other' })))).toMatchObject({ detail: 'the token\'s "aud" claim is not accepted here' });
    expect(await rejection(strict.verify(await hs256(secret, { sub: 'a', aud: 'pinbase' })))).toMatchObject({ detail: 'the token has no "iss" claim' });
    expect((await verifier.verify(await hs256(secret, { sub: 'a', iss: 'anyone', aud: 'anything' }))).subject).toBe('a');
  });

  it('refuses alg none, algorithms off the allow-list, and tokens that are not compact JWS', async () => {
    const payload = Buffer.from(JSON.stringify({ sub: 'a', exp: nowS() + 60 })).toString('base64url');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    expect(await rejection(verifier.verify(none))).toMatchObject({ detail: 'tokens signed with none are not accepted here' });
    const hs512 = await new SignJWT({ sub: 'a', exp: nowS() + 60 }).setProtectedHeader({ alg: 'HS512' }).sign(Buffer.from(secret));
    expect(await rejection(verifier.verify(hs512))).toMatchObject({ detail: 'tokens signed with HS512 are not accepted here' });
    for (const bad of ['', 'abc', 'a.b', 'a.b.c.d.e', '!!!.???.###', `${payload}.${payload}.x`]) {
      expect(await rejection(verifier.verify(bad)), bad).toMatchObject({ code: 'invalid_token' });
    }
  });

  it('refuses a token with a tampered payload or signature', async () => {
    const [header, , signature] = (await hs256(secret, { sub: 'mallory' })).split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'alice', exp: nowS() + 60 })).toString('base64url')}.${signature}`;
    expect(await rejection(verifier.verify(forged))).toMatchObject({ detail: 'the token\'s signature does not verify' });
  });

  it(`refuses a token over ${MAX_TOKEN_LENGTH} characters before reading it, even a validly signed one`, async () => {
    const big = await hs256(secret, { sub: 'a', pad: 'x'.repeat(MAX_TOKEN_LENGTH) });
    expect(await rejection(verifier.verify(big))).toMatchObject({ detail: `the token is longer than ${MAX_TOKEN_LENGTH} characters` });
    expect(await rejection(verifier.verify('x'.repeat(1_000_000)))).toMatchObject({ code: 'invalid_token' });
  });

  it('trusts a verified token without checking it again, for at most a minute and never past its exp', async () => {
    const token = await hs256(secret, { sub: 'alice', exp: nowS() + 3600 });
    const first = await verifier.verify(token);
    clock = T0 + 59_000;
    expect(await verifier.verify(token)).toBe(first); // the same object: served from the cache
    clock = T0 + 61_000;
    const again = await verifier.verify(token);
    expect(again).not.toBe(first); // checked again in full
    expect(again).toEqual(first);

    const shortLived = await hs256(secret, { sub: 'alice', exp: nowS() + 10 });
    clock = T0;
    await verifier.verify(shortLived);
    clock = T0 + 16_000; // past exp + the 5 s tolerance, within the cache's minute
    expect(await rejection(verifier.verify(shortLived))).toMatchObject({ detail: 'the token has expired' });
  });

  it('does not remember a failure: a token refused before it is valid passes once it is', async () => {
    const token = await hs256(secret, { sub: 'a', nbf: nowS() + 60 });
    await rejection(verifier.verify(token));
    clock = T0 + 60_000;
    expect((await verifier.verify(token)).subject).toBe('a');
  });
});

describe('token verification with a JWKS', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let rsa: { publicKey: CryptoKey; privateKey: CryptoKey };
  let ec: { publicKey: CryptoKey; privateKey: CryptoKey };
  let rsaJwk: JWK;
  let ecJwk: JWK;
  beforeAll(async () => {
    rsa = await generateKeyPair('RS256', { extractable: true });
    ec = await generateKeyPair('ES256', { extractable: true });
    rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256' };
    ecJwk = { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256' };
  });
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => dir.remove());

  const signed = (alg: string, kid: string, key: CryptoKey, claims: JWTPayload = {}) =>
    new SignJWT({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600, ...claims }).setProtectedHeader({ alg, kid }).sign(key);

  function jwksFile(keys: JWK[]): string {
    const path = join(dir.path, 'jwks.json');
    writeFileSync(path, JSON.stringify({ keys }));
    return path;
  }

  it('verifies tokens with the keys of a JWKS file, chosen by kid and alg', async () => {
    const verifier = TokenVerifier.fromOptions(options({ jwksFile: jwksFile([rsaJwk, ecJwk]), algorithms: ['RS256', 'ES256'] }));
    expect((await verifier.verify(await signed('RS256', 'rsa-1', rsa.privateKey))).subject).toBe('alice');
    expect((await verifier.verify(await signed('ES256', 'ec-1', ec.privateKey))).subject).toBe('alice');
    const unknownKid = await signed('RS256', 'rsa-2', rsa.privateKey);
    expect(await rejection(verifier.verify(unknownKid))).toMatchObject({ detail: 'no configured key matches the token\'s "kid" and "alg"' });
  });

  it('refuses an HS256 token signed with the RSA public key (algorithm confusion)', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    const jwksOnly = TokenVerifier.fromOptions(options({ jwksFile: jwksFile([rsaJwk]), algorithms: ['RS256'] }));
    // A worker that also has an HS256 secret: HS256 is allowed, yet the public key never serves as an HMAC key.
    const both = TokenVerifier.fromOptions(options({ secrets: [generateSecret()], jwksFile: jwksFile([rsaJwk]), algorithms: ['HS256', 'RS256'] }));
    for (const material of [pem, JSON.stringify(rsaJwk)]) {
      const confused = await new SignJWT({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 })
        .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
        .sign(Buffer.from(material));
      expect(await rejection(jwksOnly.verify(confused))).toMatchObject({ detail: 'tokens signed with HS256 are not accepted here' });
      expect(await rejection(both.verify(confused))).toMatchObject({ detail: 'the token\'s signature does not verify' });
    }
  });

  it('refuses a JWKS file that is missing, malformed, or holds private or symmetric keys, in one line', async () => {
    expect(() => readJwksFile(join(dir.path, 'absent.json'))).toThrow(/cannot read the JWKS file .*absent\.json: ENOENT/);
    writeFileSync(join(dir.path, 'bad.json'), '{"keys": 1}');
    expect(() => readJwksFile(join(dir.path, 'bad.json'))).toThrow(/must be \{"keys": \[...\]\}/);
    const privateJwk = { ...(await exportJWK(rsa.privateKey)), kid: 'p' };
    expect(() => readJwksFile(jwksFile([rsaJwk, privateJwk]))).toThrow(/must hold public keys only/);
    expect(() => readJwksFile(jwksFile([{ kty: 'oct', k: 'c2VjcmV0' }]))).toThrow(/must hold public keys only/);
  });

  describe('from a URL', () => {
    let server: Server;
    let served: JWK[];
    let fetches: number;
    let status: number;
    let url: string;
    beforeEach(async () => {
      served = [rsaJwk];
      fetches = 0;
      status = 200;
      server = createServer((_req, res) => {
        fetches++;
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: served }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/jwks.json`;
    });
    afterEach(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it('fetches the keys once and keeps them for every token', async () => {
      const verifier = TokenVerifier.fromOptions(options({ jwksUrl: url, algorithms: ['RS256'] }));
      for (let i = 0; i < 5; i++) expect((await verifier.verify(await signed('RS256', 'rsa-1', rsa.privateKey, { n: i }))).subject).toBe('alice');
      expect(fetches).toBe(1);
    });

    it('picks up a key added at the URL (rotation), and refetches for unknown kids at most once per cooldown', async () => {
      const verifier = TokenVerifier.fromOptions(options({ jwksUrl: url, algorithms: ['RS256', 'ES256'] }));
      await verifier.verify(await signed('RS256', 'rsa-1', rsa.privateKey));
      served = [rsaJwk, ecJwk];
      // The set was fetched less than the cooldown (30 s) ago: an unknown kid does not refetch.
      expect(await rejection(verifier.verify(await signed('ES256', 'ec-1', ec.privateKey)))).toMatchObject({ code: 'invalid_token' });
      for (let i = 0; i < 20; i++) await rejection(verifier.verify(await signed('RS256', `attacker-${i}`, rsa.privateKey)));
      expect(fetches).toBe(1);
      // A verifier whose set is older than the cooldown refetches once and finds the new key.
      const fresh = TokenVerifier.fromOptions(options({ jwksUrl: url, algorithms: ['RS256', 'ES256'] }));
      expect((await fresh.verify(await signed('ES256', 'ec-1', ec.privateKey))).subject).toBe('alice');
    });

    it('answers 503 token_keys_unavailable when the URL cannot give its keys, not 401', async () => {
      status = 500;
      const verifier = TokenVerifier.fromOptions(options({ jwksUrl: url, algorithms: ['RS256'] }));
      expect(await rejection(verifier.verify(await signed('RS256', 'rsa-1', rsa.privateKey)))).toMatchObject({ code: 'token_keys_unavailable', status: 503 });
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      const gone = TokenVerifier.fromOptions(options({ jwksUrl: url, algorithms: ['RS256'] }));
      expect(await rejection(gone.verify(await signed('RS256', 'rsa-1', rsa.privateKey)))).toMatchObject({ code: 'token_keys_unavailable' });
      server = createServer(); // for afterEach
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });

    it('tries the JWKS file first and the URL for a kid the file does not have', async () => {
      served = [ecJwk];
      const verifier = TokenVerifier.fromOptions(options({ jwksFile: jwksFile([rsaJwk]), jwksUrl: url, algorithms: ['RS256', 'ES256'] }));
      expect((await verifier.verify(await signed('RS256', 'rsa-1', rsa.privateKey))).subject).toBe('alice');
      expect(fetches).toBe(0);
      expect((await verifier.verify(await signed('ES256', 'ec-1', ec.privateKey))).subject).toBe('alice');
      expect(fetches).toBe(1);
    });
  });
});
