/**
 * A test double for a Pinbase worker, for router tests: it follows the
 * worker contract the router relies on (/readyz, X-Pinbase-Worker, the
 * ownership check with X-Pinbase-Down answering 421, SSE on _changes) and
 * echoes what it received, so tests can see exactly what the router sent.
 * Given a HintVerifier it believes a down list only with a valid signed
 * hint, as a worker with a cluster secret does. It also serves WebSocket
 * upgrades of _changes (a real `ws` server), after the same ownership check.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
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
  /** The WebSockets open on _changes. */
  readonly sockets = new Set<WebSocket>();
  /** Leave upgrade requests unanswered (a worker that hangs in the handshake). */
  stallUpgrades = false;
  private readonly wss = new WebSocketServer({ noServer: true });
  /** Sockets handed over by 'upgrade' events: no longer the server's, so kill() ends them itself. */
  private readonly upgradeSockets = new Set<Socket>();
  private server!: Server;
  port = 0;

  constructor(readonly id: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.handleUpgrade(req, socket, head));
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

  /** Sends one text message to every open WebSocket. */
  publishWs(data: string): void {
    for (const socket of this.sockets) socket.send(data);
  }

  /** Stops listening and drops every connection at once (like kill -9, as seen from outside). */
  async kill(): Promise<void> {
    for (const res of this.streams) res.destroy();
    for (const socket of this.sockets) socket.terminate();
    for (const socket of this.upgradeSockets) socket.destroy();
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
      const owner = this.misdirectedTo(req, url);
      if (owner !== undefined) {
        res.setHeader('content-type', 'application/problem+json');
        this.json(res, 421, { code: 'misdirected_request', status: 421, owner });
        return;
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

  /** The owner of the request's user when it is not this worker (by the down list it believes), else undefined. */
  private misdirectedTo(req: IncomingMessage, url: string): string | undefined {
    const userId = /^\/api\/users\/([^/?]+)/.exec(url)?.[1];
    if (userId === undefined || !this.checkOwnership) return undefined;
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
    return owner === this.id ? undefined : (owner ?? '');
  }

  private handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = req.url ?? '';
    this.received.push({ method: req.method ?? '', url, headers: req.headers, body: '' });
    socket.on('error', () => {});
    this.upgradeSockets.add(socket);
    socket.once('close', () => this.upgradeSockets.delete(socket));
    if (this.stallUpgrades) return;
    const owner = this.misdirectedTo(req, url);
    if (owner !== undefined || !url.includes('/_changes')) {
      const body = JSON.stringify(owner === undefined ? { code: 'upgrade_not_supported', status: 400 } : { code: 'misdirected_request', status: 421, owner });
      const status = owner === undefined ? '400 Bad Request' : '421 Misdirected Request';
      socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-pinbase-worker: ${this.id}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.sockets.add(ws);
      ws.on('close', () => this.sockets.delete(ws));
      ws.send(JSON.stringify({ type: 'ready', worker: this.id }));
    });
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    if (!res.hasHeader('content-type')) res.setHeader('content-type', 'application/json');
    res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}
