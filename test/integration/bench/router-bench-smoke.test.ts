/**
 * The router and query benchmarks (bench/router, bench/query) still run end
 * to end, each at its quickest settings (`--quick`, or a small size where the
 * script takes its size as an argument): every setup, row and line of the
 * full run is printed, its figures are finite numbers (> 0 where a run that
 * worked cannot give 0), and no request failed. The figures themselves are
 * not judged (a shared CI machine). wrk and haproxy are installed by CI.
 */
import { describe, expect, it } from 'vitest';
import { runQuickBench, tableCells } from './quick-bench.js';

/** A figure printed with thousands separators (e.g. `1,234.5`) as a number; NaN for anything else. */
function figure(cell: string | undefined): number {
  return cell !== undefined && /^-?[\d,]+(\.\d+)?$/.test(cell) ? Number(cell.replace(/,/g, '')) : NaN;
}

function expectPositive(cell: string | undefined, what: string): void {
  expect(figure(cell), what).toBeGreaterThan(0);
}

describe('router benchmarks', () => {
  it('the router benchmark prints every setup (direct, router with 1 and 2 processes, both reference proxies, HAProxy), GET and PUT, with non-zero throughput, proxy CPU and no errors', async () => {
    const { out, err } = await runQuickBench('router/run-router-bench.js');
    expect(out).toMatch(/^wrk -t2 -c8 -d1s, 32 users, 2 workers, median of 1 interleaved rounds, /m);
    const cells = tableCells(out, 'setup');
    const setups = [
      'direct to w1 (its users)',
      'pinbase router, 1 process',
      'pinbase router, 2 processes',
      'reference: node:http + undici',
      'reference: node:http + raw sockets',
      'haproxy (hash path,word(3,/))',
    ];
    expect(
      cells.map(([setup, method]) => `${setup} ${method}`),
      `${out}\n${err}`,
    ).toEqual(setups.flatMap((setup) => [`${setup} GET`, `${setup} PUT`]));
    for (const [setup, method, rps, p50, p99, errors, cpu, vsRps, vsCpu] of cells) {
      const what = `${setup} ${method}\n${out}\n${err}`;
      expectPositive(rps, what);
      expect(p50, what).toMatch(/^\d+\.\d\dms$/);
      expect(p99, what).toMatch(/^\d+\.\d\dms$/);
      expect(errors, what).toBe('0');
      expect(vsRps, what).toMatch(/^\d+\.\d\d×$/);
      if (setup!.startsWith('direct')) {
        expect([cpu, vsCpu], what).toEqual(['-', '-']);
      } else {
        expectPositive(cpu, what);
        expect(vsCpu, what).toMatch(/^\d+\.\d\d×$/);
      }
    }
    expect(err.match(/^bench: round 1: /gm), err).toHaveLength(12);
  }, 180_000);

  it('the router CPU-against-rate benchmark prints PUT and GET for both worker durabilities, with non-zero rate and router CPU and no errors', async () => {
    const { out, err } = await runQuickBench('router/cpu-vs-rate.js');
    expect(out).toMatch(/^wrk -t2 -c32 -d1s through one router process, 32 users, /m);
    const cells = tableCells(out, 'worker durability');
    expect(
      cells.map(([durability, method]) => `${durability} ${method}`),
      `${out}\n${err}`,
    ).toEqual(['normal PUT', 'normal GET', 'pipelined PUT', 'pipelined GET']);
    for (const [durability, method, rps, cpu, errors] of cells) {
      const what = `${durability} ${method}\n${out}\n${err}`;
      expectPositive(rps, what);
      expectPositive(cpu, what);
      expect(errors, what).toBe('0');
    }
  }, 180_000);

  it('the body-stream RSS benchmark passes the whole body through the router to the slow reader and prints the router RSS before and at its peak', async () => {
    const { out, err } = await runQuickBench('router/body-stream-rss.js');
    const match = /: 200 \{"received":33554432\}; 32 MiB in (\d+\.\d) s; router RSS (\d+) MiB before, (\d+) MiB at its peak \(\+(\d+) MiB; VmHWM (\d+) MiB\)\n$/.exec(out);
    expect(match, `${out}\n${err}`).not.toBeNull();
    const [, seconds, before, peak, , hwm] = match!.map(Number);
    expect(seconds, out).toBeGreaterThanOrEqual(0);
    expect(before, out).toBeGreaterThan(0);
    expect(peak, out).toBeGreaterThanOrEqual(before!);
    // Not compared with the sampled peak: the kernel's VmHWM is not raised on every path that maps memory, and
    // one run printed a sampled VmRSS of 125 MiB beside a VmHWM of 124.
    expect(hwm, out).toBeGreaterThan(0);
  }, 60_000);

  it('the stats-history cost benchmark fills the ring for the given workers and times a 10-minute report', async () => {
    const { out, err } = await runQuickBench('router/stats-history-cost.js', { args: ['2'], nodeArgs: ['--expose-gc'] });
    const match = /^2 workers: ring (\d+) KiB of heap; a 10-minute report with its JSON: (\d+\.\d\d) ms, (\d+) bytes\n$/.exec(out);
    expect(match, `${out}\n${err}`).not.toBeNull();
    const [, heapKiB, ms, bytes] = match!.map(Number);
    expect(heapKiB, out).toBeGreaterThan(0);
    expect(ms, out).toBeGreaterThan(0);
    expect(bytes, out).toBeGreaterThan(0);
  }, 60_000);
});

