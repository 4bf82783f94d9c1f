import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ANCHOR_EVERY, readObject } from '../../../services/partition/object-reads.js';
import { formatLine, formatVersionLine } from '../../../services/portability/export-format.js';
import { createIndexSql } from '../../../services/query/index-sql.js';
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

describe('POST /_import of a long chain', () => {
  /** An NDJSON export with history of c/a written `versions` times (rev v holds {"v":v}) and c/b once after. */
  function longChain(versions: number): string {
    const line = (rev: number, id: string) => formatVersionLine({ collection: 'c', id, rev, deleted: false, committedAt: rev, body: `{"v":${rev}}` });
    return (
      formatLine({ type: 'header', format: 'pinbase-export', version: 1, user: 'alice', seq: versions + 1, history: true, prunedThrough: 0, exportedAt: new Date(0).toISOString() }) +
      Array.from({ length: versions }, (_, i) => line(i + 1, 'a')).join('') +
      line(versions + 1, 'b') +
      formatLine({ type: 'end', count: versions + 1 })
    );
  }

  it('gives the chain the anchors its writes would have, so a snapshot read hops them; writes after it go on', async () => {
    const versions = 3 * ANCHOR_EVERY + 10;
    const ndjson = longChain(versions);
    expect((await fx.app.inject({ method: 'POST', url: `${A}/_import`, headers: { 'content-type': 'application/x-ndjson' }, payload: ndjson })).statusCode).toBe(200);
    // A SQLite file with no anchors (as one written before they were): the import computes them.
    const file = join(fx.root, 'no-anchors.sqlite');
    writeFileSync(file, (await exportOf(A, '', 'application/vnd.sqlite3')).rawPayload);
    const edit = (sql: string) => {
      const db = new Database(file);
      db.exec(sql);
      db.close();
      return readFileSync(file);
    };
    const stripped = edit('UPDATE versions SET up = NULL; UPDATE objects SET depth = NULL, anchor = NULL');
    // One that passes the file checks (links go back, within the object) but whose only anchor is the
    // object's second version: trusted, it would make a snapshot read walk the whole chain.
    const sparse = edit("UPDATE objects SET depth = 1, anchor = 2 WHERE id = 'a'");
    for (const [user, type, payload] of [
      ['bob', 'application/x-ndjson', ndjson],
      ['carol', 'application/vnd.sqlite3', stripped],
      ['dave', 'application/vnd.sqlite3', sparse],
    ] as const) {
      const imported = await fx.app.inject({ method: 'POST', url: `/api/users/${user}/_import`, headers: { 'content-type': type }, payload });
      expect(body(imported), user).toEqual({ seq: versions + 1, objects: 2, versions: versions + 1, indexes: 0 });
      const partition = await fx.store.pool.acquire(user);
      try {
        // vid = rev here: version d of c/a is at depth d; anchors at every ANCHOR_EVERY-th, linked down.
        const anchors = partition.sql.get("SELECT vid, up FROM versions WHERE collection = 'c' AND id = 'a' AND vid % ? = 0 ORDER BY vid").all(ANCHOR_EVERY);
        expect(anchors, user).toEqual([1, 2, 3].map((k) => ({ vid: k * ANCHOR_EVERY, up: k === 1 ? null : (k - 1) * ANCHOR_EVERY })));
        expect(partition.sql.get('SELECT count(*) FROM versions WHERE up IS NOT NULL').pluck().get(), user).toBe(2);
        expect(partition.sql.get('SELECT id, depth, anchor FROM objects ORDER BY id').all(), user).toEqual([
          { id: 'a', depth: versions, anchor: 3 * ANCHOR_EVERY },
          { id: 'b', depth: 1, anchor: null },
        ]);
        // A snapshot read far back hops the anchors: it looks up fewer than ANCHOR_EVERY + 8 versions, not `versions`.
        let lookups = 0;
        const link = partition.sql.get('SELECT rev, prev FROM versions WHERE vid = ?');
        const get = link.get.bind(link);
        link.get = ((...args: unknown[]) => (lookups++, get(...args)));
        expect(readObject(partition.sql, 'c', 'a', 2)?.body).toBe('{"v":2}');
        link.get = get;
        expect(lookups, user).toBeLessThan(ANCHOR_EVERY + 8);
      } finally {
        fx.store.pool.release(partition);
      }
      // The next anchor is where appends put it: at depth 4 × ANCHOR_EVERY.
      for (let i = versions + 1; i <= 4 * ANCHOR_EVERY; i++) {
        expect((await fx.app.inject(jsonRequest('PUT', `/api/users/${user}/c/a`, { v: i + 1 }))).statusCode).toBe(200);
      }
      const after = await fx.store.pool.acquire(user);
      try {
        expect(after.sql.get("SELECT depth, anchor FROM objects WHERE id = 'a'").get(), user).toMatchObject({ depth: 4 * ANCHOR_EVERY });
        const head = after.sql.get("SELECT vid, anchor FROM objects WHERE id = 'a'").get() as { vid: number; anchor: number };
        expect(head.anchor, user).toBe(head.vid);
        expect(after.sql.get('SELECT up FROM versions WHERE vid = ?').pluck().get(head.vid), user).toBe(3 * ANCHOR_EVERY);
      } finally {
        fx.store.pool.release(after);
      }
    }
  });
});

