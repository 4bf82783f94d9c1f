import { notFound } from '../../query/index-builder.js';
import type { IndexEntry } from '../../query/index-catalog.js';
import { formatFieldPath, parseFieldPath, type FieldPath } from '../../query/field-path.js';
import { PinbaseError } from '../../problem/pinbase-error.js';
import { errorResponses, indexBody, indexListParams, indexParams, indexResponse } from '../schemas.js';
import { indexList } from '../response-schemas.js';
import { USER_BASE, type ApiInstance, type RouteContext } from './route-context.js';

const INDEXES = `${USER_BASE}/_indexes`;
const INDEX = `${INDEXES}/:collection/:name`;

const INDEX_DESCRIPTION =
  'An index covers the current, undeleted version of each object of the collection; queries use it once it is ' +
  '`ready` (snapshot `at=` queries and history never use indexes). Every write to the collection also updates ' +
  'each of its indexes, so each costs write time: a user has at most 64.';

/** PUT / DELETE / GET of secondary indexes (services/query/index-builder.ts). */
export function indexRoutes(app: ApiInstance, ctx: RouteContext): void {
  app.put(
    INDEX,
    {
      config: { bodyErrorCode: 'invalid_index' },
      schema: {
        summary: 'Create a secondary index on JSON fields of a collection (optionally unique)',
        description:
          `${INDEX_DESCRIPTION} A collection of at most 500 objects is indexed at once (201, state ready); a larger one ` +
          'is indexed in the background, 500 objects per step between other writes (202, state building; follow ' +
          'Location). The same definition again answers the index as it is (200); another definition under the same ' +
          'name is 409 index_exists. A unique index refuses a write that would give two live objects the same values ' +
          '(409 unique_violation); if the objects already break it, its creation is 409 unique_violation (small ' +
          'collection) or its build ends in state failed (background).',
        tags: ['indexes'],
        params: indexParams,
        body: indexBody,
        response: { 200: indexResponse, 201: indexResponse, 202: indexResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { userId, collection, name } = request.params;
      const paths = parsePaths(request.body.paths);
      const { entry, created } = await ctx.store.putIndex(userId, { collection, name, paths, unique: request.body.unique });
      if (created) reply.header('location', indexLocation(userId, entry));
      return reply.code(!created ? 200 : entry.state === 'ready' ? 201 : 202).send(showIndex(entry));
    },
  );

  app.delete(
    INDEX,
    {
      schema: {
        summary: 'Delete a secondary index (a build in progress stops)',
        tags: ['indexes'],
        params: indexParams,
        response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { userId, collection, name } = request.params;
      await ctx.store.deleteIndex(userId, collection, name);
      return reply.code(204).send();
    },
  );

  app.get(
    INDEXES,
    {
      schema: {
        summary: 'List the user\'s secondary indexes with their state (building, ready, failed)',
        description: INDEX_DESCRIPTION,
        tags: ['indexes'],
        params: indexListParams,
        response: { 200: indexList, ...errorResponses },
      },
    },
    async (request) => {
      // At most MAX_INDEXES rows.
      const entries = await ctx.store.read(request.params.userId, (view) => view.indexes());
      return { items: entries.map(showIndex) };
    },
  );

  app.get(
    INDEX,
    {
      schema: {
        summary: 'One secondary index with its state (building with progress, ready, or failed with the reason)',
        tags: ['indexes'],
        params: indexParams,
        response: { 200: indexResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { userId, collection, name } = request.params;
      const entry = await ctx.store.read(userId, (view) => view.index(collection, name));
      if (entry === undefined) throw notFound(collection, name);
      return showIndex(entry);
    },
  );
}

/** The body's paths, each validated (invalid_index), without duplicates. */
function parsePaths(texts: readonly string[]): FieldPath[] {
  const paths = texts.map((text) => parseFieldPath(text, 'invalid_index'));
  const seen = new Set<string>();
  for (const path of paths) {
    const text = formatFieldPath(path);
    if (seen.has(text)) throw new PinbaseError('invalid_index', `path "${text}" appears twice`);
    seen.add(text);
  }
  return paths;
}

function indexLocation(userId: string, entry: IndexEntry): string {
  return `/api/users/${userId}/_indexes/${entry.collection}/${entry.name}`;
}

function showIndex(entry: IndexEntry): Record<string, unknown> {
  return {
    collection: entry.collection,
    name: entry.name,
    paths: entry.paths.map(formatFieldPath),
    unique: entry.unique,
    state: entry.state,
    ...(entry.state === 'building' ? { builtThrough: entry.builtThrough ?? '' } : {}),
    ...(entry.error === null ? {} : { error: entry.error }),
    createdAt: new Date(entry.createdAt).toISOString(),
  };
}