describe('query benchmarks', () => {
  it('the query benchmark prints equality, range and order-by queries, unindexed as a scan and indexed by their index, and both index builds', async () => {
    const { out, err } = await runQuickBench('query/query-bench.js');
    expect(out).toMatch(/^Loaded 5,000 objects into one tenant in \d+\.\d s/m);
    const cells = tableCells(out, 'query');
    expect(
      cells.map(([query, , , , , index]) => `${query}: ${index}`),
      `${out}\n${err}`,
    ).toEqual(['equality: none / by_customer', 'range: none / by_n', 'order by, first page: none / by_n']);
    for (const [query, scanP50, scanP99, indexedP50, indexedP99, , speedUp] of cells) {
      const what = `${query}\n${out}\n${err}`;
      for (const cell of [scanP50, scanP99, indexedP50, indexedP99]) expectPositive(cell, what);
      expect(speedUp, what).toMatch(/^[\d,]+×$/);
    }
    expect(out).toMatch(/^Index builds \(PUT to ready, background batches\): by_customer [\d,]+ ms, by_n [\d,]+ ms$/m);
  }, 60_000);

  it('the index-build benchmark builds the index to ready in steps and prints the build times and the write latencies without and during it', async () => {
    const { out, err } = await runQuickBench('query/index-build-bench.js');
    expect(out, err).toMatch(/^index by_status: ready, 10 steps of 500 objects$/m);
    const values = new Map(tableCells(out, 'measure').map(([measure, value]) => [measure!.replace(/\(\d+ writes\)/, '(N writes)'), value!]));
    const what = `${out}\n${err}`;
    expect([...values.keys()], what).toEqual([
      'PUT (CREATE INDEX + first step), ms',
      'whole build, ms',
      'group-commit batches during the build: count / p50 / p99 / max, ms',
      'a write without a build: p50 / p99 / max, ms (N writes)',
      'a write during the build: p50 / p99 / max, ms (N writes)',
    ]);
    const create = figure(values.get('PUT (CREATE INDEX + first step), ms'));
    expect(create, what).toBeGreaterThan(0);
    expect(figure(values.get('whole build, ms')), what).toBeGreaterThanOrEqual(create);
    const batches = values.get('group-commit batches during the build: count / p50 / p99 / max, ms')!.split(' / ').map(figure);
    expect(batches, what).toHaveLength(4);
    expect(batches[0], what).toBeGreaterThan(0);
    for (const ms of batches.slice(1)) expect(ms, what).toBeGreaterThanOrEqual(0);
    for (const when of ['without a build', 'during the build']) {
      expect(Number(new RegExp(`a write ${when}: .*\\((\\d+) writes\\)`).exec(out)?.[1]), `writes ${when}\n${what}`).toBeGreaterThan(0);
      const latencies = values.get(`a write ${when}: p50 / p99 / max, ms (N writes)`)!.split(' / ').map(figure);
      expect(latencies, what).toHaveLength(3);
      for (const ms of latencies) expect(ms, what).toBeGreaterThanOrEqual(0);
    }
  }, 60_000);

  it('the query-cost benchmark times the sorted and the budget-bounded pages, from SQLite and at a snapshot', async () => {
    const { out, err } = await runQuickBench('query/query-cost.js', { args: ['2000'] });
    const lines = out.trimEnd().split('\n');
    expect(lines[0], `${out}\n${err}`).toBe('2000 objects in one collection, no index');
    const measured = lines.slice(1).map((line) => /^(.+): wall median (\d+\.\d) ms \(min (\d+\.\d)\), CPU median (\d+\.\d) ms \(min (\d+\.\d)\)$/.exec(line));
    expect(
      measured.map((match) => match?.[1]),
      out,
    ).toEqual([
      'order=-total, first page of 100 (sort of every object)',
      'filter matching nothing, id order (one page: the examination budget)',
      'order=-total at a snapshot (JavaScript, every object)',
      'filter matching nothing at a snapshot (one page: the examination budget)',
    ]);
    for (const match of measured) {
      const [wall, wallMin, cpu, cpuMin] = match!.slice(2).map(Number);
      expect(wall, out).toBeGreaterThan(0);
      expect(wall, out).toBeGreaterThanOrEqual(wallMin!);
      expect(cpu, out).toBeGreaterThan(0);
      expect(cpu, out).toBeGreaterThanOrEqual(cpuMin!);
    }
  }, 60_000);
});
