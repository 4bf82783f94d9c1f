/**
 * Ports for the processes that tests and benchmarks start.
 *
 * Not `listen(0)`: the kernel hands those out of its ephemeral range
 * (`net.ipv4.ip_local_port_range`, 32768–60999 by default), the range every
 * outbound connection takes its source port from, so between the check and
 * the child's own `listen` a client socket of the suite (thousands a minute
 * with wrk running) could take the port, and the child failed with
 * EADDRINUSE. These ports come from below that range, skip glusterd's
 * (24007, 24008), are never handed out twice by one process, and were
 * bindable on 127.0.0.1 a moment ago.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The lowest port handed out; the highest is just below the ephemeral range. */
export const FREE_PORT_FLOOR = 20_000;
const DEFAULT_EPHEMERAL_LOW = 32_768;
const RESERVED = new Set([24_007, 24_008]);
const handedOut = new Set<number>();

/** The first port of the kernel's ephemeral range (where outbound connections' source ports come from). */
export function ephemeralLow(): number {
  try {
    const low = Number.parseInt(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0] ?? '', 10);
    return Number.isInteger(low) && low > 0 ? low : DEFAULT_EPHEMERAL_LOW;
  } catch {
    return DEFAULT_EPHEMERAL_LOW;
  }
}

/** Whether a listener could bind `port` on 127.0.0.1 just now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port on 127.0.0.1, below the ephemeral range, that was free a moment ago. */
export function freePort(): Promise<number> {
  return freePortRange(1);
}

/**
 * The first of `count` consecutive ports that were all free a moment ago
 * (for `pinbase up`, whose workers take --worker-port, --worker-port + 1, ...).
 */
export async function freePortRange(count: number): Promise<number> {
  const ceiling = ephemeralLow();
  if (ceiling - FREE_PORT_FLOOR < 1000) {
    throw new Error(`freePort: the ephemeral range starts at ${ceiling}, leaving no room above ${FREE_PORT_FLOOR}`);
  }
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const base = FREE_PORT_FLOOR + Math.floor(Math.random() * (ceiling - FREE_PORT_FLOOR - count + 1));
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if (ports.some((port) => RESERVED.has(port) || handedOut.has(port))) continue;
    for (const port of ports) handedOut.add(port);
    if ((await Promise.all(ports.map(portIsFree))).every(Boolean)) return base;
  }
  throw new Error(`freePort: no ${count} free port(s) in ${FREE_PORT_FLOOR}–${ceiling - 1} after 200 tries`);
}
