import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { NDJSON_TYPE, SQLITE_TYPE, type PortableFormat } from '../../portability/export-format.js';
import { PinbaseError } from '../../problem/pinbase-error.js';
import { errorResponses, exportQuery, importQuery, userParams } from '../schemas.js';
import { exportResponses, importResult } from '../response-schemas.js';
import { USER_BASE, type ApiInstance, type RouteContext, type SchemaTypeProvider } from './route-context.js';

/**
 * GET /_export and POST /_import: a tenant's data out and back in, as
 * NDJSON (the format in services/portability/export-format.ts) or as its
 * SQLite file. See docs/ARCHITECTURE.md, "Tenant portability".
 */
export async function portabilityRoutes(scope: FastifyInstance, ctx: RouteContext): Promise<void> {
  const app: ApiInstance = scope.withTypeProvider<SchemaTypeProvider>();
  // Import bodies reach the handler as the raw request stream: never buffered,
  // capped by the user quota as they stream (import_too_large). Any other type is 415.
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser([NDJSON_TYPE, SQLITE_TYPE], (request, payload, done) => {
    const coding = request.headers['content-encoding'];
    if (coding !== undefined && coding.trim().toLowerCase() !== 'identity') {
      done(new PinbaseError('unsupported_media_type', `content coding "${coding}" is not supported: send the file uncompressed`));
      return;
    }
    done(null, payload);
  });

  app.get(
    `${USER_BASE}/_export`,
    {
      schema: {
        summary: 'Export the user: a consistent snapshot as NDJSON (default) or its SQLite file (Accept: application/vnd.sqlite3)',
        description:
          'NDJSON: a header line (format, version, user, seq), the index definitions, one line per object (or with ?history=true every ' +
          'retained version), and an end line with the count (a file without it is truncated). The snapshot is the seq when the export ' +
          'starts (X-Pinbase-Seq); writes continue meanwhile. SQLite: a copy made with SQLite\'s online backup. A read token suffices.',
        tags: ['portability'],
        params: userParams,
        querystring: exportQuery,
        response: { 200: exportResponses, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { userId } = request.params;
      const format = acceptedFormat(request.headers.accept);
      if (format === 'sqlite') return sendSqliteExport(ctx, userId, reply);
      const exported = await ctx.store.portability.openExport(userId, request.query.history);
      // However the stream ends (finished, client gone, handover), the partition and the pin are let go.
      reply.raw.once('close', () => exported.close());
      // A handover (or an import) cuts the stream even while the client does not read: no end line, so it is seen as truncated.
      exported.abortWhenInterrupted(() => reply.raw.destroy());
      return reply
        .header('x-pinbase-seq', String(exported.seq))
        .header('content-disposition', `attachment; filename="${userId}-${exported.seq}.ndjson"`)
        .type(NDJSON_TYPE)
        .send(Readable.from(exported.lines(), { objectMode: false }));
    },
  );

  app.post(
    `${USER_BASE}/_import`,
    {
      schema: {
        summary: 'Import an export (NDJSON or SQLite file) into an empty user, or over its data with ?replace=true',
        description:
          'Content-Type application/x-ndjson or application/vnd.sqlite3; at most the user quota (413 import_too_large). The file is ' +
          'checked as hostile input (400 invalid_import says what is wrong) and applied in one commit: all or nothing. 409 ' +
          'tenant_not_empty when the user has objects, unless ?replace=true. The header\'s user may differ from the target.',
        tags: ['portability'],
        params: userParams,
        querystring: importQuery,
        response: { 200: importResult, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { userId } = request.params;
      const format: PortableFormat = mediaType(request.headers['content-type']) === SQLITE_TYPE ? 'sqlite' : 'ndjson';
      try {
        const result = await ctx.store.portability.importTenant(userId, format, request.body as AsyncIterable<Buffer>, request.query.replace);
        reply.header('x-pinbase-seq', String(result.seq));
        return reply.type('application/json; charset=utf-8').send(JSON.stringify(result));
      } catch (error) {
        // The rest of the body is not read: the connection cannot carry another request.
        if (!request.raw.complete) reply.header('connection', 'close');
        throw error;
      }
    },
  );
}

async function sendSqliteExport(ctx: RouteContext, userId: string, reply: FastifyReply): Promise<FastifyReply> {
  const copy = await ctx.store.portability.exportSqlite(userId);
  reply.raw.once('close', () => void copy.remove());
  return reply
    .header('x-pinbase-seq', String(copy.seq))
    .header('content-disposition', `attachment; filename="${userId}-${copy.seq}.sqlite"`)
    .type(SQLITE_TYPE)
    .send(createReadStream(copy.file));
}

function mediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * The format an Accept header asks for: NDJSON when absent or for any type
 * (`*\/*`, `application/*`), SQLite for application/vnd.sqlite3; the first
 * acceptable media range listed wins (q=0 excludes one). Otherwise 406.
 */
export function acceptedFormat(accept: string | undefined): PortableFormat {
  if (accept === undefined || accept.trim() === '') return 'ndjson';
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    if (params.some((param) => /^q=0(\.0*)?$/.test(param))) continue;
    if (type === SQLITE_TYPE) return 'sqlite';
    if (type === NDJSON_TYPE || type === '*/*' || type === 'application/*') return 'ndjson';
  }
  throw new PinbaseError('not_acceptable', `an export is ${NDJSON_TYPE} or ${SQLITE_TYPE}`);
}
