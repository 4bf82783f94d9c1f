/**
 * The client benchmark (bench/client, `npm run bench:client`) still runs:
 * its quickest settings (`--quick`: 100 users, one round of 1 s per setup)
 * against real workers, a router and HAProxy, and every setup answers.
 * The figures themselves are not judged here (a shared CI machine).
 */
import { expect, it } from 'vitest';
import { runQuickBench, tableCells } from './quick-bench.js';

it('the client benchmark prints the four setups, GET and PUT, each with non-zero throughput and no errors', async () => {
  const { out, err } = await runQuickBench('client/run-client-bench.js');
  const cells = tableCells(out, 'setup');
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
