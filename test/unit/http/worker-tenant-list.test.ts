import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fanOutDir } from '../../../services/partition/user-id.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { buildTestApp, type TestApp } from '../../support/test-store.js';

const TOKEN = 'a-long-enough-admin-token';
interface Page {
  users: { id: string; bytes: number; modifiedAt: string }[];
  next: string | null;
  total: number;
}
const auth = { authorization: `Bearer ${TOKEN}` };

/** Puts a file at `<data>/<dir>/<name>` (the fan-out directory of `name`'s id unless given). */
function place(dataDir: string, name: string, dir = fanOutDir(name.replace(/\.sqlite.*$/, ''))): void {
  mkdirSync(join(dataDir, dir), { recursive: true });
  writeFileSync(join(dataDir, dir, name), 'x'.repeat(10));
}

describe('GET /_worker/users lists the tenants on storage', () => {
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

  it('needs the admin token (401 problem without it)', async () => {
    const refused = await fixture.app.inject({ method: 'GET', url: '/_worker/users' });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ code: 'unauthorized' });
  });

  it('pages through every tenant in id order, keyset by `after`, and counts the total', async () => {
    const ids = ['b', 'A', 'a-1', 'zz', '0', 'a_2', 'm'];
    for (const id of ids) place(dir.path, `${id}.sqlite`);
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const res = await fixture.app.inject({ method: 'GET', url: `/_worker/users?limit=3${after === null ? '' : `&after=${after}`}`, headers: auth });
      expect(res.statusCode).toBe(200);
      const page: Page = res.json();
      expect(page.total).toBe(ids.length);
      for (const user of page.users) {
        expect(user.bytes).toBe(10);
        expect(Number.isNaN(Date.parse(user.modifiedAt))).toBe(false);
      }
      seen.push(...page.users.map((u) => u.id));
      after = page.next;
      pages++;
    } while (after !== null);
    expect(seen).toEqual([...ids].sort());
    expect(pages).toBe(3);
  });

  it('ignores WAL, lock, temporary and misplaced files and names that are not user ids', async () => {
    place(dir.path, 'real.sqlite');
    place(dir.path, 'real.sqlite-wal', fanOutDir('real'));
    place(dir.path, 'real.sqlite.lock', fanOutDir('real'));
    place(dir.path, 'tmp.sqlite.partial', fanOutDir('tmp'));
    place(dir.path, 'misplaced.sqlite', fanOutDir('misplaced') === '00' ? '01' : '00');
    place(dir.path, 'bad.name.sqlite', fanOutDir('bad.name'));
    mkdirSync(join(dir.path, 'secrets'));
    const res = await fixture.app.inject({ method: 'GET', url: '/_worker/users', headers: auth });
    expect(res.json()).toEqual({ users: [expect.objectContaining({ id: 'real' })], next: null, total: 1 });
  });

  it('refuses a limit over 1000 or an `after` that is not a user id with a 400 problem', async () => {
    for (const query of ['limit=1001', 'limit=0', 'after=..%2Fetc', 'limit=x']) {
      const res = await fixture.app.inject({ method: 'GET', url: `/_worker/users?${query}`, headers: auth });
      expect(res.statusCode, query).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });
});
