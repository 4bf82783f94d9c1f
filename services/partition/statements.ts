import type { Database, Statement } from 'better-sqlite3';

/**
 * Prepared statements of one connection, prepared on first use: a partition
 * that is opened for one read prepares one statement, not all of them.
 */
export class Statements {
  private readonly cache = new Map<string, Statement>();

  constructor(readonly db: Database) {}

  get(sql: string): Statement {
    let statement = this.cache.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.cache.set(sql, statement);
    }
    return statement;
  }
}
