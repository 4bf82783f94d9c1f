import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient, RequestFailure, TokenSource } from '../../../services/cli/cluster-client.js';
import { exportTenantToFile } from '../../../services/cli/tenant-transfer.js';
import { makeTempDir } from '../../support/temp-dir.js';

const HEADER = '{"type":"header","format":"pinbase-export","version":1,"user":"u","seq":7}\n';
const V = '{"type":"version","collection":"c","id":"a","rev":1,"deleted":false,"committedAt":1,"data":{}}\n';
const SQLITE = Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(4080, 1)]);

/** What the fake router answers for each user's export. */
const EXPORTS: Record<string, { type: string; body: Buffer | string; length?: number }> = {
  whole: { type: 'application/x-ndjson', body: `${HEADER}${V}${V}{"type":"end","count":2}\n` },
  noend: { type: 'application/x-ndjson', body: `${HEADER}${V}${V}` },
  miscount: { type: 'application/x-ndjson', body: `${HEADER}${V}{"type":"end","count":2}\n` },
  foreign: { type: 'application/x-ndjson', body: `{"hello":1}\n${V}{"type":"end","count":1}\n` },
  db: { type: 'application/vnd.sqlite3', body: SQLITE },
  notdb: { type: 'application/vnd.sqlite3', body: Buffer.alloc(4096, 2) },
  cutdb: { type: 'application/vnd.sqlite3', body: SQLITE.subarray(0, 1000), length: SQLITE.length },
};

describe('an export is written under its final name only when complete', () => {
  let server: Server;
  let client: ClusterClient;
  let dir: ReturnType<typeof makeTempDir>;
  beforeAll(async () => {
    dir = makeTempDir();
    server = createServer((req, res) => {
      const user = /^\/api\/users\/(\w+)\/_export/.exec(req.url ?? '')?.[1] ?? '';
      const entry = EXPORTS[user];
      if (entry === undefined) {
        res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"code":"user_not_found","detail":"no such user"}');
        return;
      }
      const length = entry.length ?? Buffer.byteLength(entry.body);
      res.writeHead(200, { 'content-type': entry.type, 'content-length': length, 'x-pinbase-seq': '7' });
      // A body shorter than its Content-Length: the connection is cut after it.
      if (length > Buffer.byteLength(entry.body)) res.write(entry.body, () => res.destroy());
      else res.end(entry.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = new ClusterClient(`http://127.0.0.1:${port}`, TokenSource.resolve('t', undefined), 5000);
  });
  afterAll(async () => {
    await client.close();
    server.close();
    dir.remove();
  });

  it('renames a complete NDJSON or SQLite export into place, with its seq, size and sha256', async () => {
    const ndjson = await exportTenantToFile(client, 'whole', 'ndjson', false, join(dir.path, 'whole.ndjson'));
    expect(ndjson).toMatchObject({ seq: 7, bytes: Buffer.byteLength(EXPORTS.whole!.body) });
    expect(readFileSync(join(dir.path, 'whole.ndjson'), 'utf8')).toBe(EXPORTS.whole!.body);
    const sqlite = await exportTenantToFile(client, 'db', 'sqlite', false, join(dir.path, 'db.sqlite'));
    expect(sqlite.bytes).toBe(SQLITE.length);
    expect(sqlite.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each(['noend', 'miscount', 'foreign', 'notdb', 'cutdb'])('refuses the incomplete export "%s" and leaves no file behind', async (user) => {
    const file = join(dir.path, `${user}.out`);
    const failure = await exportTenantToFile(client, user, EXPORTS[user]!.type.endsWith('sqlite3') ? 'sqlite' : 'ndjson', false, file).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RequestFailure);
    expect((failure as RequestFailure).retryable).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(dir.path).filter((name) => name.startsWith(user))).toEqual([]);
  });

  it('reports a refusal with the problem code and does not retry a 4xx', async () => {
    const failure = (await exportTenantToFile(client, 'nobody', 'ndjson', false, join(dir.path, 'nobody.ndjson')).catch((e: unknown) => e)) as RequestFailure;
    expect(failure.message).toBe('404 user_not_found: no such user');
    expect(failure.retryable).toBe(false);
  });
});