describe('export consistency', () => {
  it('is the snapshot at its seq while writes continue: every line matches a read at=seq', async () => {
    const ops = Array.from({ length: 700 }, (_, i) => ({ op: 'put', collection: 'notes', id: `n${String(i).padStart(3, '0')}`, data: { i, v: 0 } }));
    expect((await fx.app.inject(jsonRequest('POST', `${A}/_tx`, { ops }))).statusCode).toBe(200);
    const exporting = exportOf(A);
    const writes = (async () => {
      for (let i = 0; i < 700; i += 35) {
        const id = `n${String(i).padStart(3, '0')}`;
        await fx.app.inject(i % 2 === 0 ? jsonRequest('PUT', `${A}/notes/${id}`, { i, v: 1 }) : { method: 'DELETE', url: `${A}/notes/${id}` });
        await fx.app.inject(jsonRequest('PUT', `${A}/notes/new${i}`, { created: true }));
      }
    })();
    const [response] = await Promise.all([exporting, writes]);
    const seq = Number(response.headers['x-pinbase-seq']);
    const latest = Number((await fx.app.inject({ method: 'GET', url: `${A}/_changes?limit=1` })).headers['x-pinbase-seq']);
    expect(latest).toBeGreaterThan(seq);
    const exported = lines(response.body).filter((line) => line.type === 'version');
    const snapshot: { id: string; rev: number; data: unknown }[] = [];
    for (let cursor: string | undefined; ; ) {
      const page = body<{ items: { id: string; rev: number; data: unknown }[]; cursor?: string }>(
        await fx.app.inject({ method: 'GET', url: `${A}/notes?at=${seq}&limit=1000${cursor ? `&cursor=${cursor}` : ''}` }),
      );
      snapshot.push(...page.items);
      if (!page.cursor) break;
      cursor = page.cursor;
    }
    expect(exported.map((line) => ({ id: line.id, rev: line.rev, data: line.data }))).toEqual(snapshot.map(({ id, rev, data }) => ({ id, rev, data })));
  });

  it('pins its snapshot: the pruner keeps the versions a running export still reads', async () => {
    const pruning = await startHttpFixture({
      store: { retention: { retentionMs: 0, idempotencyTtlMs: 0, pruneIntervalMs: 0, maxRowsPerBatch: 100_000 } },
    });
    try {
      const ops = Array.from({ length: 600 }, (_, i) => ({ op: 'put', collection: 'notes', id: `n${i}`, data: { v: 0 } }));
      expect((await pruning.app.inject(jsonRequest('POST', `${A}/_tx`, { ops }))).statusCode).toBe(200);
      const exported = await pruning.store.portability.openExport('alice', false);
      const chunks = exported.lines();
      const first = await chunks.next();
      expect(first.value).toContain('"seq":1');
      const update = ops.map((op) => ({ ...op, data: { v: 1 } }));
      expect((await pruning.app.inject(jsonRequest('POST', `${A}/_tx`, { ops: update }))).statusCode).toBe(200);
      await pruning.store.prune(Date.now() + 1000);
      let text = '';
      for await (const chunk of chunks) text += chunk;
      const versions = lines(text).filter((line) => line.type === 'version');
      expect(versions).toHaveLength(600);
      expect(versions.every((line) => line.rev === 1 && (line.data as { v: number }).v === 0)).toBe(true);
      // Unpinned, the superseded versions go.
      const partition = pruning.store.pool.openPartitions()[0]!;
      expect(partition.pins.count).toBe(0);
      await pruning.store.prune(Date.now() + 120_000);
      expect(partition.sql.get('SELECT count(*) FROM versions').pluck().get()).toBe(600);
    } finally {
      await pruning.close();
    }
  });

  it('ends without its end line when the user is handed over mid-export, and lets the partition go', async () => {
    const ops = Array.from({ length: 600 }, (_, i) => ({ op: 'put', collection: 'notes', id: `n${i}`, data: { i } }));
    expect((await fx.app.inject(jsonRequest('POST', `${A}/_tx`, { ops }))).statusCode).toBe(200);
    const exported = await fx.store.portability.openExport('alice', false);
    const chunks = exported.lines();
    await chunks.next();
    const released = fx.store.release('alice');
    await expect(chunks.next()).rejects.toThrow(/handed over/);
    await released;
    expect(fx.store.pool.isOpen('alice')).toBe(false);
  });
});

