/**
 * What a team would build instead of Pinbase, for the peer benchmark
 * (run-peer-bench.ts): fastify 5 answering
 *   GET /api/users/:userId/:collection/:id   the object's current version (ETag "<version>")
 *   PUT /api/users/:userId/:collection/:id   append a version, move the head (201, {collection, id, rev})
 * from one of two stores:
 *   --store postgres  PostgreSQL over its unix socket, a `pg.Pool` (--pool N connections):
 *                     objects(user_id, collection, id, version, data jsonb) plus a head table;
 *                     a PUT is ONE statement (so one implicit transaction, one round trip) that
 *                     bumps the head row and inserts the new version; PostgreSQL answers only
 *                     after the WAL is flushed (synchronous_commit=on, fsync=on, set by the bench)
 *   --store memory    a Map: no storage at all, the framework's ceiling for these routes
 *
 * The same authentication as a Pinbase worker, so that the comparison is
 * fair: the very same TokenVerifier (services/auth/token-verifier.ts: jose
 * HS256 and its VerifiedTokenCache of verified tokens) built by the same
 * option parser from the same flags (--auth-secret-file, ...), and the same
 * `authorize` (sub = user, or scope service; scope read cannot write), in an
 * onRequest hook as in the worker. The same path patterns (JSON-schema
 * validated), and the same body limit (1 MiB).
 *
 *   node dist/bench/peer/peer-server.js --store postgres --port P --auth-secret-file F --admin-token-file A --cluster-secret-file C --pg-host SOCKET_DIR [--pool 16]
 */
import Fastify from 'fastify';
import pg from 'pg';
import { parseArgs } from 'node:util';
import { parseWorkerAuth, WORKER_AUTH_FLAGS } from '../../services/auth/auth-options.js';
import { authorize, bearerToken } from '../../services/auth/request-auth.js';
import { TokenVerifier } from '../../services/auth/token-verifier.js';
import { COLLECTION_PATTERN, OBJECT_ID_PATTERN, USER_ID_PATTERN } from '../../services/ids/id-patterns.js';

const { values } = parseArgs({
  options: {
    store: { type: 'string' },
    port: { type: 'string' },
    ...WORKER_AUTH_FLAGS,
    'pg-host': { type: 'string' },
    'pg-database': { type: 'string' },
    'pg-user': { type: 'string' },
    pool: { type: 'string' },
  },
});

const tokens = parseWorkerAuth(values, '127.0.0.1').tokens;
if (tokens === undefined) throw new Error('peer-server: --auth-secret-file is required');
const verifier = TokenVerifier.fromOptions(tokens);

interface Head {
  version: number;
  /** The stored JSON text, sent as it is. */
  body: string;
}

interface Store {
  get(userId: string, collection: string, id: string): Promise<Head | undefined>;
  put(userId: string, collection: string, id: string, body: string): Promise<number>;
  close(): Promise<void>;
}

/** PostgreSQL: a head table (the current version of each object) beside the append-only versions. */
async function postgresStore(): Promise<Store> {
  const pool = new pg.Pool({
    host: values['pg-host'],
    database: values['pg-database'] ?? 'bench',
    user: values['pg-user'] ?? 'bench',
    max: Number(values.pool ?? 16),
  });
  await pool.query(`
    CREATE TABLE IF NOT EXISTS objects (
      user_id text NOT NULL, collection text NOT NULL, id text NOT NULL, version bigint NOT NULL, data jsonb NOT NULL,
      PRIMARY KEY (user_id, collection, id, version));
    CREATE TABLE IF NOT EXISTS heads (
      user_id text NOT NULL, collection text NOT NULL, id text NOT NULL, version bigint NOT NULL,
      PRIMARY KEY (user_id, collection, id))`);
  const get = {
    name: 'get',
    text: `SELECT o.version, o.data::text AS body FROM heads h JOIN objects o
             ON o.user_id = h.user_id AND o.collection = h.collection AND o.id = h.id AND o.version = h.version
           WHERE h.user_id = $1 AND h.collection = $2 AND h.id = $3`,
  };
  // One statement: the head's row lock serialises writers of one object; the
  // implicit transaction commits both rows or neither.
  const put = {
    name: 'put',
    text: `WITH head AS (
             INSERT INTO heads (user_id, collection, id, version) VALUES ($1, $2, $3, 1)
             ON CONFLICT (user_id, collection, id) DO UPDATE SET version = heads.version + 1
             RETURNING version)
           INSERT INTO objects (user_id, collection, id, version, data) SELECT $1, $2, $3, version, $4::jsonb FROM head
           RETURNING version`,
  };
  return {
    async get(userId, collection, id) {
      const { rows } = await pool.query<{ version: string; body: string }>({ ...get, values: [userId, collection, id] });
      const row = rows[0];
      return row === undefined ? undefined : { version: Number(row.version), body: row.body };
    },
    async put(userId, collection, id, body) {
      const { rows } = await pool.query<{ version: string }>({ ...put, values: [userId, collection, id, body] });
      return Number(rows[0]!.version);
    },
    close: () => pool.end(),
  };
}

