import { describe, expect, it } from 'vitest';
import { isIdChar, MAX_ID_LENGTH, USER_ID_PATTERN, WORKER_ID_PATTERN } from '../../../services/ids/id-patterns.js';

describe('id patterns', () => {
  it('the router\'s character scan accepts exactly the characters of the id pattern', () => {
    for (let c = 0; c < 0x3000; c++) {
      expect(isIdChar(c), `char ${c}`).toBe(USER_ID_PATTERN.test(String.fromCharCode(c)));
    }
  });

  it('caps user and worker ids at MAX_ID_LENGTH characters', () => {
    expect(USER_ID_PATTERN.test('a'.repeat(MAX_ID_LENGTH))).toBe(true);
    expect(USER_ID_PATTERN.test('a'.repeat(MAX_ID_LENGTH + 1))).toBe(false);
    expect(WORKER_ID_PATTERN.test('w'.repeat(MAX_ID_LENGTH + 1))).toBe(false);
  });
});
