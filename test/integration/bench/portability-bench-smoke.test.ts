/**
 * The portability and partition benchmarks (bench/portability, bench/partition)
 * still run end to end at CI size: `bench:backup --quick` (20 tenants through
 * two `pinbase up` clusters), `bench:portability --quick` (1500 objects), and
 * the partition-level scripts with small positional sizes (and `--quick` for
 * read-cost's read loop). Each asserts the script's output structure: every
 * line or row it must print, the figures finite (and > 0 where they cannot be
 * zero), nothing failed. The figures themselves are not judged (a shared CI
 * machine).
 */
import { expect, it } from 'vitest';
import { runQuickBench, tableCells } from './quick-bench.js';

/** The number in `text` (thousands separators allowed); NaN for anything else. */
function figure(text: string | undefined): number {
  return text === undefined || !/^-?[\d,]+(\.\d+)?$/.test(text) ? Number.NaN : Number(text.replace(/,/g, ''));
}

function expectPositive(text: string | undefined, what: string): void {
  expect(figure(text), what).toBeGreaterThan(0);
}

function expectFiniteNonNegative(text: string | undefined, what: string): void {
  const value = figure(text);
  expect(Number.isFinite(value) && value >= 0, `${what}: ${text}`).toBe(true);
}

it('the backup benchmark seeds its tenants, backs them all up and restores them all into a fresh cluster, with no tenant failed', async () => {
  const { out, err } = await runQuickBench('portability/backup-bench.js');
  const what = `${out}\n${err}`;
  expect(out, what).toMatch(/^seeded 20 tenants x 2 objects in \d+\.\d s$/m);
  for (const [step, verb] of [
    ['backup', 'backed up'],
    ['restore', 'restored'],
  ] as const) {
    const line = new RegExp(
      `^${step} --all \\(ndjson, concurrency 4\\): 20 tenants, (\\S+) MB in (\\S+) s = (\\S+) tenants/s, (\\S+) MB/s  \\[${verb} 20 tenants \\((\\S+) (?:B|KiB|MiB)\\) in \\d+ s, 0 failed\\]$`,
      'm',
    ).exec(out);
    expect(line, `${step} --all line\n${what}`).not.toBeNull();
    const [, mb, seconds, tenantsPerSecond, mbPerSecond, size] = line!;
    expectPositive(mb, `${step}: MB of export files\n${what}`);
    expectPositive(seconds, `${step}: seconds\n${what}`);
    expectFiniteNonNegative(tenantsPerSecond, `${step}: tenants/s\n${what}`);
    expectFiniteNonNegative(mbPerSecond, `${step}: MB/s\n${what}`);
    expectPositive(size, `${step}: the CLI's bytes\n${what}`);
  }
}, 120_000);

it('the portability benchmark exports and imports its tenant as NDJSON and SQLite, with a file size, both rates and the import stall', async () => {
  const { out, err } = await runQuickBench('portability/portability-bench.js');
  const what = `${out}\n${err}`;
  expect(out, what).toContain('tenant of 1500 objects');
  const cells = tableCells(out, 'format');
  expect(
    cells.map(([format]) => format),
    what,
  ).toEqual(['ndjson', 'sqlite']);
  for (const [format, size, exported, imported, stall] of cells) {
    expectPositive(/^(\S+) MiB$/.exec(size!)?.[1], `${format} file size\n${what}`);
    for (const [name, cell] of [
      ['export', exported],
      ['import', imported],
    ] as const) {
      const [, rate, ms] = /^(\S+) \((\d+) ms\)$/.exec(cell!) ?? [];
      expectPositive(rate, `${format} ${name} objects/s\n${what}`);
      expectFiniteNonNegative(ms, `${format} ${name} ms\n${what}`);
    }
    expectFiniteNonNegative(/^(\S+) ms$/.exec(stall!)?.[1], `${format} slowest GET during the import\n${what}`);
  }
}, 60_000);

