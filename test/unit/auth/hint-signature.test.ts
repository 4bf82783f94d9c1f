import { describe, expect, it } from 'vitest';
import { HINT_MAX_SKEW_MS, HintSigner, HintVerifier, MAX_SOURCES, REPLAY_WINDOW } from '../../../services/auth/hint-signature.js';

const SECRET = 'cluster-secret-0123456789-0123456789-0123456789';
const NOW = 1_800_000_000_000;

function pair(): { signer: HintSigner; verifier: HintVerifier } {
  return { signer: new HintSigner(SECRET), verifier: new HintVerifier(SECRET) };
}

describe('router hints signed with the cluster secret', () => {
  it('verifies a hint for the request it was signed for', () => {
    const { signer, verifier } = pair();
    const hint = signer.sign('GET', '/api/users/alice/notes/1?at=3', 'w1,w3', NOW);
    expect(hint).toMatch(/^t=\d+,n=[A-Za-z0-9_-]{12}\.[0-9a-z]+,s=[A-Za-z0-9_-]{43}$/);
    expect(verifier.verify(hint, 'GET', '/api/users/alice/notes/1?at=3', 'w1,w3', NOW)).toBe('valid');
  });

  it('refuses a hint moved to another method, target or down list', () => {
    const { signer, verifier } = pair();
    const sign = () => signer.sign('GET', '/api/users/alice/notes/1', 'w1', NOW);
    expect(verifier.verify(sign(), 'PUT', '/api/users/alice/notes/1', 'w1', NOW)).toBe('forged');
    expect(verifier.verify(sign(), 'GET', '/api/users/bob/notes/1', 'w1', NOW)).toBe('forged');
    expect(verifier.verify(sign(), 'GET', '/api/users/alice/notes/1?x', 'w1', NOW)).toBe('forged');
    expect(verifier.verify(sign(), 'GET', '/api/users/alice/notes/1', 'w1,w2', NOW)).toBe('forged');
    expect(verifier.verify(sign(), 'GET', '/api/users/alice/notes/1', 'w2', NOW)).toBe('forged');
  });

  it('refuses a hint signed with another secret, or with its signature or timestamp changed', () => {
    const verifier = new HintVerifier(SECRET);
    const other = new HintSigner(`${SECRET}-other`).sign('GET', '/api/users/a/x', 'w1', NOW);
    expect(verifier.verify(other, 'GET', '/api/users/a/x', 'w1', NOW)).toBe('forged');
    const hint = new HintSigner(SECRET).sign('GET', '/api/users/a/x', 'w1', NOW);
    const flipped = hint.replace(/s=(.)/, (_, c: string) => `s=${c === 'A' ? 'B' : 'A'}`);
    expect(verifier.verify(flipped, 'GET', '/api/users/a/x', 'w1', NOW)).toBe('forged');
    const shifted = hint.replace(`t=${NOW}`, `t=${NOW + 1}`);
    expect(verifier.verify(shifted, 'GET', '/api/users/a/x', 'w1', NOW)).toBe('forged');
  });

  it('refuses a missing or malformed hint without looking further', () => {
    const verifier = new HintVerifier(SECRET);
    expect(verifier.verify(undefined, 'GET', '/', 'w1', NOW)).toBe('missing');
    expect(verifier.verify('', 'GET', '/', 'w1', NOW)).toBe('missing');
    for (const bad of ['w1', 't=1,n=x,s=y', `t=${NOW},n=abcdefgh.1,s=${'a'.repeat(42)}`, `t=${NOW},n=abcdefgh.1,s=${'a'.repeat(43)},x=1`, `t=${NOW},n=abcdefgh.${'z'.repeat(11)},s=${'a'.repeat(43)}`]) {
      expect(verifier.verify(bad, 'GET', '/', 'w1', NOW), bad).toBe('malformed');
    }
  });

  it('refuses a hint more than 30 s from the verifier clock, either way', () => {
    const { signer, verifier } = pair();
    const at = (t: number) => signer.sign('GET', '/api/users/a/x', 'w1', t);
    expect(verifier.verify(at(NOW - HINT_MAX_SKEW_MS - 1), 'GET', '/api/users/a/x', 'w1', NOW)).toBe('stale');
    expect(verifier.verify(at(NOW + HINT_MAX_SKEW_MS + 1), 'GET', '/api/users/a/x', 'w1', NOW)).toBe('stale');
    expect(verifier.verify(at(NOW - HINT_MAX_SKEW_MS), 'GET', '/api/users/a/x', 'w1', NOW)).toBe('valid');
    expect(verifier.verify(at(NOW + HINT_MAX_SKEW_MS), 'GET', '/api/users/a/x', 'w1', NOW)).toBe('valid');
  });

  it('accepts each hint once: a replay is refused, even out of order', () => {
    const { signer, verifier } = pair();
    const hints = Array.from({ length: 5 }, () => signer.sign('GET', '/api/users/a/x', 'w1', NOW));
    for (const i of [2, 0, 4, 1]) expect(verifier.verify(hints[i], 'GET', '/api/users/a/x', 'w1', NOW), `hint ${i}`).toBe('valid');
    for (const i of [2, 0, 4, 1]) expect(verifier.verify(hints[i], 'GET', '/api/users/a/x', 'w1', NOW), `replay ${i}`).toBe('replayed');
    expect(verifier.verify(hints[3], 'GET', '/api/users/a/x', 'w1', NOW)).toBe('valid');
  });

  it('tells hints apart across a whole replay window, and refuses one older than the window', () => {
    const { signer, verifier } = pair();
    const first = signer.sign('GET', '/t', 'w1', NOW);
    const second = signer.sign('GET', '/t', 'w1', NOW);
    expect(verifier.verify(first, 'GET', '/t', 'w1', NOW)).toBe('valid');
    let last = '';
    for (let i = 0; i < REPLAY_WINDOW - 2; i++) last = signer.sign('GET', '/t', 'w1', NOW);
    expect(verifier.verify(last, 'GET', '/t', 'w1', NOW)).toBe('valid');
    // `second` is REPLAY_WINDOW - 2 counters below the highest: still told apart.
    expect(verifier.verify(second, 'GET', '/t', 'w1', NOW)).toBe('valid');
    expect(verifier.verify(second, 'GET', '/t', 'w1', NOW)).toBe('replayed');
    const newest = signer.sign('GET', '/t', 'w1', NOW);
    expect(verifier.verify(newest, 'GET', '/t', 'w1', NOW)).toBe('valid');
    // `first` is now REPLAY_WINDOW counters below: too old to tell, so refused.
    expect(verifier.verify(first, 'GET', '/t', 'w1', NOW)).toBe('replayed');
  });

  it('keeps a bounded number of nonce sources, forgetting the idle ones', () => {
    const verifier = new HintVerifier(SECRET);
    for (let i = 0; i < MAX_SOURCES; i++) expect(verifier.verify(new HintSigner(SECRET).sign('GET', '/t', 'w1', NOW), 'GET', '/t', 'w1', NOW)).toBe('valid');
    expect(verifier.verify(new HintSigner(SECRET).sign('GET', '/t', 'w1', NOW), 'GET', '/t', 'w1', NOW)).toBe('too_many_sources');
    expect(verifier.sourceCount).toBe(MAX_SOURCES);
    const later = NOW + 3 * HINT_MAX_SKEW_MS + 1;
    expect(verifier.verify(new HintSigner(SECRET).sign('GET', '/t', 'w1', later), 'GET', '/t', 'w1', later)).toBe('valid');
    expect(verifier.sourceCount).toBe(1);
  });

  it('does not record the nonce of a forged hint', () => {
    const { signer, verifier } = pair();
    const hint = signer.sign('GET', '/t', 'w1', NOW);
    expect(verifier.verify(hint, 'GET', '/t', 'w2', NOW)).toBe('forged');
    expect(verifier.sourceCount).toBe(0);
    expect(verifier.verify(hint, 'GET', '/t', 'w1', NOW)).toBe('valid');
  });
});
