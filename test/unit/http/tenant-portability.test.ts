import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { body, expectProblem, jsonRequest, startHttpFixture, type HttpFixture } from './http-harness.js';

const A = '/api/users/alice';
const B = '/api/users/bob';

let fx: HttpFixture;
beforeEach(async () => {
  fx = await startHttpFixture();
});
afterEach(async () => {
  await fx.close();
});

/** Writes a small history to `user`: creates, updates, a delete, a transaction. */
async function seed(base: string): Promise<void> {
  for (let i = 0; i < 5; i++) expect((await fx.app.inject(jsonRequest('PUT', `${base}/notes/n${i}`, { i, tag: `t${i % 2}` }))).statusCode).toBe(201);
  expect((await fx.app.inject(jsonRequest('PUT', `${base}/notes/n1`, { i: 1, tag: 'changed' }))).statusCode).toBe(200);
  expect((await fx.app.inject({ method: 'DELETE', url: `${base}/notes/n2` })).statusCode).toBe(200);
  const tx = { ops: [{ op: 'put', collection: 'tasks', id: 'a', data: { done: false } }, { op: 'put', collection: 'tasks', id: 'b', data: { done: true } }] };
  expect((await fx.app.inject(jsonRequest('POST', `${base}/_tx`, tx))).statusCode).toBe(200);
}

async function exportOf(base: string, query = '', accept?: string) {
  return fx.app.inject({ method: 'GET', url: `${base}/_export${query}`, headers: accept === undefined ? {} : { accept } });
}

function lines(text: string): Record<string, unknown>[] {
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('GET /_export as NDJSON', () => {
  it('streams a header, one line per live object at the seq, and an end line with the count', async () => {
    await seed(A);
    const response = await exportOf(A);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(response.headers['x-pinbase-seq']).toBe('8');
    expect(response.headers['content-disposition']).toBe('attachment; filename="alice-8.ndjson"');
    const all = lines(response.body);
    expect(all[0]).toMatchObject({ type: 'header', format: 'pinbase-export', version: 1, user: 'alice', seq: 8, history: false });
    expect(all.at(-1)).toEqual({ type: 'end', count: all.length - 2 });
    const versions = all.filter((line) => line.type === 'version');
    expect(versions.map((v) => `${String(v.collection)}/${String(v.id)}@${String(v.rev)}`)).toEqual([
      'notes/n0@1', 'notes/n1@6', 'notes/n3@4', 'notes/n4@5', 'tasks/a@8', 'tasks/b@8',
    ]);
    expect(versions[1]).toMatchObject({ deleted: false, data: { i: 1, tag: 'changed' }, committedAt: expect.any(Number) });
  });

  it('with ?history=true holds every retained version, tombstones included, oldest first per object', async () => {
    await seed(A);
    const versions = lines((await exportOf(A, '?history=true')).body).filter((line) => line.type === 'version');
    expect(versions.filter((v) => v.id === 'n1').map((v) => v.rev)).toEqual([2, 6]);
    expect(versions.filter((v) => v.id === 'n2')).toMatchObject([{ rev: 3, deleted: false }, { rev: 7, deleted: true, data: null }]);
    expect(versions).toHaveLength(9);
  });

  it('of a user with no file is empty at seq 0 and creates nothing', async () => {
    const response = await exportOf('/api/users/nobody');
    expect(response.headers['x-pinbase-seq']).toBe('0');
    const all = lines(response.body);
    expect(all).toHaveLength(2);
    expect(all[1]).toEqual({ type: 'end', count: 0 });
    expect(fx.store.pool.isOpen('nobody')).toBe(false);
  });

  it('answers 406 not_acceptable for another Accept', async () => {
    expectProblem(await exportOf(A, '', 'text/html'), 'not_acceptable', 406);
  });
});

describe('POST /_import', () => {
  it('round-trips an NDJSON export into another user: objects, revs, seq, history', async () => {
    await seed(A);
    const exported = (await exportOf(A, '?history=true')).body;
    const imported = await fx.app.inject({ method: 'POST', url: `${B}/_import`, headers: { 'content-type': 'application/x-ndjson' }, payload: exported });
    expect(imported.statusCode).toBe(200);
    expect(body(imported)).toEqual({ seq: 8, objects: 6, versions: 9, indexes: 0 });
    expect(imported.headers['x-pinbase-seq']).toBe('8');
    const again = (await exportOf(B, '?history=true')).body;
    expect(again.split('\n').slice(1)).toEqual(exported.split('\n').slice(1));
    expect(body(await fx.app.inject({ method: 'GET', url: `${B}/notes/n1?at=3` }))).toEqual({ i: 1, tag: 't1' });
  });

  it('round-trips a SQLite export', async () => {
    await seed(A);
    const exported = await exportOf(A, '', 'application/vnd.sqlite3');
    expect(exported.statusCode).toBe(200);
    expect(exported.headers['content-type']).toBe('application/vnd.sqlite3');
    expect(exported.headers['x-pinbase-seq']).toBe('8');
    expect(exported.rawPayload.subarray(0, 15).toString()).toBe('SQLite format 3');
    const imported = await fx.app.inject({ method: 'POST', url: `${B}/_import`, headers: { 'content-type': 'application/vnd.sqlite3' }, payload: exported.rawPayload });
    expect(imported.statusCode).toBe(200);
    expect(body(imported)).toEqual({ seq: 8, objects: 6, versions: 9, indexes: 0 });
    expect((await exportOf(B, '?history=true')).body.split('\n').slice(1)).toEqual((await exportOf(A, '?history=true')).body.split('\n').slice(1));
  });
});
