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

/**
 * The Content-Security-Policy of /docs: @fastify/swagger-ui's, with
 * `frame-ancestors 'none'` instead of `'self'` (no clickjacking of "Try it
 * out"), no image from validator.swagger.io (the validator badge is off) and
 * no font from elsewhere,
 * styles from the page itself and inline (Swagger UI sets them at run time;
 * only https: is dropped), and without `upgrade-insecure-requests`, which
 * would send a plain-HTTP cluster's own scripts to https.
 */
export function strictDocsPolicy(header: string): string {
  return header
    .split(';')
    .map((directive) => directive.trim())
    .filter((directive) => directive !== '' && directive !== 'upgrade-insecure-requests')
    .map((directive) => {
      if (directive.startsWith('frame-ancestors ')) return "frame-ancestors 'none'";
      if (directive.startsWith('img-src ')) return directive.replace(' validator.swagger.io', '');
      if (directive.startsWith('font-src ')) return "font-src 'self' data:";
      // Swagger UI sets inline styles from its script at run time, which no hash can name
      // (a hash in the directive would turn 'unsafe-inline' off); scripts stay by hash only.
      if (directive.startsWith('style-src ')) return "style-src 'self' 'unsafe-inline'";
      return directive;
    })
    .join('; ');
}

/** @fastify/swagger-ui options: the prefix, Pinbase's logo, title and icon (no other static files: the UI is served from the package, no CDN). */
export const SWAGGER_UI_OPTIONS: FastifySwaggerUiOptions = {
  routePrefix: '/docs',
  logo: { type: 'image/svg+xml', content: Buffer.from(LOGO_SVG), href: './', target: '_self' },
  // The plugin's policy (its own scripts and styles, by hash), made stricter: no other page may
  // frame the docs, no request leaves for validator.swagger.io, and plain-HTTP clusters keep working.
  staticCSP: true,
  transformStaticCSP: strictDocsPolicy,
  uiConfig: { validatorUrl: null },
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
