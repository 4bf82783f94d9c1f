/**
 * What the OpenAPI document and Swagger UI at /docs say about Pinbase
 * (registered in app.ts): the title and description, Pinbase's mark in
 * place of the UI plugin's default logo, and the documented form of the
 * JSON-pointer route, whose fastify wildcard (`*`) becomes a named path
 * parameter, `{pointer}`.
 */

import type { FastifySwaggerUiOptions } from '@fastify/swagger-ui';
import type { FastifySchema } from 'fastify';

/** Markdown (Swagger UI renders it): paths in backticks, so that `{userId}` and `<token>` are shown, never taken for HTML. */
export const DOCS_DESCRIPTION = [
  'Versioned JSON documents in one SQLite file per user (tenant): objects in collections with MVCC history, ',
  'reads as of any commit (`?at=<seq>`), all-or-nothing transactions, queries, secondary indexes and a change feed.',
  '',
  '- Every route is under `/api/users/{userId}/`. Through the router, every request for a user reaches the worker that owns it.',
  '- Every error is `application/problem+json` (RFC 9457) with a stable `code`.',
  '- With authentication on, send `Authorization: Bearer <token>`: a JWT whose `sub` is the user, or with the `service` scope.',
  '- This page and its document (`/docs/json`) are served by every worker and, through the router, at the router\'s own `/docs`.',
].join('\n');

/** The name the pointer route's wildcard has in the document. */
const POINTER_PARAM = 'pointer';

/** The title of the Swagger UI page. */
export const DOCS_TITLE = 'Pinbase API';

/** Pinbase's mark in the Swagger UI top bar (replaces the UI plugin's default, fastify's logo). */
const LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="150" height="40" viewBox="0 0 150 40">' +
  '<rect x="2" y="6" width="28" height="28" rx="6" fill="#2f6f4f"/><circle cx="16" cy="20" r="6" fill="#fff"/>' +
  '<text x="38" y="28" font-family="sans-serif" font-size="22" font-weight="700" fill="#fff">Pinbase</text></svg>';
const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2f6f4f"/><circle cx="16" cy="16" r="7" fill="#fff"/></svg>';

/** @fastify/swagger-ui options: the prefix, Pinbase's logo, title and icon (no other static files: the UI is served from the package, no CDN). */
export const SWAGGER_UI_OPTIONS: FastifySwaggerUiOptions = {
  routePrefix: '/docs',
  logo: { type: 'image/svg+xml', content: Buffer.from(LOGO_SVG), href: './', target: '_self' },
  theme: {
    title: DOCS_TITLE,
    favicon: [{ filename: 'favicon.svg', rel: 'icon', sizes: 'any', type: 'image/svg+xml', content: Buffer.from(FAVICON_SVG) }],
  },
};

interface RouteDoc {
  schema: FastifySchema;
  url: string;
}

/**
 * @fastify/swagger's `transform`: the pointer route (`.../:id/*`) is
 * documented as `.../{id}/{pointer}`, its `*` parameter renamed with a
 * description and an example; every other route as it is.
 */
export function documentRoute({ schema, url }: RouteDoc): RouteDoc {
  if (!url.endsWith('/*')) return { schema, url };
  const params = schema.params as { properties?: Record<string, unknown>; required?: string[] } | undefined;
  if (params?.properties?.['*'] === undefined) return { schema, url };
  const { '*': wildcard, ...named } = params.properties;
  const pointer = {
    ...(wildcard as object),
    description:
      'A JSON pointer (RFC 6901) inside the object, without its leading "/": `address/city` reads `/address/city`. ' +
      'Its "/" may be sent as is or percent-encoded (`address%2Fcity`, as OpenAPI clients encode a path parameter); `~1` is a "/" inside a key, `~0` a "~".',
    examples: ['address/city'],
  };
  return {
    url: `${url.slice(0, -1)}:${POINTER_PARAM}`,
    schema: {
      ...schema,
      params: { ...params, properties: { ...named, [POINTER_PARAM]: pointer }, required: (params.required ?? []).map((name) => (name === '*' ? POINTER_PARAM : name)) },
    },
  };
}
