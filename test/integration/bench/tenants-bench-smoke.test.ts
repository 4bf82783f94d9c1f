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
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { assertBuilt } from '../../support/cli-process.js';

const BENCH = fileURLToPath(new URL('../../../dist/bench/tenants/run-tenants-bench.js', import.meta.url));

it('the tenants benchmark prints uniform and Zipf GET and PUT runs over its users, with cold opens from the worker metrics and no errors', async () => {
  assertBuilt();
  expect(existsSync(BENCH), `${BENCH}: run npm run build`).toBe(true);
  const child = spawn(process.execPath, [BENCH, '--quick'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, err).toBe(0);

  const rows = out.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| users') && !line.startsWith('| ---'));
  const cells = rows.map((row) => row.split('|').map((cell) => cell.trim()).slice(1, -1));
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
