import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../support/temp-dir.js';
import { buildTestApp, type TestApp } from '../../support/test-store.js';

const TOKEN = 'a-long-enough-admin-token';

describe('worker admin endpoints', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let fixture: TestApp;
  beforeEach(async () => {
    dir = makeTempDir();
    fixture = await buildTestApp(dir.path, { adminToken: TOKEN });
  });
  afterEach(async () => {
    await fixture.close();
    dir.remove();
  });

  it('refuses a handover request without the admin token (401) and keeps the partition open', async () => {
    await fixture.app.inject({ method: 'PUT', url: '/api/users/u1/c/a', payload: { v: 1 } });
    const refused = await fixture.app.inject({ method: 'POST', url: '/_worker/partitions/u1/release' });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({ code: 'unauthorized' });
    expect(fixture.store.pool.isOpen('u1')).toBe(true);
  });

  it('hands the partition over with the token', async () => {
    await fixture.app.inject({ method: 'PUT', url: '/api/users/u1/c/a', payload: { v: 1 } });
    const released = await fixture.app.inject({
      method: 'POST',
      url: '/_worker/partitions/u1/release',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(released.statusCode).toBe(200);
    expect(fixture.store.pool.isOpen('u1')).toBe(false);
  });
});