/** Memory: the framework's ceiling (nothing is stored durably). */
function memoryStore(): Store {
  const objects = new Map<string, Head>();
  const key = (userId: string, collection: string, id: string) => `${userId}/${collection}/${id}`;
  return {
    get: (userId, collection, id) => Promise.resolve(objects.get(key(userId, collection, id))),
    put(userId, collection, id, body) {
      const k = key(userId, collection, id);
      const version = (objects.get(k)?.version ?? 0) + 1;
      objects.set(k, { version, body });
      return Promise.resolve(version);
    },
    close: () => Promise.resolve(),
  };
}

const store = values.store === 'postgres' ? await postgresStore() : values.store === 'memory' ? memoryStore() : undefined;
if (store === undefined) throw new Error('peer-server: --store postgres|memory');

const app = Fastify({ bodyLimit: 1 << 20, onProtoPoisoning: 'error', onConstructorPoisoning: 'error' });
const params = {
  type: 'object',
  required: ['userId', 'collection', 'id'],
  properties: {
    userId: { type: 'string', pattern: USER_ID_PATTERN.source },
    collection: { type: 'string', pattern: COLLECTION_PATTERN.source },
    id: { type: 'string', pattern: OBJECT_ID_PATTERN.source },
  },
} as const;
type Params = { userId: string; collection: string; id: string };

const problem = (status: number, code: string) => ({ type: 'about:blank', status, code });

// As in the worker: the token hook covers the /api/users routes only (not /readyz).
app.addHook('onRequest', async (request, reply) => {
  if (!request.url.startsWith('/api/users/')) return;
  const header = request.headers.authorization;
  let token: string | undefined;
  try {
    token = header === undefined ? undefined : bearerToken(header);
    if (token === undefined) return reply.code(401).type('application/problem+json').send(problem(401, 'missing_token'));
    const verified = await verifier.verify(token);
    const refusal = authorize(verified, (request.params as Params).userId, request.method);
    if (refusal !== undefined) return reply.code(403).type('application/problem+json').send(problem(403, refusal.code));
  } catch {
    return reply.code(401).type('application/problem+json').send(problem(401, 'invalid_token'));
  }
});

app.get<{ Params: Params }>('/api/users/:userId/:collection/:id', { schema: { params } }, async (request, reply) => {
  const { userId, collection, id } = request.params;
  const head = await store.get(userId, collection, id);
  if (head === undefined) return reply.code(404).type('application/problem+json').send(problem(404, 'object_not_found'));
  reply.header('etag', `"${head.version}"`);
  return reply.type('application/json; charset=utf-8').send(head.body);
});

app.put<{ Params: Params; Body: Record<string, unknown> }>(
  '/api/users/:userId/:collection/:id',
  { schema: { params, body: { type: 'object' } } },
  async (request, reply) => {
    const { userId, collection, id } = request.params;
    const rev = await store.put(userId, collection, id, JSON.stringify(request.body));
    reply.header('etag', `"${rev}"`);
    return reply.code(201).send({ collection, id, rev });
  },
);

app.get('/readyz', async () => ({ ready: true }));

process.once('SIGTERM', () => {
  void app
    .close()
    .then(() => store.close())
    .then(() => process.exit(0));
});
await app.listen({ port: Number(values.port), host: '127.0.0.1' });
