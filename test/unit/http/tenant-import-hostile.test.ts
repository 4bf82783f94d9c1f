import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, SCHEMA_VERSION } from '../../../services/partition/schema.js';
import { listTree } from '../../support/file-tree.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { TEST_LIMITS } from '../../support/test-store.js';
import { expectProblem, jsonRequest, startHttpFixture, type HttpFixture } from './http-harness.js';

const A = '/api/users/alice';
const B = '/api/users/bob';

// Refused imports change nothing (each case checks it), so the cases share one fixture.
let fx: HttpFixture;
let temp: ReturnType<typeof makeTempDir>;
beforeAll(async () => {
  fx = await startHttpFixture();
  temp = makeTempDir('pinbase-hostile-import-');
  for (const base of [A, B]) {
    for (let i = 0; i < 3; i++) expect((await fx.app.inject(jsonRequest('PUT', `${base}/notes/n${i}`, { owner: base, i }))).statusCode).toBe(201);
  }
  expect((await fx.app.inject({ method: 'DELETE', url: `${A}/notes/n0` })).statusCode).toBe(200);
});
afterAll(async () => {
  await fx.close();
  temp.remove();
});

/** The user's whole state as an export shows it (without the export time). */
async function state(base: string): Promise<string> {
  const response = await fx.app.inject({ method: 'GET', url: `${base}/_export?history=true` });
  expect(response.statusCode).toBe(200);
  return response.body.replace(/"exportedAt":"[^"]*"/, '');
}

function importRequest(base: string, type: string, payload: string | Buffer, query = '?replace=true') {
  return fx.app.inject({ method: 'POST', url: `${base}/_import${query}`, headers: { 'content-type': type }, payload });
}

/** Sends `payload` over bob's data: it must be refused with `code` and change nothing of bob's. */
async function expectRefused(type: string, payload: string | Buffer, code: string, status: number, detail?: RegExp): Promise<void> {
  const before = await state(B);
  const response = await importRequest(B, type, payload);
  const problem = expectProblem(response, code, status);
  if (detail) expect(problem.detail).toMatch(detail);
  expect(await state(B)).toBe(before);
}

const ndjson = (...lines: unknown[]) => lines.map((line) => `${typeof line === 'string' ? line : JSON.stringify(line)}\n`).join('');
const header = { type: 'header', format: 'pinbase-export', version: 1, user: 'x', seq: 5, history: false, exportedAt: '2026-01-01T00:00:00Z' };
const version = (id: string, rev: number) => ({ type: 'version', collection: 'notes', id, rev, deleted: false, committedAt: 1, data: { id } });

