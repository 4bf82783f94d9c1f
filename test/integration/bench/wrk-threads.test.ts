import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWrk, spreadOverUsersLua } from '../../../bench/support/wrk.js';

describe('the benchmarks\' wrk load', () => {
  let server: Server;
  const paths: string[] = [];
  beforeAll(async () => {
    server = createServer((request, response) => {
      paths.push(request.url ?? '');
      response.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('draws each wrk thread its own sequence of users, not the same one twice', async () => {
    const { port } = server.address() as AddressInfo;
    // A billion users: two independent draws practically never meet, two threads with one sequence meet on every request.
    const result = await runWrk({ baseUrl: `http://127.0.0.1:${port}`, connections: 2, threads: 2, seconds: 1, requestLua: spreadOverUsersLua('GET', 1_000_000_000, 1) });
    expect(result.requests).toBeGreaterThan(200);
    expect(new Set(paths).size / paths.length).toBeGreaterThan(0.99);
  });
});
