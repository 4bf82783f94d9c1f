import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseJsonPatch } from '../../partition/json-patch.js';
import { parsePointer, resolvePointer } from '../../partition/json-pointer.js';
import type { StoredVersion } from '../../partition/object-reads.js';
import type { JsonObject, ObjectPatch, WriteRequest } from '../../partition/write-request.js';
import { PinbaseError } from '../../problem/pinbase-error.js';
import { entityTag, parseEntityTags, parsePrecondition } from '../conditional-headers.js';
import { idempotencyClaim } from '../idempotency-key.js';
import { ACCEPT_PATCH, JSON_PATCH_MEDIA_TYPE, PATCH_MEDIA_TYPES } from '../json-body.js';
import {
  documentBody,
  errorResponses,
  historyQuery,
  objectParams,
  objectPatchBodies,
  pointerParams,
  snapshotQuery,
  writeHeaders,
} from '../schemas.js';
import { documentResponse, emptyResponse, historyPage, jsonValueResponse, writeResponse } from '../response-schemas.js';
import { sendWriteOutcome } from '../write-reply.js';
import { USER_BASE, type ApiInstance, type RouteContext } from './route-context.js';

const OBJECT = `${USER_BASE}/:collection/:id`;

/** GET / PUT / PATCH / DELETE of one object, reads inside it by JSON pointer, and its version history. */
export function objectRoutes(app: ApiInstance, ctx: RouteContext): void {
  app.get(
    OBJECT,
    {
      schema: {
        summary: 'Read an object (optionally as of a snapshot)',
        tags: ['objects'],
        params: objectParams,
        querystring: snapshotQuery,
        response: { 200: documentResponse, 304: { ...emptyResponse, description: 'Not modified (If-None-Match)' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { userId, collection, id } = request.params;
      const { at } = request.query;
      const version = await readVersion(ctx, reply, userId, collection, id, at);
      reply.header('accept-patch', ACCEPT_PATCH);
      const ifNoneMatch = parseEntityTags(request.headers['if-none-match'], 'If-None-Match');
      if (ifNoneMatch === '*' || ifNoneMatch?.includes(version.rev)) return reply.code(304).send();
      return reply.type('application/json; charset=utf-8').send(version.body);
    },
  );

  app.get(
    `${OBJECT}/*`,
    {
      schema: {
        summary: 'Read a value inside an object by JSON pointer (e.g. /address/city)',
        tags: ['objects'],
        params: pointerParams,
        querystring: snapshotQuery,
        response: { 200: jsonValueResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { params } = request;
      const { at } = request.query;
      const tokens = parsePointer(`/${params['*']}`);
      const version = await readVersion(ctx, reply, params.userId, params.collection, params.id, at);
      const value = resolvePointer(JSON.parse(version.body!), tokens);
      if (value === undefined) throw new PinbaseError('path_not_found', `no value at /${params['*']}`);
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(value));
    },
  );

  app.get(
    `${OBJECT}/_history`,
    {
      schema: {
        summary: 'The versions of one object, newest first (within the retention window)',
        tags: ['objects'],
        params: objectParams,
        querystring: historyQuery,
        response: { 200: historyPage, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { userId, collection, id } = request.params;
      const { query } = request;
      // A page ends at `limit` versions or at the store's page byte budget, whichever comes first.
      const { page, seq } = await ctx.store.read(userId, (view) => ({
        page: view.history(collection, id, { before: query.before, limit: query.limit }),
        seq: view.seq,
      }));
      reply.header('x-pinbase-seq', String(seq));
      if (page.items.length === 0 && query.before === undefined) {
        throw new PinbaseError('object_not_found', `${collection}/${id} has no versions`);
      }
      const entries = page.items.map(
        (v) =>
          `{"rev":${v.rev},"deleted":${v.deleted},"committedAt":"${new Date(v.committedAt).toISOString()}","data":${v.body ?? 'null'}}`,
      );
      const next = page.more ? page.items[page.items.length - 1]!.rev : null;
      return reply.type('application/json; charset=utf-8').send(`{"versions":[${entries.join(',')}],"next":${next}}`);
    },
  );

  // PUT, PATCH and DELETE: the same target and headers, and the same answer.
  const writeSchema = (summary: string) => ({ summary, tags: ['objects'], params: objectParams, headers: writeHeaders });
  const commit = async (request: FastifyRequest, reply: FastifyReply, userId: string, write: WriteRequest) =>
    sendWriteOutcome(reply, userId, await ctx.store.write(userId, write, idempotencyClaim(request)));

  app.put(
    OBJECT,
    {
      schema: {
        ...writeSchema('Create or replace an object (If-Match / If-None-Match: * for compare-and-set)'),
        body: documentBody,
        response: { 200: writeResponse, 201: writeResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { userId, collection, id } = request.params;
      const precondition = parsePrecondition(request.headers);
      return commit(request, reply, userId, { op: 'put', collection, id, document: request.body, precondition });
    },
  );

  app.patch(
    OBJECT,
    {
      onRequest: async (_request, reply) => {
        reply.header('accept-patch', ACCEPT_PATCH);
      },
      // Before the schema: a malformed JSON Patch is 400 invalid_patch naming the operation at fault.
      preValidation: async (request) => {
        patchOf(request);
      },
      schema: {
        ...writeSchema('Update an object with a JSON Merge Patch (RFC 7396) or a JSON Patch (RFC 6902)'),
        description:
          'The Content-Type picks the kind: `application/merge-patch+json` (or `application/json`) for a merge patch, ' +
          '`application/json-patch+json` for a JSON Patch. A JSON Patch applies all its operations or none: a `test` that ' +
          'does not hold is 409 `patch_test_failed`, an operation whose target does not exist 409 `patch_conflict` ' +
          '(RFC 5789 §2.2: the patch cannot be applied to the current state); with If-Match, a stale rev is still 412.',
        body: objectPatchBodies,
        response: { 200: writeResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { userId, collection, id } = request.params;
      const precondition = parsePrecondition(request.headers);
      return commit(request, reply, userId, { op: 'patch', collection, id, patch: patchOf(request), precondition });
    },
  );

  app.delete(
    OBJECT,
    {
      schema: {
        ...writeSchema('Delete an object (its history is kept for the retention window)'),
        response: { 200: writeResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { userId, collection, id } = request.params;
      const precondition = parsePrecondition(request.headers);
      return commit(request, reply, userId, { op: 'delete', collection, id, precondition });
    },
  );
}

/**
 * The patch a PATCH request carries, by its media type: a JSON Patch
 * (checked: invalid_patch, forbidden_key) or a merge patch (an object, as
 * the body parser ensures). Any other media type is 415, even one whose
 * body another route takes: this route's schemas cover these three only.
 */
function patchOf(request: FastifyRequest): ObjectPatch {
  const mediaType = request.mediaType ?? '';
  if (!PATCH_MEDIA_TYPES.has(mediaType)) {
    throw new PinbaseError('unsupported_media_type', `PATCH takes ${ACCEPT_PATCH} (or application/json, as a merge patch)`);
  }
  return mediaType === JSON_PATCH_MEDIA_TYPE ? parseJsonPatch(request.body) : (request.body as JsonObject);
}

/**
 * The live version of an object at `at` (latest if undefined), with ETag,
 * Last-Modified and X-Pinbase-Seq set; object_not_found if there is none.
 */
async function readVersion(
  ctx: RouteContext,
  reply: FastifyReply,
  userId: string,
  collection: string,
  id: string,
  at: number | undefined,
): Promise<StoredVersion> {
  const { version, seq } = await ctx.store.read(userId, (view) => {
    if (at !== undefined) view.assertSnapshot(at);
    return { version: view.object(collection, id, at), seq: at ?? view.seq };
  });
  reply.header('x-pinbase-seq', String(seq));
  if (!version || version.deleted) throw new PinbaseError('object_not_found', `${collection}/${id} does not exist`);
  reply.header('etag', entityTag(version.rev));
  reply.header('last-modified', new Date(version.committedAt).toUTCString());
  return version;
}
