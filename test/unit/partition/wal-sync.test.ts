import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WalSync } from '../../../services/partition/wal-sync.js';
import { makeTempDir } from '../../support/temp-dir.js';

describe('WAL sync', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let wal: string;
  beforeEach(() => {
    dir = makeTempDir();
    wal = join(dir.path, 'u.sqlite-wal');
    writeFileSync(wal, 'frames');
  });
  afterEach(() => dir.remove());

  it('reports a commit as not durable until its fdatasync returned', async () => {
    const sync = new WalSync(wal);
    expect(sync.isDurable).toBe(true);
    const durable = sync.commit(1);
    expect(sync.isDurable).toBe(false);
    await durable;
    expect(sync.isDurable).toBe(true);
    await sync.close();
  });

  it('covers every commit made while a sync was running with one more sync, in commit order', async () => {
    const sync = new WalSync(wal);
    const order: number[] = [];
    const all = [1, 2, 3, 4].map((seq) => sync.commit(seq).then(() => order.push(seq)));
    const readable = sync.whenDurable().then(() => order.push(0));
    await Promise.all([...all, readable]);
    expect(order.slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(order).toContain(0);
    await sync.close();
  });

  it('rejects the commit and every later wait once an fsync fails: durability is unknown', async () => {
    const sync = new WalSync(join(dir.path, 'missing-wal'));
    await expect(sync.commit(1)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(sync.whenDurable()).rejects.toMatchObject({ code: 'ENOENT' });
    await sync.close();
  });
});
