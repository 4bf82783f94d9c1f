import { describe, expect, it } from 'vitest';
import { INVALID_PATH, INVALID_USER_ID, isChangesTarget, isImportTarget, userIdOf } from '../../../router/request-target.js';

describe('userIdOf', () => {
  it.each([
    ['/api/users/alice', 'alice'],
    ['/api/users/alice/', 'alice'],
    ['/api/users/alice?x=1', 'alice'],
    ['/api/users/Al_ice-9/notes/1', 'Al_ice-9'],
    ['/api/users/alice/notes/1?filter=%2F..%2F', 'alice'],
    ['/api/users/alice/notes/.hidden', 'alice'],
    ['/api/users/alice/notes/a...b', 'alice'],
    ['/api/users/alice/notes/...', 'alice'],
    ['/api/users/alice/_changes?since=3', 'alice'],
    [`/api/users/${'a'.repeat(64)}/x`, 'a'.repeat(64)],
  ])('reads the user id of %s', (url, id) => {
    expect(userIdOf(url)).toBe(id);
  });

  it.each([
    '/api/users/',
    '/api/users/?x=1',
    '/api/users//notes',
    '/api/users/../x',
    '/api/users/./x',
    '/api/users/%2e%2e/x',
    '/api/users/al%2Fice/x',
    '/api/users/al%20ice',
    '/api/users/al.ice',
    '/api/users/alice%00',
    `/api/users/${'a'.repeat(65)}`,
    `/api/users/${'a'.repeat(65)}/x`,
  ])('refuses the user id of %s', (url) => {
    expect(userIdOf(url)).toBe(INVALID_USER_ID);
  });

  it.each([
    '/api/users/alice//notes',
    '/api/users/alice/notes//1',
    '/api/users/alice/../bob/notes',
    '/api/users/alice/notes/..',
    '/api/users/alice/notes/.',
    '/api/users/alice/./notes',
    '/api/users/alice/%2e%2E/bob',
    '/api/users/alice/.%2e/bob',
    '/api/users/alice/notes%2F..%2Fx',
    '/api/users/alice/notes%2fx',
    '/api/users/alice/notes%5cx',
    '/api/users/alice/notes\\x',
    '/api/users/alice/notes%00',
    '/api/users/alice/no\ttes',
    '/api/users/alice/notes#frag',
  ])('refuses the path %s', (url) => {
    expect(userIdOf(url)).toBe(INVALID_PATH);
  });

  it('allows one trailing slash before the query', () => {
    expect(userIdOf('/api/users/alice/notes/?limit=1')).toBe('alice');
  });
});

describe('isImportTarget', () => {
  it('is true only for exactly /api/users/<id>/_import, with or without a query', () => {
    const is = (url: string) => isImportTarget(url, 'alice'.length);
    expect(is('/api/users/alice/_import')).toBe(true);
    expect(is('/api/users/alice/_import?replace=true')).toBe(true);
    expect(is('/api/users/alice/_imports')).toBe(false);
    expect(is('/api/users/alice/_import/')).toBe(false);
    expect(is('/api/users/alice/notes/_import')).toBe(false);
    expect(is('/api/users/alice/_export')).toBe(false);
    expect(is('/api/users/alice')).toBe(false);
  });
});

describe('isChangesTarget', () => {
  it('is true only for exactly /api/users/<id>/_changes, with or without a query', () => {
    const is = (url: string) => isChangesTarget(url, 'alice'.length);
    expect(is('/api/users/alice/_changes')).toBe(true);
    expect(is('/api/users/alice/_changes?since=4')).toBe(true);
    expect(is('/api/users/alice/_changes/')).toBe(false);
    expect(is('/api/users/alice/_changesx')).toBe(false);
    expect(is('/api/users/alice/notes/_changes')).toBe(false);
    expect(is('/api/users/alice')).toBe(false);
  });
});
