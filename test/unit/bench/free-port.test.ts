import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralLow, FREE_PORT_FLOOR, freePort, freePortRange, portIsFree } from '../../../bench/support/free-port.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('freePort', () => {
  it('hands out ports below the kernel ephemeral range, where no outbound connection takes its source port', async () => {
    const low = ephemeralLow();
    for (let i = 0; i < 50; i++) {
      const port = await freePort();
      expect(port).toBeGreaterThanOrEqual(FREE_PORT_FLOOR);
      expect(port).toBeLessThan(low);
      expect([24_007, 24_008]).not.toContain(port);
    }
  });

  it('never hands out one port twice in a process, and each one can be listened on', async () => {
    const ports = await Promise.all(Array.from({ length: 100 }, () => freePort()));
    expect(new Set(ports).size).toBe(100);
    const servers = await Promise.all(ports.slice(0, 10).map(listen));
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it('gives a base with every port of the range free', async () => {
    const base = await freePortRange(3);
    expect(await Promise.all([base, base + 1, base + 2].map(portIsFree))).toEqual([true, true, true]);
    expect(base + 2).toBeLessThan(ephemeralLow());
  });

  it('portIsFree is false for a port something listens on', async () => {
    const server = await listen(0);
    const { port } = server.address() as { port: number };
    expect(await portIsFree(port)).toBe(false);
    await new Promise((resolve) => server.close(resolve));
    expect(await portIsFree(port)).toBe(true);
  });
});
