import { describe, expect, it } from 'vitest';
import type { RoutedTenant, RoutedTenantPage } from '../../../router/tenant-list.js';
import { cells, footer, printUsers, type PrintOptions } from '../../../services/cli/users-command.js';

const tenant = (id: string, over: Partial<RoutedTenant> = {}): RoutedTenant => ({
  id,
  bytes: 4096,
  modifiedAt: '2026-12-01T10:00:00.000Z',
  lastSeq: 12,
  lastWriteAt: '2026-12-01T09:59:58.123Z',
  owner: 'w1',
  ...over,
});

/** Pages of `ids` in id order, `limit` at a time, as the router answers them; records the `after` of each request. */
function pagesOf(ids: string[], limit: number) {
  const asked: (string | undefined)[] = [];
  const fetchPage = async (after: string | undefined): Promise<RoutedTenantPage> => {
    asked.push(after);
    const start = after === undefined ? 0 : ids.findIndex((id) => id > after);
    const slice = start < 0 ? [] : ids.slice(start, start + limit);
    const end = (start < 0 ? ids.length : start) + slice.length;
    return { users: slice.map((id) => tenant(id)), next: end < ids.length ? slice.at(-1)! : null, total: ids.length };
  };
  return { asked, fetchPage };
}

const options = (over: Partial<PrintOptions> = {}): PrintOptions => ({ after: undefined, all: false, json: false, limit: 100, router: undefined, ...over });

async function printed(fetchPage: (after: string | undefined) => Promise<RoutedTenantPage>, over: Partial<PrintOptions> = {}): Promise<string> {
  let out = '';
  await printUsers(fetchPage, options(over), (text) => (out += text));
  return out;
}

describe('pinbase users output', () => {
  it('shows a tenant with its owner, a human-readable size, its last seq and its last write to the second', () => {
    expect(cells(tenant('alice', { bytes: 3 * 1024 * 1024 }))).toEqual(['alice', 'w1', '3.0 MiB', '12', '2026-12-01T09:59:58Z']);
  });

  it('shows "-" for an unknown owner, last seq or last write', () => {
    expect(cells(tenant('bob', { owner: null, lastSeq: null, lastWriteAt: null, bytes: 12 }))).toEqual(['bob', '-', '12 B', '-', '-']);
  });

  it('prints an aligned table and the total when everything fits on one page', async () => {
    const { fetchPage } = pagesOf(['a', 'bob', 'carol-long-id'], 100);
    const out = await printed(fetchPage);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^ID\s+OWNER\s+SIZE\s+LAST SEQ\s+LAST WRITE$/);
    expect(lines[1]).toMatch(/^a\s+w1\s+4\.0 KiB\s+12\s+2026-12-01T09:59:58Z$/);
    expect(lines[0]!.indexOf('OWNER')).toBe(lines[3]!.indexOf('w1'));
    expect(out.trimEnd().split('\n').at(-1)).toBe('3 tenants.');
  });

  it('says how many of the total a page shows and gives the command for the next page', async () => {
    const { fetchPage } = pagesOf(['a', 'b', 'c', 'd', 'e'], 2);
    const out = await printed(fetchPage, { limit: 2, router: 'http://10.0.0.5:8080' });
    expect(out).toContain('2 shown, 5 tenants in all.');
    expect(out).toContain('Next page: pinbase users --router http://10.0.0.5:8080 --limit 2 --after b');
  });

  it('with --all follows next to the last page, each tenant once, and ends with the total', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const { fetchPage, asked } = pagesOf(ids, 2);
    const out = await printed(fetchPage, { all: true, limit: 2 });
    expect(asked).toEqual([undefined, 'b', 'd']);
    const rows = out.split('\n').filter((line) => /^[a-e]\s/.test(line));
    expect(rows.map((row) => row.split(/\s+/)[0])).toEqual(ids);
    expect(out.match(/^ID\s/gm)).toHaveLength(1);
    expect(out.trimEnd().split('\n').at(-1)).toBe('5 tenants.');
    expect(out).not.toContain('Next page');
  });

  it('--after starts after that id', async () => {
    const { fetchPage, asked } = pagesOf(['a', 'b', 'c'], 100);
    const out = await printed(fetchPage, { after: 'a' });
    expect(asked).toEqual(['a']);
    expect(out).toContain('2 shown after a, 3 tenants in all.');
  });

  it('--json prints the raw page, and with --all one page per line', async () => {
    const { fetchPage } = pagesOf(['a', 'b', 'c'], 2);
    expect(JSON.parse(await printed(fetchPage, { json: true, limit: 2 }))).toEqual(await fetchPage(undefined));
    const lines = (await printed(fetchPage, { json: true, all: true, limit: 2 })).trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as RoutedTenantPage).users.map((u) => u.id))).toEqual([['a', 'b'], ['c']]);
  });

  it('refuses a router whose next page does not move on (it would loop forever)', async () => {
    const stuck = async (): Promise<RoutedTenantPage> => ({ users: [tenant('a')], next: 'a', total: 2 });
    await expect(printed(stuck, { all: true, after: 'a' })).rejects.toThrow(/does not move on/);
  });

  it('an empty cluster says 0 tenants', () => {
    expect(footer(0, { users: [], next: null, total: 0 }, options())).toBe('0 tenants.');
  });
});
