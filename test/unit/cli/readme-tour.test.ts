import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Placement } from '../../../services/topology/placement.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

describe('the README tour', () => {
  it('names the worker alice really lives on with `npm start`\'s two workers (w1, w2)', () => {
    const owner = new Placement(['w1', 'w2']).owner('alice');
    const claims = [...README.matchAll(/X-Pinbase-Worker: (w\d+)/g)].map((m) => m[1]);
    expect(claims.length).toBeGreaterThan(0);
    expect(claims.every((worker) => worker === owner)).toBe(true);
  });

  it('does not say the change feed streams every commit (it lists the current version of each changed object)', () => {
    expect(README).not.toMatch(/streams every commit/);
    expect(README).toMatch(/an object changed twice appears once, at its last seq/);
  });
});
