import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildTestApp, type TestApp } from '../../support/test-store.js';
import { body, expectProblem, jsonRequest, latestSeq, listTree, startHttpFixture, type HttpFixture } from './http-harness.js';

const USER = 'forgetme';
const U = `/api/users/${USER}`;
let fx: HttpFixture;
beforeEach(async () => {
  fx = await startHttpFixture();
});
afterEach(async () => {
  await fx.close();
});

const erase = () => fx.app.inject({ method: 'DELETE', url: U });
const put = (path: string, data: unknown, headers: Record<string, string> = {}) =>
  fx.app.inject(jsonRequest('PUT', `${U}/${path}`, data, headers));

/** The files of the data dir, fan-out directories left out. */
function files(): string[] {
  return listTree(fx.dataDir).filter((path) => !path.endsWith('/'));
}

describe('DELETE /api/users/:userId', () => {
  it('deletes the file, its journals, the owner record and the lock, and the user reads as never written', async () => {
    await put('notes/a', { secret: 1 }, { 'idempotency-key': 'k1' });
    await put('notes/a', { secret: 2 });
    await fx.app.inject(jsonRequest('PUT', '/api/users/neighbour/notes/a', { kept: true }));
    expect(files().some((path) => path.endsWith(`${USER}.sqlite`))).toBe(true);

    const response = await erase();
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expect(files().filter((path) => path.includes(USER))).toEqual([]);
    expect(files().some((path) => path.includes('neighbour.sqlite'))).toBe(true);
    expectProblem(await fx.app.inject({ method: 'GET', url: `${U}/notes/a` }), 'object_not_found', 404);
    const listing = await fx.app.inject({ method: 'GET', url: `${U}/notes` });
    expect(body(listing)).toMatchObject({ items: [] });
    expect(listing.headers['x-pinbase-seq']).toBe('0');
    expect(await latestSeq(fx.app, USER)).toBe(0);
    // The reads created nothing.
    expect(files().filter((path) => path.includes(USER))).toEqual([]);
    expect(body(await fx.app.inject({ method: 'GET', url: '/api/users/neighbour/notes/a' }))).toEqual({ kept: true });
  });

  it('answers 204 for a user with no file and creates nothing', async () => {
    expect((await erase()).statusCode).toBe(204);
    expect((await erase()).statusCode).toBe(204);
    expect(listTree(fx.dataDir)).toEqual([]);
  });

  it('lets a write after the erase start a new user at seq 1, without replaying an erased Idempotency-Key', async () => {
    await put('notes/a', { v: 1 });
    const first = await put('notes/b', { v: 1 }, { 'idempotency-key': 'same-key' });
    expect(first.headers['x-pinbase-seq']).toBe('2');
    expect((await erase()).statusCode).toBe(204);
    const again = await put('notes/b', { v: 1 }, { 'idempotency-key': 'same-key' });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.headers['x-pinbase-seq']).toBe('1');
    expect(body(await fx.app.inject({ method: 'GET', url: `${U}/notes?limit=10` }))).toMatchObject({ items: [{ id: 'b', rev: 1 }] });
  });

  it('lets a read that arrives during the erase wait for it and answer 404 without creating a file', async () => {
    await put('notes/a', { v: 1 });
    const erasing = erase();
    const read = fx.app.inject({ method: 'GET', url: `${U}/notes/a` });
    expect((await erasing).statusCode).toBe(204);
    expectProblem(await read, 'object_not_found', 404);
    expect(files().filter((path) => path.includes(USER))).toEqual([]);
  });

  it('ends a live change stream of the user', async () => {
    await put('notes/a', { v: 1 });
    const stream = fx.app.inject({ method: 'GET', url: `${U}/_changes`, headers: { accept: 'text/event-stream' } });
    await vi.waitFor(() => expect(fx.store.subscriberCount).toBe(1));
    expect((await erase()).statusCode).toBe(204);
    expect((await stream).body).toBe('retry: 1000\n\n');
    expect(fx.store.subscriberCount).toBe(0);
  });

  it('under concurrent writers: every write acknowledged before the erase ended is gone, none resurrects', async () => {
    const writers = 8;
    let erased = false;
    const acked: { path: string; afterErase: boolean }[] = [];
    const failures: number[] = [];
    const write = async (path: string): Promise<void> => {
      const response = await put(path, { path });
      if (response.statusCode < 300) acked.push({ path, afterErase: erased });
      else failures.push(response.statusCode);
    };
    // Marked when the store's erase ends, before any write that waited for it can commit.
    const storeErase = fx.store.erase.bind(fx.store);
    fx.store.erase = (userId) => storeErase(userId).then(() => void (erased = true));
    const loops = Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; !erased; i++) await write(`w${w}/o${i}`);
      await write(`w${w}/after`);
    });
    await vi.waitFor(() => expect(acked.length).toBeGreaterThan(writers * 5), { interval: 5 });
    const response = await erase();
    expect(response.statusCode).toBe(204);
    await Promise.all(loops);

    const before = acked.filter((a) => !a.afterErase);
    expect(before.length).toBeGreaterThan(writers * 5);
    for (const { path } of before) {
      expect((await fx.app.inject({ method: 'GET', url: `${U}/${path}` })).statusCode, path).toBe(404);
    }
    // Only the writes acknowledged after the erase are there: a new user whose seqs start again at 1.
    const after = acked.filter((a) => a.afterErase).map((a) => a.path);
    const listed: string[] = [];
    for (let w = 0; w < writers; w++) {
      const page = body<{ items: { id: string }[] }>(await fx.app.inject({ method: 'GET', url: `${U}/w${w}?limit=1000` }));
      listed.push(...page.items.map((item) => `w${w}/${item.id}`));
    }
    expect(listed.sort()).toEqual(after.sort());
    expect(await latestSeq(fx.app, USER)).toBeLessThanOrEqual(after.length);
    // A write that met the closing partition failed as retryable, nothing else.
    expect(failures.every((status) => status === 503)).toBe(true);
  });
});

describe('DELETE /api/users/:userId while another worker holds the lease', () => {
  let other: TestApp;
  beforeEach(async () => {
    other = await buildTestApp(fx.dataDir, { store: { workerId: 'w-other' } });
  });
  afterEach(async () => {
    await other.close();
  });

  it('answers 503 partition_busy, as a write would, and deletes nothing', async () => {
    expect((await other.app.inject(jsonRequest('PUT', `${U}/notes/a`, { v: 1 }))).statusCode).toBe(201);
    expectProblem(await erase(), 'partition_busy', 503);
    expect(files().some((path) => path.endsWith(`${USER}.sqlite`))).toBe(true);
    expect(body(await other.app.inject({ method: 'GET', url: `${U}/notes/a` }))).toEqual({ v: 1 });
  });
});