describe('an NDJSON import is refused with 400 invalid_import, and changes nothing', () => {
  it.each([
    ['garbage bytes', Buffer.from([0xff, 0x00, 0x13, 0x37, 0x0a]), /line 1/],
    ['an empty body', '', /empty|header/],
    ['a foreign JSON file', ndjson({ name: 'package', version: '1.0.0' }), /not a Pinbase export/],
    ['a file without the end line', ndjson(header, version('a', 1)), /truncated/],
    ['a wrong count', ndjson(header, version('a', 1), { type: 'end', count: 2 }), /counts 2 lines, the file has 1/],
    ['a bad object id', ndjson(header, version('../etc', 1), { type: 'end', count: 1 }), /line 2: "id"/],
    ['a bad collection', ndjson(header, { ...version('a', 1), collection: '_system' }, { type: 'end', count: 1 }), /line 2: "collection"/],
    ['a future format version', ndjson({ ...header, version: 2 }, { type: 'end', count: 0 }), /newer Pinbase/],
    ['a rev beyond the seq', ndjson(header, version('a', 6), { type: 'end', count: 1 }), /"rev"/],
    ['data that is not an object', ndjson(header, { ...version('a', 1), data: [1] }, { type: 'end', count: 1 }), /"data"/],
    ['a __proto__ key', ndjson(header, '{"type":"version","collection":"notes","id":"a","rev":1,"deleted":false,"committedAt":1,"data":{"__proto__":{"x":1}}}', { type: 'end', count: 1 }), /line 2/],
    ['an integer a double does not hold in a document', ndjson(header, '{"type":"version","collection":"notes","id":"a","rev":1,"deleted":false,"committedAt":1,"data":{"id":12345678901234567890}}', { type: 'end', count: 1 }), /line 2: the integer 12345678901234567890 would be read back as 12345678901234567000/],
    ['a member name given twice in a document', ndjson(header, '{"type":"version","collection":"notes","id":"a","rev":1,"deleted":false,"committedAt":1,"data":{"role":"user","role":"admin"}}', { type: 'end', count: 1 }), /line 2: an object has two members named "role"/],
    ['an object twice', ndjson(header, version('a', 1), version('b', 2), version('a', 3), { type: 'end', count: 3 }), /appears again/],
    ['lines after the end', ndjson(header, { type: 'end', count: 0 }, version('a', 1)), /nothing may follow/],
    ['an unknown line type', ndjson(header, { type: 'macro' }, { type: 'end', count: 1 }), /unknown line type/],
  ])('%s', async (_name, payload, detail) => {
    await expectRefused('application/x-ndjson', payload, 'invalid_import', 400, detail);
  });

  it('a line longer than a document may be', async () => {
    const long = ndjson(header, { ...version('a', 1), data: { pad: 'x'.repeat(1024 * 1024 + 70 * 1024) } }, { type: 'end', count: 1 });
    await expectRefused('application/x-ndjson', long, 'invalid_import', 400, /longer than/);
  });
});

describe('a SQLite import is checked as hostile input', () => {
  let good: Buffer;
  beforeAll(async () => {
    const response = await fx.app.inject({ method: 'GET', url: `${A}/_export`, headers: { accept: 'application/vnd.sqlite3' } });
    expect(response.statusCode).toBe(200);
    good = response.rawPayload;
  });

  /** The good export, changed by `edit` on a connection of its own. */
  function altered(edit: (db: Database.Database) => void): Buffer {
    const file = join(temp.path, `altered-${Math.random()}.sqlite`);
    writeFileSync(file, good);
    const db = new Database(file);
    edit(db);
    db.close();
    return readFileSync(file);
  }

  it.each([
    ['a file 1 byte short', () => good.subarray(0, good.length - 1), /truncated/],
    ['a file with a trigger', () => altered((db) => db.exec("CREATE TRIGGER t AFTER INSERT ON objects BEGIN DELETE FROM versions; END")), /unexpected trigger/],
    ['a file with an extra table', () => altered((db) => db.exec('CREATE TABLE extra (x)')), /unexpected table/],
    ['a file with a view', () => altered((db) => db.exec('CREATE VIEW v AS SELECT * FROM objects')), /unexpected view/],
    ['a pbx_ index whose SQL differs from its catalog row', () => altered((db) => db.exec("CREATE INDEX pbx_5_notes_i ON versions (body) WHERE collection = 'notes'")), /not the index its catalog row defines/],
    ['a file of a newer schema version', () => altered((db) => db.pragma(`user_version = ${SCHEMA_VERSION + 1}`)), /newer Pinbase/],
    ['a SQLite file that is not a partition', () => altered((db) => db.exec('DROP TABLE idempotency')), /missing/],
    ['a non-Pinbase SQLite file', () => {
      const file = join(temp.path, 'foreign.sqlite');
      const db = new Database(file);
      db.exec('CREATE TABLE users (name TEXT)');
      db.close();
      return readFileSync(file);
    }, /not a Pinbase partition/],
    ['a body that is not JSON', () => altered((db) => db.exec("UPDATE versions SET body = '{not json' WHERE deleted = 0")), /version row/],
    ['an object id with a slash', () => altered((db) => db.exec("UPDATE versions SET id = 'a/b' WHERE vid = 2; UPDATE objects SET id = 'a/b' WHERE vid = 2")), /bad object id/],
    ['a chain link to another object', () => altered((db) => db.exec('UPDATE versions SET prev = 2 WHERE vid = 3')), /chain link/],
    ['an anchor link to a later version (a loop for a snapshot read)', () => altered((db) => db.exec('UPDATE versions SET up = 3 WHERE vid = 2')), /version row 2: bad anchor link/],
    ['an anchor link to another object', () => altered((db) => db.exec('UPDATE versions SET up = 2 WHERE vid = 3')), /anchor link to another object/],
    ['a head whose anchor is another object\'s version', () => altered((db) => db.exec('UPDATE objects SET anchor = 2 WHERE vid = 3')), /depth or anchor is not valid/],
    ['a head of depth 0', () => altered((db) => db.exec('UPDATE objects SET depth = 0')), /depth or anchor is not valid/],
    ['garbage bytes', () => Buffer.from('SQLite format 3\0 but then nothing useful at all'), /not a SQLite file/],
  ])('%s', async (_name, payload, detail) => {
    await expectRefused('application/vnd.sqlite3', payload(), 'invalid_import', 400, detail);
  });
});

