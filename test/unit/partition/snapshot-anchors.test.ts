/**
 * A snapshot read of an object walks its chain of versions from the head;
 * anchors (every ANCHOR_EVERY-th version links to the one before) bound that
 * walk. Without them one read of an object written a million times cost a
 * million row lookups (measured: 985 ms for `?at=1`, the worker's event loop
 * blocked for all of it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ANCHOR_EVERY, objectHistory, readObject } from '../../../services/partition/object-reads.js';
import { openPartitionDatabase } from '../../../services/partition/partition-database.js';
import { Statements } from '../../../services/partition/statements.js';
import { StoredObjects } from '../../../services/partition/stored-objects.js';

let dir: string | undefined;
let db: Database | undefined;
afterEach(() => {
  db?.close();
  db = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A partition with object c/a written `versions` times, version v at seq v with body {"v":v} (every 7th a deletion). */
function writtenTimes(versions: number): { sql: Statements; lookups: () => number } {
  dir = mkdtempSync(join(tmpdir(), 'pinbase-anchors-'));
  db = openPartitionDatabase(join(dir, 'u.sqlite'), { durability: 'normal', cacheKiB: 2048 });
  const sql = new Statements(db);
  const objects = new StoredObjects(sql);
  db.transaction(() => {
    for (let v = 1; v <= versions; v++) objects.append('c', 'a', v % 7 === 0 ? null : `{"v":${v}}`, objects.head('c', 'a'), v, v);
  })();
  // Counts the row lookups by vid that walking a chain makes.
  let count = 0;
  const get = sql.get.bind(sql);
  sql.get = ((text: string) => {
    const statement = get(text);
    if (!/FROM versions WHERE vid = \?$/.test(text)) return statement;
    return new Proxy(statement, {
      get(target, property) {
        if (property === 'get') return (...args: unknown[]) => (count++, target.get(...args));
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  });
  return { sql, lookups: () => count };
}

const expected = (at: number) => (at % 7 === 0 ? null : `{"v":${at}}`);

describe('snapshot reads of an object with many versions', () => {
  it('read every snapshot right, at most ANCHOR_EVERY links past the anchors they hop', () => {
    const versions = 5 * ANCHOR_EVERY + 300;
    const { sql, lookups } = writtenTimes(versions);
    for (const at of [1, 2, ANCHOR_EVERY - 1, ANCHOR_EVERY, ANCHOR_EVERY + 1, 2 * ANCHOR_EVERY, 3 * ANCHOR_EVERY + 17, versions - 1, versions]) {
      const before = lookups();
      expect(readObject(sql, 'c', 'a', at)?.body ?? null, `at ${at}`).toBe(expected(at));
      expect(readObject(sql, 'c', 'a', at)?.rev, `at ${at}`).toBe(at);
      // Two reads: each hops at most versions / ANCHOR_EVERY anchors and walks at most ANCHOR_EVERY links.
      expect(lookups() - before, `lookups at ${at}`).toBeLessThanOrEqual(2 * (versions / ANCHOR_EVERY + ANCHOR_EVERY + 4));
    }
    const before = lookups();
    expect(objectHistory(sql, 'c', 'a', { before: 3, limit: 2, maxBytes: 1 << 20 }).items.map((v) => v.rev)).toEqual([2, 1]);
    expect(lookups() - before).toBeLessThan(versions / 2);
  });

  it('end the hops at an anchor link that does not go back in time (a damaged file), and still answer right', () => {
    const { sql } = writtenTimes(3 * ANCHOR_EVERY + 5);
    // The anchor at depth 2 × ANCHOR_EVERY (seq = vid = depth here) links forward to the newest anchor, which links back to it: a loop.
    sql.db.prepare('UPDATE versions SET up = ? WHERE vid = ?').run(3 * ANCHOR_EVERY, 2 * ANCHOR_EVERY);
    for (const at of [1, ANCHOR_EVERY + 3, 2 * ANCHOR_EVERY + 1]) expect(readObject(sql, 'c', 'a', at)?.body ?? null, `at ${at}`).toBe(expected(at));
  });

  it('stop hopping at an anchor that was pruned, and still find every snapshot after the horizon', () => {
    const versions = 4 * ANCHOR_EVERY + 10;
    const { sql } = writtenTimes(versions);
    // The pruner deletes a prefix of the versions (those superseded before the horizon), anchors included.
    const horizon = 2 * ANCHOR_EVERY + 5;
    sql.db.prepare('DELETE FROM versions WHERE rev < ?').run(horizon);
    for (const at of [horizon, horizon + 1, 3 * ANCHOR_EVERY, versions]) expect(readObject(sql, 'c', 'a', at)?.body ?? null, `at ${at}`).toBe(expected(at));
  });
});
