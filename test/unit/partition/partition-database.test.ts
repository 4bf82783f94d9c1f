import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPartitionDatabase, PAGE_SIZE } from '../../../services/partition/partition-database.js';
import { SCHEMA_VERSION } from '../../../services/partition/schema.js';
import { makeTempDir } from '../../support/temp-dir.js';

describe('partition database', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let file: string;
  beforeEach(() => {
    dir = makeTempDir();
    file = join(dir.path, 'u.sqlite');
  });
  afterEach(() => dir.remove());

  it('opens in WAL with exclusive locking and the current schema version', () => {
    const db = openPartitionDatabase(file, { durability: 'pipelined', cacheKiB: 256 });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('locking_mode', { simple: true })).toBe('exclusive');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('page_size', { simple: true })).toBe(PAGE_SIZE);
    db.close();
  });

  it('keeps the page size of an existing file', () => {
    const old = new Database(file);
    old.pragma('page_size = 4096');
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE probe (x)');
    old.close();
    const db = openPartitionDatabase(file, { durability: 'pipelined', cacheKiB: 256 });
    expect(db.pragma('page_size', { simple: true })).toBe(4096);
    db.close();
  });

  it.each([
    ['inline', 2],
    ['pipelined', 1],
    ['normal', 1],
  ] as const)('sets synchronous for durability %s on every open, also on reopening an existing WAL file', (durability, level) => {
    openPartitionDatabase(file, { durability: 'normal', cacheKiB: 256 }).close();
    const db = openPartitionDatabase(file, { durability, cacheKiB: 256 });
    expect(db.pragma('synchronous', { simple: true })).toBe(level);
    db.close();
  });

  it('keeps other connections out while open (SQLITE_BUSY), the third line of single-writer defence', () => {
    const db = openPartitionDatabase(file, { durability: 'pipelined', cacheKiB: 256 });
    db.prepare("INSERT INTO meta (key, value) VALUES ('probe', 1)").run();
    expect(() => openPartitionDatabase(file, { durability: 'pipelined', cacheKiB: 256 })).toThrow(
      expect.objectContaining({ code: 'SQLITE_BUSY' }) as Error,
    );
    db.close();
  });

  it('refuses a file written by a newer schema instead of guessing', () => {
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openPartitionDatabase(file, { durability: 'pipelined', cacheKiB: 256 })).toThrow(/newer than this build/);
  });

  it('applies migrations once: reopening keeps the data', () => {
    const db = openPartitionDatabase(file, { durability: 'pipelined', cacheKiB: 256 });
    db.prepare("INSERT INTO meta (key, value) VALUES ('probe', 7)").run();
    db.close();
    const again = openPartitionDatabase(file, { durability: 'pipelined', cacheKiB: 256 });
    expect(again.prepare("SELECT value FROM meta WHERE key = 'probe'").get()).toEqual({ value: 7 });
    again.close();
  });
});