describe('import effects', () => {
  it('carries index definitions, rebuilt and ready, in both formats', async () => {
    await seed(A);
    const partition = await fx.store.pool.acquire('alice');
    await partition.maintain((sql) => {
      sql.db.prepare("INSERT INTO indexes VALUES ('notes', 'by-tag', '[\"tag\"]', 0, 1, 'ready', NULL, NULL, 0)").run();
      sql.db.exec(createIndexSql({ collection: 'notes', name: 'by-tag', paths: [['tag']], unique: false, generation: 1 }));
      sql.db.exec("UPDATE meta SET value = 1 WHERE key = 'index_generation'; UPDATE versions SET ixgen = 1");
    });
    fx.store.pool.release(partition);
    const ndjson = (await exportOf(A)).body;
    expect(lines(ndjson)[1]).toEqual({ type: 'index', collection: 'notes', name: 'by-tag', paths: ['tag'], unique: false });
    const sqlite = (await exportOf(A, '', 'application/vnd.sqlite3')).rawPayload;
    for (const [user, type, payload] of [['bob', 'application/x-ndjson', ndjson], ['carol', 'application/vnd.sqlite3', sqlite]] as const) {
      const response = await fx.app.inject({ method: 'POST', url: `/api/users/${user}/_import`, headers: { 'content-type': type }, payload });
      expect(body(response)).toMatchObject({ indexes: 1, objects: 6 });
      const target = await fx.store.pool.acquire(user);
      expect(target.sql.get("SELECT name FROM sqlite_master WHERE name LIKE 'pbx%'").pluck().all()).toEqual(['pbx_5_notes_by-tag']);
      expect(target.sql.get('SELECT state FROM indexes').pluck().all()).toEqual(['ready']);
      expect(target.sql.get('SELECT count(*) FROM versions WHERE ixgen < 1').pluck().get()).toBe(0);
      // Live: exactly the heads that are not tombstones.
      expect(target.sql.get('SELECT v.vid FROM versions v JOIN objects o ON o.vid = v.vid AND o.deleted = 0 WHERE v.live = 1 ORDER BY v.vid').pluck().all()).toEqual(
        target.sql.get('SELECT vid FROM versions WHERE live = 1 ORDER BY vid').pluck().all(),
      );
      expect(target.sql.get('SELECT count(*) FROM versions WHERE live = 1').pluck().get()).toBe(6);
      // Writes after the import keep live exact in the indexed collection.
      expect([...target.objects.indexedCollections]).toEqual(['notes']);
      fx.store.pool.release(target);
    }
  });

  it('ends the user\'s live change-feed subscriptions, and new writes continue after the imported seq', async () => {
    await seed(A);
    const exported = (await exportOf(A)).body;
    const closed: string[] = [];
    fx.store.subscribe('bob', { onCommit: () => undefined, onClose: (reason) => closed.push(reason) });
    expect((await fx.app.inject({ method: 'POST', url: `${B}/_import`, headers: { 'content-type': 'application/x-ndjson' }, payload: exported })).statusCode).toBe(200);
    expect(closed).toEqual(['released']);
    const write = await fx.app.inject(jsonRequest('PUT', `${B}/notes/after`, { x: 1 }));
    expect(write.headers['x-pinbase-seq']).toBe('9');
    // Without history only the snapshot at the export's seq is exact: older ones are pruned.
    expectProblem(await fx.app.inject({ method: 'GET', url: `${B}/notes/n0?at=7` }), 'snapshot_pruned', 410);
  });
});

describe('an export whose client stops reading', () => {
  it('does not hold a handover back: the stream is cut and the partition let go', async () => {
    const ops = Array.from({ length: 600 }, (_, i) => ({ op: 'put', collection: 'notes', id: `n${i}`, data: { i } }));
    expect((await fx.app.inject(jsonRequest('POST', `${A}/_tx`, { ops }))).statusCode).toBe(200);
    const exported = await fx.store.portability.openExport('alice', false);
    await exported.lines().next();
    let aborted = 0;
    exported.abortWhenInterrupted(() => {
      aborted++;
      exported.close();
    });
    await fx.store.release('alice');
    expect(aborted).toBe(1);
    expect(fx.store.pool.isOpen('alice')).toBe(false);
  }, 5000);
});
