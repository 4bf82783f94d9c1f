/**
 * The peer benchmark (bench/peer, `npm run bench:peer`) still runs end to
 * end: its quickest settings (`--quick`: 50 users, one round of 1 s per stack
 * and method) against a real worker, fastify + a PostgreSQL 15 the script
 * starts and stops itself (as root too: it hands PostgreSQL's directory to
 * the `postgres` or `nobody` user), and fastify from memory; every stack
 * answers GET and PUT without an error answer or a socket error (wrk's 2 s
 * timeouts of a loaded machine aside) and the table and ratios are printed.
 * The figures themselves are not judged here (a shared CI machine).
 * Skipped, with a message, only where Debian's postgresql-15 is not installed.
 */
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { expect, it } from 'vitest';
import { postgresBinDir } from '../../../bench/support/postgres.js';
import { runQuickBench, tableCells } from './quick-bench.js';

const havePostgres = postgresBinDir() !== undefined;
if (!havePostgres) console.warn('peer benchmark smoke test skipped: PostgreSQL 15 not found in /usr/lib/postgresql/15/bin (apt-get install -y postgresql-15)');

it.skipIf(!havePostgres)('the peer benchmark prints Pinbase, fastify + PostgreSQL and fastify from memory, GET and PUT, with throughput, no errors, and removes its PostgreSQL', async () => {
  const pgDirsBefore = readdirSync(tmpdir()).filter((name) => name.startsWith('pinbase-pg-'));
  const { out, err } = await runQuickBench('peer/run-peer-bench.js');
  const cells = tableCells(out, 'stack');
  expect(cells.map(([stack]) => stack!.split(' (')[0]), out).toEqual(['Pinbase worker', 'fastify + PostgreSQL 15', 'fastify from memory']);
  for (const [stack, getRps, , , putRps, , , errors] of cells) {
    expect(Number(getRps!.replace(/,/g, '')), `${stack} GET\n${out}`).toBeGreaterThan(0);
    expect(Number(putRps!.replace(/,/g, '')), `${stack} PUT\n${out}`).toBeGreaterThan(0);
    expect(errors, `${stack}\n${out}\n${err}`).toBe('0');
  }
  expect(out).toMatch(/GET: Pinbase\/PostgreSQL \d+\.\d+×, Pinbase\/ceiling \d+\.\d+×/);
  expect(out).toMatch(/PUT: Pinbase\/PostgreSQL \d+\.\d+×, Pinbase\/ceiling \d+\.\d+×/);
  const pgDirsAfter = readdirSync(tmpdir()).filter((name) => name.startsWith('pinbase-pg-'));
  expect(pgDirsAfter.filter((name) => !pgDirsBefore.includes(name))).toEqual([]);
}, 120_000);
