/**
 * bench-processes.ts's waitReady with the process it waits for: a
 * benchmark's worker that exits at start (its port taken) must fail the run,
 * not pass it because another process answers on that port.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { waitReady } from '../../../bench/router/bench-processes.js';

it('fails when the process it waits for has exited, although something else answers 200 on its port', async () => {
  const other = createServer((_request, response) => response.end('ok'));
  other.listen(0, '127.0.0.1');
  await once(other, 'listening');
  const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  try {
    await waitReady(url); // something answers: without a process to watch, that is ready
    const child = spawn(process.execPath, ['-e', 'process.exit(3)'], { stdio: 'ignore' });
    await once(child, 'exit');
    await expect(waitReady(url, '/readyz', 5_000, child)).rejects.toThrow(/exited \(3\) before it was ready/);
  } finally {
    other.close();
  }
});
