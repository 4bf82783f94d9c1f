/**
 * Serves the browser test's page from 127.0.0.1: the page's own files
 * (test/system/browser/page/) at `/`, and the client's compiled ES modules
 * (dist/services/, where the client and anything it imports are) at
 * `/dist/services/`, as a static host of a browser app would. Nothing
 * outside those two folders is served (404), and GET/HEAD only.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../../..');
const PAGE_DIR = join(ROOT, 'test/system/browser/page');
const DIST_DIR = join(ROOT, 'dist/services');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
};

export class PageServer {
  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {}

  /** Listens on `port` (127.0.0.1); the page's origin is `http://127.0.0.1:<port>`. */
  static async start(port: number): Promise<PageServer> {
    const server = createServer((req, res) => {
      void serve(req.method ?? 'GET', req.url ?? '/').then(({ status, type, body }) => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
    });
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(port, '127.0.0.1', done);
    });
    return new PageServer(server, `http://127.0.0.1:${port}`);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((done) => this.server.close(() => done()));
  }
}

async function serve(method: string, url: string): Promise<{ status: number; type: string; body: string | Buffer }> {
  const notFound = { status: 404, type: 'text/plain', body: 'not found' };
  if (method !== 'GET' && method !== 'HEAD') return { status: 405, type: 'text/plain', body: 'method not allowed' };
  const path = decodeURIComponent(new URL(url, 'http://page').pathname);
  const [dir, rest] = path.startsWith('/dist/services/') ? [DIST_DIR, path.slice('/dist/services/'.length)] : [PAGE_DIR, path === '/' ? 'index.html' : path.slice(1)];
  const file = resolve(dir, rest);
  if (!file.startsWith(dir + sep)) return notFound;
  try {
    return { status: 200, type: TYPES[extname(file)] ?? 'application/octet-stream', body: await readFile(file) };
  } catch {
    return notFound;
  }
}
