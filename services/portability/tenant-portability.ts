import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Partition } from '../partition/partition.js';
import type { PartitionPool } from '../partition/partition-pool.js';
import { partitionPath } from '../partition/user-id.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import type { ImportResult, PortableFormat } from './export-format.js';
import { applyImport } from './import-apply.js';
import { receiveFile } from './import-source.js';
import { anchorChains } from './chain-anchors.js';
import { stageNdjson } from './ndjson-staging.js';
import { stageSqlite } from './sqlite-staging.js';
import { backupPartition, NdjsonExport } from './tenant-export.js';

export interface PortabilityOptions {
  pool: PartitionPool;
  dataDir: string;
  /** Largest import (bytes, the user quota: 0 none), and the document limit imported documents are held to. */
  maxUserBytes: number;
  maxDocumentBytes: number;
  /** SQLite exports and imports running at once on this worker (503 overloaded beyond): each costs a file copy. */
  maxConcurrent: number;
  /** Where staging files and export copies go (default os.tmpdir()). */
  tempDir?: string;
  /** Ends the user's live change-feed subscriptions (after an import their clients must resubscribe). */
  endSubscriptions(userId: string): void;
}

/** A finished SQLite export: a temporary file to stream, then remove(). */
export interface SqliteExportFile {
  file: string;
  seq: number;
  /** Deletes the copy. Idempotent. */
  remove(): Promise<void>;
}

/**
 * Tenant export and import on this worker: the storage side of GET
 * /_export and POST /_import (see docs/ARCHITECTURE.md, "Tenant
 * portability"). Bounds: maxConcurrent file-copying operations (SQLite
 * exports, imports) at once, each using one temporary file of at most the
 * user quota; an NDJSON export holds one chunk of text at a time.
 */
export class TenantPortability {
  private running = 0;
  private readonly maxImportBytes: number;

  constructor(private readonly options: PortabilityOptions) {
    this.maxImportBytes = options.maxUserBytes > 0 ? options.maxUserBytes : Number.MAX_SAFE_INTEGER;
  }

  private hasFile(userId: string): boolean {
    return this.options.pool.isOpen(userId) || existsSync(partitionPath(this.options.dataDir, userId));
  }

  /**
   * Starts an NDJSON export at the user's current seq (every commit so far
   * durable). The caller must consume lines() or close() it. A user with no
   * file exports as empty at seq 0, and nothing is created.
   */
  async openExport(userId: string, history: boolean): Promise<NdjsonExport> {
    if (!this.hasFile(userId)) return new NdjsonExport(userId, undefined, history, () => undefined);
    const partition = await this.options.pool.acquire(userId);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.options.pool.release(partition);
    };
    try {
      const wait = partition.whenReadable();
      if (wait) await wait;
      return new NdjsonExport(userId, partition, history, release);
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * Copies the user's partition with SQLite's online backup into a
   * temporary file (writes continue meanwhile and are in the copy) and
   * returns it with the seq it reflects; a user with no file gets a fresh,
   * empty partition file at seq 0.
   */
  async exportSqlite(userId: string): Promise<SqliteExportFile> {
    const leave = this.enter();
    let dir: string | undefined;
    try {
      dir = await mkdtemp(join(this.options.tempDir ?? tmpdir(), 'pinbase-export-'));
      const file = join(dir, `${userId}.sqlite`);
      let seq: number;
      if (!this.hasFile(userId)) {
        seq = await backupPartition(undefined, file);
      } else {
        const partition = await this.options.pool.acquire(userId);
        try {
          seq = await backupPartition(partition, file);
          // The copy may hold a commit not yet durable: send it only once it is.
          await partition.whenReadable();
        } finally {
          this.options.pool.release(partition);
        }
      }
      const owned = dir;
      dir = undefined;
      return { file, seq, remove: () => rm(owned, { recursive: true, force: true }) };
    } finally {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
      leave();
    }
  }

  /**
   * Imports `body` (an NDJSON export or a SQLite partition file) into the
   * user: staged and checked in a temporary file first (invalid_import,
   * import_too_large: nothing of the user changed), then applied in one
   * commit (applyImport). Without `replace`, a user with live objects is
   * tenant_not_empty, checked before the body is read and again at the
   * commit. A user with no file gets one.
   */
  async importTenant(userId: string, format: PortableFormat, body: AsyncIterable<Buffer>, replace: boolean): Promise<ImportResult> {
    const leave = this.enter();
    let dir: string | undefined;
    try {
      if (!replace && this.hasFile(userId)) await this.assertEmpty(userId);
      dir = await mkdtemp(join(this.options.tempDir ?? tmpdir(), 'pinbase-import-'));
      const staging = join(dir, 'staging.sqlite');
      const limits = { maxBytes: this.maxImportBytes, maxDocumentBytes: this.options.maxDocumentBytes };
      if (format === 'ndjson') {
        await stageNdjson(body, staging, limits);
      } else {
        await receiveFile(body, staging, this.maxImportBytes);
        await stageSqlite(staging, limits);
      }
      anchorChains(staging);
      this.assertFits(staging);
      const partition = await this.options.pool.acquire(userId);
      let result: ImportResult;
      try {
        result = await applyImport(partition, staging, replace, this.options.maxUserBytes);
      } finally {
        this.options.pool.release(partition);
      }
      this.options.endSubscriptions(userId);
      return result;
    } finally {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
      leave();
    }
  }

  private async assertEmpty(userId: string): Promise<void> {
    const partition: Partition = await this.options.pool.acquire(userId);
    try {
      if (partition.sql.get('SELECT 1 FROM objects WHERE deleted = 0 LIMIT 1').get() !== undefined) {
        const error = new PinbaseError('tenant_not_empty', 'the user has objects: import into an empty user, or with ?replace=true');
        error.seq = partition.seq;
        throw error;
      }
    } finally {
      this.options.pool.release(partition);
    }
  }

  /** The staged data must fit the quota before the user's file is touched (the commit checks the result again). */
  private assertFits(staging: string): void {
    if (this.options.maxUserBytes <= 0) return;
    const db = new Database(staging, { readonly: true });
    try {
      const pages = (db.pragma('page_count', { simple: true }) as number) - (db.pragma('freelist_count', { simple: true }) as number);
      const bytes = pages * (db.pragma('page_size', { simple: true }) as number);
      if (bytes > this.options.maxUserBytes) {
        throw new PinbaseError('quota_exceeded', `the imported data takes ${bytes} bytes, beyond the user quota of ${this.options.maxUserBytes}`);
      }
    } finally {
      db.close();
    }
  }

  private enter(): () => void {
    if (this.running >= this.options.maxConcurrent) {
      throw new PinbaseError('overloaded', `at most ${this.options.maxConcurrent} imports and SQLite exports at once on this worker`);
    }
    this.running++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.running--;
    };
  }
}
