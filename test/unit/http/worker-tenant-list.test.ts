import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPartitionDatabase } from '../../../services/partition/partition-database.js';
import { fanOutDir, partitionPath } from '../../../services/partition/user-id.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { buildTestApp, type TestApp } from '../../support/test-store.js';

const TOKEN = 'a-long-enough-admin-token';
interface Page {
  users: { id: string; bytes: number; modifiedAt: string; lastSeq: number | null; lastWriteAt: string | null }[];
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

  /** Writes `count` objects for `userId` through the API; returns the last seq (the ETag). */
  async function write(userId: string, count: number): Promise<number> {
    let seq = 0;
    for (let i = 0; i < count; i++) {
      const res = await fixture.app.inject({ method: 'PUT', url: `/api/users/${userId}/notes/n${i}`, payload: { i } });
      expect(res.statusCode).toBeLessThan(300);
      seq = Number(JSON.parse(res.headers.etag as string));
    }
    return seq;
  }

  it('gives each tenant its last seq and last write time, from the open partition or, once closed, from its file', async () => {
    const before = Date.now();
    const aliceSeq = await write('alice', 3);
    const bobSeq = await write('bob', 1);
    await fixture.store.release('bob');
    const page: Page = (await fixture.app.inject({ method: 'GET', url: '/_worker/users', headers: auth })).json();
    expect(page.users.map((u) => [u.id, u.lastSeq])).toEqual([
      ['alice', aliceSeq],
      ['bob', bobSeq],
    ]);
    expect(aliceSeq).toBe(3);
    for (const user of page.users) expect(Date.parse(user.lastWriteAt!)).toBeGreaterThanOrEqual(before - 1000);
  });

  it('reads a closed tenant\'s file without leaving a file behind or keeping it locked', async () => {
    await write('carol', 2);
    await fixture.store.release('carol');
    const fanOut = join(dir.path, fanOutDir('carol'));
    const files = readdirSync(fanOut).sort();
    const page: Page = (await fixture.app.inject({ method: 'GET', url: '/_worker/users', headers: auth })).json();
    expect(page.users[0]).toMatchObject({ id: 'carol', lastSeq: 2 });
    expect(readdirSync(fanOut).sort()).toEqual(files);
    // The owner opens and writes at once afterwards.
    expect(await write('carol', 1)).toBe(3);
  });

  it('answers lastSeq null for a file another process holds or a broken file, and the page still answers', async () => {
    mkdirSync(join(dir.path, fanOutDir('held')), { recursive: true });
    const holder = openPartitionDatabase(partitionPath(dir.path, 'held'), { durability: 'normal', cacheKiB: 64 });
    try {
      holder.exec("INSERT INTO meta (key, value) VALUES ('x', 1)");
      place(dir.path, 'broken.sqlite');
      const res = await fixture.app.inject({ method: 'GET', url: '/_worker/users', headers: auth });
      expect(res.statusCode).toBe(200);
      expect(res.json<Page>().users.map((u) => [u.id, u.lastSeq, u.lastWriteAt])).toEqual([
        ['broken', null, null],
        ['held', null, null],
      ]);
    } finally {
      holder.close();
    }
  });

  it('POST /_worker/users/last-commits answers only the asked tenants open here, and needs the admin token', async () => {
    await write('dave', 2);
    await write('erin', 1);
    await fixture.store.release('erin');
    const res = await fixture.app.inject({ method: 'POST', url: '/_worker/users/last-commits', headers: auth, payload: { ids: ['dave', 'erin', 'nobody'] } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ users: [{ id: 'dave', lastSeq: 2, lastWriteAt: expect.any(String) }] });
    const refused = await fixture.app.inject({ method: 'POST', url: '/_worker/users/last-commits', payload: { ids: ['dave'] } });
    expect(refused.statusCode).toBe(401);
    for (const payload of [{ ids: ['../etc'] }, { ids: Array.from({ length: 1001 }, (_, i) => `u${i}`) }, {}]) {
      const bad = await fixture.app.inject({ method: 'POST', url: '/_worker/users/last-commits', headers: auth, payload });
      expect(bad.statusCode).toBe(400);
      expect(bad.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('refuses a limit over 1000 or an `after` that is not a user id with a 400 problem', async () => {
    for (const query of ['limit=1001', 'limit=0', 'after=..%2Fetc', 'limit=x']) {
      const res = await fixture.app.inject({ method: 'GET', url: `/_worker/users?${query}`, headers: auth });
      expect(res.statusCode, query).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });
});
