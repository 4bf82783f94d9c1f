import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../../services/auth/token-verifier.js';
import { sendRaw } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import {
  checkTenantIsolation,
  createMatrixKeys,
  MATRIX_CREDENTIALS,
  MATRIX_ROUTES,
  sendMatrixRequest,
  type MatrixKeys,
} from '../../support/tenant-isolation-matrix.js';
import { buildTestApp, type TestApp } from '../../support/test-store.js';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process.js';

describe('tenant isolation, directly at a worker (in process, over HTTP)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let keys: MatrixKeys;
  let fixture: TestApp;
  let url: string;
  beforeAll(async () => {
    dir = makeTempDir('pinbase-matrix-');
    keys = await createMatrixKeys(dir.path);
    // A short auth window: the WebSocket rows without a token wait for it to close the socket.
    fixture = await buildTestApp(join(dir.path, 'data'), { tokens: TokenVerifier.fromOptions(keys.verification), socketAuthTimeoutMs: 300 });
    url = await fixture.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await fixture.close();
    dir.remove();
  });

  it('covers every user route the worker serves (a route added later must join the matrix)', async () => {
    const docs = await buildTestApp(join(dir.path, 'docs-data'), { docs: true });
    try {
      const spec = JSON.parse((await docs.app.inject({ method: 'GET', url: '/docs/json' })).body) as { paths: Record<string, object> };
      const served = Object.entries(spec.paths)
        .filter(([path]) => path.startsWith('/api/users/'))
        .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
      expect(served.length).toBeGreaterThan(0);
      // The most specific template first (fewest parameters), as the router of fastify picks it.
      const templates = Object.keys(spec.paths).sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
      const covered = new Set(
        MATRIX_ROUTES.map((route) => {
          const path = route.path('alice', 's0').split('?')[0]!;
          const template = templates.find((t) => new RegExp(`^${t.replace(/\{\*\}|\{pointer\}/g, '.+').replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));
          return `${route.method} ${template}`;
        }),
      );
      expect(served.filter((operation) => !covered.has(operation))).toEqual([]);
    } finally {
      await docs.close();
    }
  });

  it('answers every route × credential as the matrix says, and a refusal writes and creates nothing', async () => {
    const rows = await checkTenantIsolation({ url, dataDir: join(dir.path, 'data') }, keys);
    expect(rows.length).toBeGreaterThanOrEqual(MATRIX_ROUTES.length * MATRIX_CREDENTIALS.length);
  }, 120_000);
});

describe('tenant isolation, at a real worker process', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let keys: MatrixKeys;
  let worker: WorkerProcess;
  let output = '';
  beforeAll(async () => {
    dir = makeTempDir('pinbase-matrix-process-');
    keys = await createMatrixKeys(dir.path);
    worker = await startWorkerProcess({
      id: 'w1',
      dataDir: join(dir.path, 'data'),
      // trace: every line fastify and the worker can log about a request is written, and checked below.
      args: [...keys.workerArgs, '--log-level', 'trace', '--idle-close', '10m'],
      onOutput: (chunk) => (output += chunk),
    });
  });
  afterAll(async () => {
    await worker.stop('SIGKILL');
    dir.remove();
  });

  it('answers the matrix for the objects, the SSE feed with access_token and transactions', async () => {
    const routes = MATRIX_ROUTES.filter((r) => ['GET object', 'PUT object', 'GET _changes (SSE, access_token)', 'POST _tx'].includes(r.name));
    await checkTenantIsolation({ url: worker.url, dataDir: join(dir.path, 'data') }, keys, { routes });
  }, 120_000);

  it('never writes a token to its log, even for a request it cannot parse or route', async () => {
    const token = await keys.hs({ sub: 'alice' });
    const sse = MATRIX_ROUTES.find((r) => r.name === 'GET _changes (SSE, access_token)')!;
    expect((await sendMatrixRequest(worker.url, sse, 'alice', 'log', token)).status).toBe(200);
    // A request line Node cannot parse (a bad header) carrying the token in its URL: fastify logs the parse error.
    const raw = await sendRaw(worker.url, `GET /api/users/alice/_changes?access_token=${token} HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    // A route that does not exist, and a route that does not take the query token.
    const notFound = await sendRaw(worker.url, `GET /nope?access_token=${token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(notFound).toContain('access_token=REDACTED');
    expect(notFound).not.toContain(token);
    await sendRaw(worker.url, `GET /api/users/alice/notes/n1?access_token=${token} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    // pino writes synchronously: once the parse error's trace line is out, every line before it is too.
    await worker.process.waitFor(/client error/);
    await sleep(300);
    await worker.stop('SIGKILL');
    expect(output).toMatch(/"level":(10|20)/); // the detailed levels were written
    const logged = withBuffersDecoded(output);
    expect(logged).toContain('HPE_INVALID_HEADER_TOKEN');
    expect(logged).not.toContain(token.split('.')[2]);
    expect(logged).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});

/** Log text with every serialized Buffer (`{"type":"Buffer","data":[...]}`, e.g. a parse error's raw bytes) decoded beside it. */
function withBuffersDecoded(text: string): string {
  const decoded = [...text.matchAll(/"type":"Buffer","data":\[([\d,]*)\]/g)].map((m) => Buffer.from(m[1]!.split(',').map(Number)).toString('latin1'));
  return [text, ...decoded].join('\n');
}