describe('a SQLite file of an older schema version', () => {
  it('is checked against that version\'s schema, migrated, and imported', async () => {
    const file = join(temp.path, 'v2.sqlite');
    const db = new Database(file);
    migrate(db, 2);
    db.exec(`INSERT INTO versions (vid, rev, collection, id, prev, deleted, committed_at, body) VALUES
               (1, 1, 'notes', 'old', NULL, 0, 10, '{"v":1}'), (2, 2, 'notes', 'old', 1, 0, 20, '{"v":2}');
             INSERT INTO objects (collection, id, vid, rev, deleted) VALUES ('notes', 'old', 2, 2, 0);`);
    db.close();
    const response = await importRequest('/api/users/legacy', 'application/vnd.sqlite3', readFileSync(file), '');
    expect(response.statusCode, response.body).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ seq: 2, objects: 1, versions: 2, indexes: 0 });
    expect(JSON.parse((await fx.app.inject({ method: 'GET', url: '/api/users/legacy/notes/old?at=1' })).body)).toEqual({ v: 1 });
  });
});

describe('import preconditions', () => {
  it('into a user with objects is 409 tenant_not_empty, and with ?replace=true becomes the export', async () => {
    const C = '/api/users/carol';
    expect((await fx.app.inject(jsonRequest('PUT', `${C}/notes/mine`, { keep: true }))).statusCode).toBe(201);
    const exported = (await fx.app.inject({ method: 'GET', url: `${A}/_export?history=true` })).body;
    const before = await state(C);
    expectProblem(await importRequest(C, 'application/x-ndjson', exported, ''), 'tenant_not_empty', 409);
    expect(await state(C)).toBe(before);
    const replaced = await importRequest(C, 'application/x-ndjson', exported);
    expect(replaced.statusCode).toBe(200);
    expect((await state(C)).replace('"user":"carol"', '"user":"alice"')).toBe(await state(A));
  });

  it('beyond the user quota is 413 import_too_large, and creates nothing', async () => {
    const small = await startHttpFixture({ store: { limits: { ...TEST_LIMITS, maxUserBytes: 64 * 1024 } } });
    try {
      const big = ndjson(header, ...Array.from({ length: 100 }, (_, i) => ({ ...version(`o${i}`, 1), data: { pad: 'x'.repeat(1000) } })), { type: 'end', count: 100 });
      const response = await small.app.inject({ method: 'POST', url: `${B}/_import`, headers: { 'content-type': 'application/x-ndjson' }, payload: big });
      expectProblem(response, 'import_too_large', 413);
      expect(response.headers.connection).toBe('close');
      expect(listTree(small.dataDir)).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('of another content type is 415', async () => {
    expectProblem(await importRequest(B, 'application/json', '{}'), 'unsupported_media_type', 415);
  });
});
