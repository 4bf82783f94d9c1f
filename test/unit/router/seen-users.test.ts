import { describe, expect, it } from 'vitest';
import { SeenUsers } from '../../../router/seen-users.js';

describe('SeenUsers', () => {
  it('remembers each user once and forgets the oldest beyond its capacity', () => {
    const seen = new SeenUsers(3);
    for (const id of ['a', 'b', 'a', 'c', 'd']) seen.add(id);
    expect(seen.list()).toEqual(['b', 'c', 'd']);
  });
});