it('the tenant-list benchmark builds the listing three times and pages through every tenant (two pages of 1000)', async () => {
  const { out, err } = await runQuickBench('portability/tenant-list-bench.js', { args: ['1100'] });
  const what = `${out}\n${err}`;
  for (const round of [1, 2, 3]) {
    const line = new RegExp(`^listing of 1100 tenants \\(256 readdir calls\\), round ${round}: (\\S+) ms$`, 'm').exec(out);
    expect(line, `round ${round}\n${what}`).not.toBeNull();
    expectPositive(line![1], `round ${round} ms\n${what}`);
  }
  const pages = /^2 pages of 1000 from the cached listing \(one stat per entry\): (\S+) ms, (\S+) ms per page$/m.exec(out);
  expect(pages, what).not.toBeNull();
  expectPositive(pages![1], `paging ms\n${what}`);
  expectPositive(pages![2], `ms per page\n${what}`);
}, 60_000);

it('the read-cost benchmark prints the SQLite and object-cache cost per read for each number of open partitions', async () => {
  const { out, err } = await runQuickBench('partition/read-cost.js', { args: ['--quick', '1', '50'] });
  const what = `${out}\n${err}`;
  const lines = out.trim().split('\n');
  expect(lines.map((line) => line.split(' partitions')[0]), what).toEqual(['1', '50']);
  for (const line of lines) {
    const [, sqlite, cached] = /^\d+ partitions open: SQLite (\S+) ns per read, object cache (\S+) ns$/.exec(line) ?? [];
    expectPositive(sqlite, `SQLite ns: ${line}\n${what}`);
    expectPositive(cached, `object cache ns: ${line}\n${what}`);
  }
}, 60_000);

it('the snapshot-walk benchmark prints the append cost and each snapshot read with anchors and without', async () => {
  const { out, err } = await runQuickBench('partition/snapshot-walk.js', { args: ['3000'] });
  const what = `${out}\n${err}`;
  const [first, ...reads] = out.trim().split('\n');
  expectPositive(/^3000 versions of one object: (\S+) µs per append$/.exec(first ?? '')?.[1], `append\n${what}`);
  expect(reads.map((line) => line.split(':')[0]), what).toEqual(['at=2999', 'at=1500', 'at=1']);
  for (const line of reads) {
    const [, anchored, linear] = /^at=\d+: (\S+) ms with anchors, (\S+) ms one version at a time$/.exec(line) ?? [];
    expectFiniteNonNegative(anchored, `anchored: ${line}\n${what}`);
    expectFiniteNonNegative(linear, `linear: ${line}\n${what}`);
  }
}, 60_000);

it('the revert benchmark reverts every object of each size and prints the batch time and the durable answer time', async () => {
  const { out, err } = await runQuickBench('partition/revert-bench.js', { args: ['100', '1000'] });
  const what = `${out}\n${err}`;
  const lines = out.trim().split('\n');
  expect(lines.map((line) => line.split(' objects')[0]), what).toEqual(['100', '1000']);
  for (const line of lines) {
    const [, held, total] = /^\d+ objects reverted: event loop held (\S+) ms \(the batch\), durable answer after (\S+) ms$/.exec(line) ?? [];
    expectFiniteNonNegative(held, `batch ms: ${line}\n${what}`);
    expectFiniteNonNegative(total, `durable answer ms: ${line}\n${what}`);
  }
}, 60_000);

it('the partition tenant-list benchmark reads a full page of its tenant files and prints the first and median page times and the event-loop delay', async () => {
  const { out, err } = await runQuickBench('partition/tenant-list-bench.js', { args: ['100'] });
  const what = `${out}\n${err}`;
  const line = /^101 tenants, page of 101: first (\S+) ms \(lists the directories\), median (\S+) ms, max event-loop delay (\S+) ms$/m.exec(out);
  expect(line, what).not.toBeNull();
  expectPositive(line![1], `first page ms\n${what}`);
  expectFiniteNonNegative(line![2], `median page ms\n${what}`);
  expectFiniteNonNegative(line![3], `max event-loop delay\n${what}`);
}, 60_000);
