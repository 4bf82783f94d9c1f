/**
 * The tenants benchmark (bench/tenants, `npm run bench:tenants`) still runs
 * end to end: its quickest settings (`--quick`: 200 users made from a
 * template partition, --max-open 64, 1 s per run) against a real worker with
 * authentication on; every run (uniform and Zipf, GET and PUT) answers
 * without errors, and the LRU figures come from the worker's metrics. With
 * 200 users and 64 open partitions, uniform GETs must open partitions, so a
 * broken metrics read (NaN, or no opens counted) fails here. The figures
 * themselves are not judged (a shared CI machine).
 */
import { expect, it } from 'vitest';
import { runQuickBench, tableCells } from './quick-bench.js';

it('the tenants benchmark prints uniform and Zipf GET and PUT runs over its users, with cold opens from the worker metrics and no errors', async () => {
  const { out, err } = await runQuickBench('tenants/run-tenants-bench.js');
  const cells = tableCells(out, 'users');
  expect(cells.map(([users, distribution, method]) => `${users} ${distribution} ${method}`), out).toEqual([
    '200 uniform GET',
    '200 uniform PUT',
    '200 zipf GET',
    '200 zipf PUT',
  ]);
  for (const [users, distribution, method, rps, , opensPerRequest, , , open, rss, errors] of cells) {
    const what = `${users} ${distribution} ${method}\n${out}\n${err}`;
    expect(Number(rps!.replace(/,/g, '')), what).toBeGreaterThan(0);
    expect(Number(opensPerRequest), what).toBeGreaterThanOrEqual(0);
    expect(Number(open), what).toBeLessThanOrEqual(64);
    expect(Number(rss), what).toBeGreaterThan(0);
    expect(errors, what).toBe('0');
  }
  expect(Number(cells[0]![5]), `uniform GET over 200 users with 64 open must open partitions\n${out}`).toBeGreaterThan(0);
  expect(out).toMatch(/users' files made \(template copies\): 200 in \d+\.\d s/);
}, 120_000);
