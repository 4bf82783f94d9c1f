/**
 * The client benchmark (bench/client, `npm run bench:client`) still runs:
 * its quickest settings (`--quick`: 100 users, one round of 1 s per setup)
 * against real workers, a router and HAProxy, and every setup answers.
 * The figures themselves are not judged here (a shared CI machine).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { assertBuilt } from '../../support/cli-process.js';

const BENCH = fileURLToPath(new URL('../../../dist/bench/client/run-client-bench.js', import.meta.url));

it('the client benchmark prints the four setups, GET and PUT, each with non-zero throughput and no errors', async () => {
  assertBuilt();
  expect(existsSync(BENCH), `${BENCH}: run npm run build`).toBe(true);
  const child = spawn(process.execPath, [BENCH, '--quick'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, err).toBe(0);

  const rows = out.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| setup'));
  const cells = rows.map((row) => row.split('|').map((cell) => cell.trim()).slice(1, -1));
  const seen = cells.map(([setup, method]) => `${setup} ${method}`);
  for (const setup of ['client, routing: direct', 'client, routing: router', 'ceiling: undici to the owner', 'undici via HAProxy']) {
    for (const method of ['GET', 'PUT']) expect(seen, out).toContain(`${setup} ${method}`);
  }
  for (const [setup, method, rps, , , errors] of cells) {
    expect(Number(rps), `${setup} ${method}\n${out}`).toBeGreaterThan(0);
    expect(errors, `${setup} ${method}\n${out}\n${err}`).toBe('0');
  }
  expect(out).toMatch(/GET: direct\/ceiling \d+\.\d+×/);
}, 60_000);
