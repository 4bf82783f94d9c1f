/**
 * A test double for a Pinbase worker, for router tests: it follows the
 * worker contract the router relies on (/readyz, X-Pinbase-Worker, the
 * ownership check with X-Pinbase-Down answering 421, SSE on _changes) and
 * echoes what it received, so tests can see exactly what the router sent.
 * Given a HintVerifier it believes a down list only with a valid signed
 * hint, as a worker with a cluster secret does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HintVerdict, HintVerifier } from '../../../services/auth/hint-signature.js';
import { Placement } from '../../../services/topology/placement.js';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** Returns true when it answered the request itself. */
export type Behavior = (req: IncomingMessage, res: ServerResponse, body: string) => boolean;

export class FakeWorker {
  readonly received: ReceivedRequest[] = [];
  /** All worker ids of the topology, for the ownership check. */
  topologyIds: string[] = [];
  topologyVersion = 1;
  ready = true;
  /** Checks ownership like a real worker (421 when not the owner). */
  checkOwnership = true;
  behavior: Behavior | undefined;
  /** Verifies the router's signed hints (none: every down list is believed). */
  hints: HintVerifier | undefined;
  /** The verdict on each signed down list received, in order. */
  readonly hintVerdicts: HintVerdict[] = [];
  private readonly streams = new Set<ServerResponse>();
  private server!: Server;
  port = 0;

  constructor(readonly id: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Sends one SSE event to every open change stream. */
  publish(data: string): void {
    for (const res of this.streams) res.write(`data: ${data}\n\n`);
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Stops listening and drops every connection at once (like kill -9, as seen from outside). */
  async kill(): Promise<void> {
    for (const res of this.streams) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const url = req.url ?? '';
      res.setHeader('x-pinbase-worker', this.id);
      if (url === '/readyz') {
        this.json(res, this.ready ? 200 : 503, { status: this.ready ? 'ready' : 'starting', worker: this.id, topologyVersion: this.topologyVersion });
        return;
      }
      this.received.push({ method: req.method ?? '', url, headers: req.headers, body });
      if (this.behavior?.(req, res, body) === true) return;
      const userId = /^\/api\/users\/([^/?]+)/.exec(url)?.[1];
      if (userId !== undefined && this.checkOwnership) {
        const header = req.headers['x-pinbase-down'];
        let downList = typeof header === 'string' ? header : '';
        if (this.hints !== undefined && downList !== '') {
          const hint = req.headers['x-pinbase-hint'];
          const verdict = this.hints.verify(typeof hint === 'string' ? hint : undefined, req.method ?? '', url, downList);
          this.hintVerdicts.push(verdict);
          if (verdict !== 'valid') downList = '';
        }
        const down = new Set(downList === '' ? [] : downList.split(','));
        const owner = new Placement(this.topologyIds).owner(userId, (id) => !down.has(id));
        if (owner !== this.id) {
          res.setHeader('content-type', 'application/problem+json');
          this.json(res, 421, { code: 'misdirected_request', status: 421, owner });
          return;
        }
      }
      if (url.includes('/_changes') && req.headers.accept === 'text/event-stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
        res.write(': connected\n\n');
        this.streams.add(res);
        res.on('close', () => this.streams.delete(res));
        return;
      }
      this.json(res, 200, { worker: this.id, method: req.method, url, body }, { 'x-pinbase-seq': '1', etag: '"1"' });
    });
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    if (!res.hasHeader('content-type')) res.setHeader('content-type', 'application/json');
    res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}
