/**
 * A worker stand-in for the router's body-streaming tests: a tiny node:http
 * server that counts the bytes of each request body, can hold its reading
 * (a worker that reads slowly or not at all) and can drop the connection
 * after some bytes (a worker that dies mid-body). What is under test is the
 * router's streaming; the worker's routes are covered elsewhere.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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
