/**
 * A worker stand-in for the router's body-streaming tests: a tiny node:http
 * server that counts the bytes of each request body, can hold its reading
 * (a worker that reads slowly or not at all) and can drop the connection
 * after some bytes (a worker that dies mid-body). What is under test is the
 * router's streaming; the worker's routes are covered elsewhere.
 */
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { request } from 'undici';
import { expect, vi } from 'vitest';
import { routerOptions, type RouterOptions } from '../../../router/router-options.js';
import { startRouter, type SingleRouter } from '../../../router/router-server.js';

export class CountingUpstream {
  server!: Server;
  received = 0;
  requests = 0;
  completed = 0;
  aborted = 0;
  paused = false;
  /** Destroy the connection once this many body bytes have arrived (a worker dying mid-body). */
  dieAfterBytes = Infinity;
  /** Answer with this status at once, reading none of the body (a worker refusing a bad token). */
  answerAtOnce: number | undefined;
  private current: IncomingMessage | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Forgets the counts (after the start-up requests). */
  reset(): void {
    this.requests = 0;
    this.completed = 0;
    this.received = 0;
    this.aborted = 0;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('x-pinbase-worker', 'w1');
    if (req.url === '/readyz') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'ready', worker: 'w1', topologyVersion: 1 }));
      return;
    }
    this.requests++;
    if (this.answerAtOnce !== undefined) {
      res.statusCode = this.answerAtOnce;
      res.setHeader('content-type', 'application/problem+json');
      res.end(JSON.stringify({ status: this.answerAtOnce }));
      return;
    }
    this.current = req;
    if (this.paused) req.pause();
    req.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      if (this.received >= this.dieAfterBytes) req.socket.destroy();
    });
    req.on('end', () => {
      this.completed++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ bytes: this.received }));
    });
    req.on('aborted', () => this.aborted++);
  }

  resume(): void {
    this.paused = false;
    this.current?.resume();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
  }
}

/** The size of the pieces `pacedBody` sends. */
export const BODY_CHUNK = 64 * 1024;
const FILLER = Buffer.alloc(BODY_CHUNK, 97);

/**
 * Starts a single-process router (in a new temp directory `dir`, with a
 * topology of `upstream` alone as w1) and waits until it routes to it; the
 * upstream's counters are reset after that first request.
 */
export async function startRouterTo(upstream: CountingUpstream, dirPrefix: string, overrides: Partial<RouterOptions> = {}): Promise<{ router: SingleRouter; dir: string }> {
  const url = await upstream.start();
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const topologyPath = join(dir, 'topology.json');
  writeFileSync(topologyPath, JSON.stringify({ version: 1, workers: [{ id: 'w1', url }] }));
  const router = await startRouter(routerOptions({ topologyPath, port: 0, probeIntervalMs: 100, ...overrides }), pino({ level: 'silent' }));
  await vi.waitFor(async () => {
    const reply = await request(`${router.url}/api/users/alice/notes/x`);
    await reply.body.dump();
    expect(reply.statusCode).toBe(200);
  });
  upstream.reset();
  return { router, dir };
}

/** A body of `total` bytes in BODY_CHUNK pieces; `progress.pulled` counts what the router has taken so far. */
export function pacedBody(total: number, progress: { pulled: number }, beforeChunk?: (sent: number) => Promise<void>): Readable {
  return Readable.from(
    (async function* () {
      for (let sent = 0; sent < total; sent += BODY_CHUNK) {
        await beforeChunk?.(sent);
        progress.pulled = sent;
        yield total - sent >= BODY_CHUNK ? FILLER : FILLER.subarray(0, total - sent);
      }
      progress.pulled = total;
    })(),
    { objectMode: false },
  );
}
