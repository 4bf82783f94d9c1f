/**
 * Reference proxies for the proxy-floor benchmark, NOT part of the product:
 * each forwards /api/users/<id>/... to the owning worker (the same
 * placement as the router) and does nothing else: no health checks, no
 * retries, no limits, no metrics, no error answers beyond a bare 502.
 *
 *   node dist/bench/router/reference-proxy.js undici|raw PORT TOPOLOGY_FILE
 *
 * - `undici`: a node:http server forwarding with undici Pool.dispatch, the
 *   router's own stack with nothing of the router's on top;
 * - `raw`: a node:http server forwarding over kept-alive net.Sockets with a
 *   minimal HTTP/1.1 client (responses with Content-Length only, as the
 *   workers' object answers are), to show what undici itself costs.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { Placement } from '../../services/topology/placement.js';

const [mode, portText, topologyFile] = process.argv.slice(2);
const topology = JSON.parse(readFileSync(topologyFile!, 'utf8')) as { workers: { id: string; url: string }[] };
const placement = new Placement(topology.workers.map((w) => w.id));
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

function readBody(req: IncomingMessage, then: (body: Buffer | null) => void): void {
  if (req.headers['content-length'] === undefined) {
    req.resume();
    then(null);
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => then(Buffer.concat(chunks)));
}

function undiciProxy(): (req: IncomingMessage, res: ServerResponse, workerId: string) => void {
  const pools = new Map(topology.workers.map((w) => [w.id, new Pool(w.url, { connections: 128 })]));
  return (req, res, workerId) =>
    readBody(req, (body) => {
      const headers: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!;
        if (!HOP_BY_HOP.has(name.toLowerCase()) && name.toLowerCase() !== 'content-length') headers.push(name, req.rawHeaders[i + 1]!);
      }
      pools.get(workerId)!.dispatch(
        { path: req.url!, method: req.method!, headers, body },
        {
          onConnect: () => undefined,
          onError: () => {
            res.statusCode = 502;
            res.end();
          },
          onHeaders: (status, raw) => {
            const out: string[] = [];
            for (let i = 0; i < raw.length; i += 2) {
              const name = raw[i]!.toString('latin1');
              if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, raw[i + 1]!.toString('latin1'));
            }
            res.writeHead(status, out);
            return true;
          },
          onData: (chunk) => res.write(chunk) || true,
          onComplete: () => res.end(),
        },
      );
    });
}

/** One kept-alive upstream connection, one request at a time. */
class RawConnection {
  private pending: Buffer | null = null;
  private res: ServerResponse | null = null;
  private remaining = 0;
  private readonly socket: Socket;

  constructor(
    port: number,
    private readonly idle: RawConnection[],
  ) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (data: Buffer) => this.onData(data));
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => this.fail());
  }

  send(req: IncomingMessage, body: Buffer | null, res: ServerResponse): void {
    this.res = res;
    this.remaining = -1;
    let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      const lower = name.toLowerCase();
      if (!HOP_BY_HOP.has(lower) && lower !== 'content-length') head += `${name}: ${req.rawHeaders[i + 1]}\r\n`;
    }
    if (body !== null) head += `content-length: ${body.length}\r\n`;
    this.socket.cork();
    this.socket.write(`${head}\r\n`, 'latin1');
    if (body !== null) this.socket.write(body);
    this.socket.uncork();
  }

  private onData(data: Buffer): void {
    const res = this.res;
    if (res === null) return;
    if (this.remaining < 0) {
      const buffered: Buffer = this.pending === null ? data : Buffer.concat([this.pending, data]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) {
        this.pending = buffered;
        return;
      }
      this.pending = null;
      const lines = buffered.toString('latin1', 0, end).split('\r\n');
      const headers: string[] = [];
      let length = 0;
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i]!.indexOf(':');
        const name = lines[i]!.slice(0, colon);
        const value = lines[i]!.slice(colon + 1).trim();
        const lower = name.toLowerCase();
        if (lower === 'content-length') length = Number(value);
        if (!HOP_BY_HOP.has(lower)) headers.push(name, value);
      }
      res.writeHead(Number(lines[0]!.slice(9, 12)), headers);
      this.remaining = length;
      data = buffered.subarray(end + 4);
    }
    if (data.length > 0) {
      res.write(data);
      this.remaining -= data.length;
    }
    if (this.remaining <= 0) {
      this.res = null;
      res.end();
      this.idle.push(this);
    }
  }

  private fail(): void {
    const index = this.idle.indexOf(this);
    if (index >= 0) this.idle.splice(index, 1);
    if (this.res !== null && !this.res.headersSent) {
      this.res.statusCode = 502;
      this.res.end();
    }
    this.res = null;
  }
}

function rawProxy(): (req: IncomingMessage, res: ServerResponse, workerId: string) => void {
  const pools = new Map(topology.workers.map((w) => [w.id, { port: Number(new URL(w.url).port), idle: [] as RawConnection[] }]));
  return (req, res, workerId) =>
    readBody(req, (body) => {
      const pool = pools.get(workerId)!;
      const connection = pool.idle.pop() ?? new RawConnection(pool.port, pool.idle);
      connection.send(req, body, res);
    });
}

const forward = mode === 'raw' ? rawProxy() : mode === 'undici' ? undiciProxy() : undefined;
if (forward === undefined) {
  process.stderr.write('usage: reference-proxy.js undici|raw PORT TOPOLOGY_FILE\n');
  process.exit(2);
}
createServer((req, res) => {
  const userId = req.url!.split('/')[3] ?? '';
  forward(req, res, placement.owner(userId)!);
}).listen(Number(portText), '127.0.0.1');
