import { describe, expect, it } from 'vitest';
import { HintSigner, HintVerifier } from '../../../services/auth/hint-signature.js';
import { PinbaseError } from '../../../services/problem/pinbase-error.js';
import { Ownership } from '../../../services/worker/ownership.js';

const SECRET = 'cluster-secret-0123456789-0123456789-0123456789';
const topology = {
  version: 2,
  workers: [
    { id: 'w1', url: 'http://127.0.0.1:3601' },
    { id: 'w2', url: 'http://127.0.0.1:3602' },
  ],
};

function request(url: string, headers: Record<string, string> = {}) {
  return { method: 'GET', url, headers };
}

function verdict(ownership: Ownership, userId: string, headers: Record<string, string> = {}): 'served' | 'misdirected' {
  try {
    ownership.assertOwner(userId, request(`/api/users/${userId}/notes/1`, headers));
    return 'served';
  } catch (error) {
    if (error instanceof PinbaseError && error.code === 'misdirected_request') return 'misdirected';
    throw error;
  }
}

describe('ownership with the router\'s signed hints', () => {
  const signed = new Ownership('w2', topology, new HintVerifier(SECRET));
  const users = Array.from({ length: 64 }, (_, i) => `user-${i}`);
  const ofW1 = users.filter((user) => !signed.owns(user));
  const ofW2 = users.filter((user) => signed.owns(user));
  const signer = new HintSigner(SECRET);
  const hintFor = (userId: string, down: string, t?: number) => ({
    'x-pinbase-down': down,
    'x-pinbase-hint': signer.sign('GET', `/api/users/${userId}/notes/1`, down, t),
  });

  it('serves another worker\'s user only when the router signed the down list', () => {
    const user = ofW1[0]!;
    expect(verdict(signed, user)).toBe('misdirected');
    expect(verdict(signed, user, { 'x-pinbase-down': 'w1' })).toBe('misdirected');
    expect(verdict(signed, user, hintFor(user, 'w1'))).toBe('served');
  });

  it('ignores a forged, stale or replayed hint', () => {
    const user = ofW1[1]!;
    const forged = { 'x-pinbase-down': 'w1', 'x-pinbase-hint': new HintSigner(`${SECRET}-guess`).sign('GET', `/api/users/${user}/notes/1`, 'w1') };
    expect(verdict(signed, user, forged)).toBe('misdirected');
    expect(verdict(signed, user, hintFor(user, 'w1', Date.now() - 60_000))).toBe('misdirected');
    const hint = hintFor(user, 'w1');
    expect(verdict(signed, user, hint)).toBe('served');
    expect(verdict(signed, user, hint)).toBe('misdirected');
    // Another user's hint does not carry over.
    expect(verdict(signed, ofW1[2]!, hintFor(user, 'w1'))).toBe('misdirected');
  });

  it('serves its own users whatever the hint says, unless a signed hint reports it down', () => {
    const user = ofW2[0]!;
    expect(verdict(signed, user, { 'x-pinbase-down': 'w2' })).toBe('served');
    expect(verdict(signed, user, { 'x-pinbase-down': 'w1', 'x-pinbase-hint': 'garbage' })).toBe('served');
    expect(verdict(signed, user, hintFor(user, 'w2'))).toBe('misdirected');
  });

  it('believes every down list without a cluster secret (dev mode)', () => {
    const open = new Ownership('w2', topology, undefined);
    expect(verdict(open, ofW1[0]!, { 'x-pinbase-down': 'w1' })).toBe('served');
    expect(verdict(open, ofW2[0]!, { 'x-pinbase-down': 'w2' })).toBe('misdirected');
  });
});
