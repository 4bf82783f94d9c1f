import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../../services/partition/schema.js';
import { fieldValueSql, parseFieldPath } from '../../../services/query/field-path.js';
import { createIndexSql, indexSqlName, parseIndexSqlName, readyTermSql } from '../../../services/query/index-sql.js';

describe('field paths', () => {
  it('parses dot paths of safe segments and refuses anything else, quotes included', () => {
    expect(parseFieldPath('address.city', 'invalid_filter')).toEqual(['address', 'city']);
    expect(parseFieldPath('a_b-c.0', 'invalid_order')).toEqual(['a_b-c', '0']);
    for (const bad of ['', 'a..b', '.a', "a'b", 'a"b', 'a b', 'a\\b', 'a[0]', '$.a', `${'x.'.repeat(8)}x`, 'x'.repeat(65)]) {
      expect(() => parseFieldPath(bad, 'invalid_filter'), bad).toThrow(expect.objectContaining({ code: 'invalid_filter' }));
    }
  });

  it('renders the one expression index DDL and queries share', () => {
    expect(fieldValueSql('v', ['address', 'city'])).toBe(`json_extract(v.body, '$."address"."city"')`);
    expect(fieldValueSql(undefined, ['n'])).toBe(`json_extract(body, '$."n"')`);
    expect(() => fieldValueSql('v', ["x'"])).toThrow();
  });
});

describe('index SQL', () => {
  it('names indexes unambiguously and parses the names back', () => {
    expect(indexSqlName('a_b', 'c')).not.toBe(indexSqlName('a', 'b_c'));
    expect(parseIndexSqlName(indexSqlName('orders', 'by_status'))).toEqual({ collection: 'orders', name: 'by_status' });
    expect(parseIndexSqlName('sqlite_autoindex_meta_1')).toBeUndefined();
    expect(parseIndexSqlName('objects_by_rev')).toBeUndefined();
  });

  it('builds a partial index the planner uses only with the ready term, and a unique one SQLite enforces', () => {
    const db = new Database(':memory:');
    migrate(db);
    db.exec(createIndexSql({ collection: 'orders', name: 'by_status', paths: [['status']], unique: false, generation: 1 }));
    db.exec(createIndexSql({ collection: 'users', name: 'by_email', paths: [['email']], unique: true, generation: 2 }));
    const plan = (sql: string, ...params: unknown[]) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail).join(' | ');
    const where = `v.collection = ? AND v.live = 1 AND ${fieldValueSql('v', ['status'])} = ?`;
    expect(plan(`SELECT id FROM versions v WHERE ${where} AND ${readyTermSql('v', 1)}`, 'orders', 'open')).toContain(
      `USING INDEX ${indexSqlName('orders', 'by_status')}`,
    );
    expect(plan(`SELECT id FROM versions v WHERE ${where}`, 'orders', 'open')).not.toContain('pbx_');
    const insert = db.prepare(
      "INSERT INTO versions (rev, collection, id, deleted, committed_at, body, live, ixgen) VALUES (1, 'users', ?, 0, 0, ?, ?, 2)",
    );
    insert.run('a', '{"email":"x@example.com"}', 1);
    insert.run('b', '{"email":"x@example.com"}', 0);
    insert.run('c', '{}', 1);
    insert.run('d', '{}', 1);
    expect(() => insert.run('e', '{"email":"x@example.com"}', 1)).toThrow(/UNIQUE constraint failed: index 'pbx_5_users_by_email'/);
  });
});
