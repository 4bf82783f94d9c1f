import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { FromSchema } from 'json-schema-to-ts';
import { requireUserTokens } from '../auth/request-auth.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import { assertOneHost, clientErrorHandler, edgeServerOptions, ignoreUnknownExpectations, refuseConnect, type EdgeTimeouts } from './http-edge.js';
import { registerJsonBodies } from './json-body.js';
import { installProblemHandlers, sendProblem, toPinbaseError } from './problem-reply.js';
import { AUTH_TIMEOUT_MS } from './change-socket-protocol.js';
import { corsOptions } from './cors.js';
import { lazyRequestLogger } from './lazy-request-logger.js';
import { RequestSlots } from './request-slots.js';
import { changeRoutes } from './routes/change-routes.js';
import { collectionRoutes } from './routes/collection-routes.js';
import { indexRoutes } from './routes/index-routes.js';
import { objectRoutes } from './routes/object-routes.js';
import { portabilityRoutes } from './routes/portability-routes.js';
import type { ApiInstance, RouteContext, SchemaTypeProvider } from './routes/route-context.js';
import { systemRoutes, type SystemContext } from './routes/system-routes.js';
import { tenantRoutes } from './routes/tenant-routes.js';
import { topologyRoutes } from './routes/topology-routes.js';
import { transactionRoutes } from './routes/transaction-routes.js';
import type { userParams } from './schemas.js';
import { registerWebSockets } from './websocket-upgrade.js';
import { StreamSlots, type StreamLimits } from './stream-slots.js';
import { buildValidatorCompiler } from './validator.js';
import { documentRoute, DOCS_DESCRIPTION, DOCS_TITLE, SWAGGER_UI_OPTIONS } from './api-docs.js';
import type { Topology } from '../topology/topology.js';

/** The status a request is counted with when its client closed the connection before the answer (nginx's 499). */
export const CLIENT_CLOSED_REQUEST = 499;

/** What the ownership check reads of a request: the router's signed hint (X-Pinbase-Down, X-Pinbase-Hint). */
export interface HintedRequest {
  readonly method: string;
  /** The request target as received (path and query): the hint signs it. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** The topology this worker routes by, and whether it serves a user (421 misdirected_request otherwise). */
export interface OwnershipCheck {
  /**
   * Throws PinbaseError misdirected_request unless this worker owns `userId`, given the router's down list if its hint
   * verifies. Returns that down list when `reportDown` and the hint verified (each hint is checked at most once), else [].
   */
  assertOwner(userId: string, request: HintedRequest, reportDown?: boolean): readonly string[];
  readonly current: Topology;
  /** `current.version` as the X-Pinbase-Topology value: computed once per topology change, not per request. */
  readonly topologyHeader: string;
}

/** The requests that get X-Pinbase-Topology (contract C1). */
const USER_PATH_PREFIX = '/api/users/';

export interface RequestMetrics {
  onRequest(): void;
  /**
   * Once per request that onRequest counted: when its response finished, or
   * (status 499) when its connection closed first. `url` is the request's
   * target as sent (its query string included).
   */
  onResponse(method: string, route: string, status: number, seconds: number, url: string): void;
}

export interface AppOptions extends RouteContext, SystemContext, StreamLimits {
  workerId: string;
  ownership: OwnershipCheck | undefined;
  requestMetrics: RequestMetrics;
  /** Largest request body accepted, bytes (413 beyond). */
  bodyLimit: number;
  /**
   * Requests served at once, beyond which new ones get 503 overloaded. A
   * live change stream gives its slot up once it is accepted: streams count
   * against maxStreams and maxStreamsPerUser instead.
   */
  maxInFlight: number;
  /** How long a client may take to send a request, and keep an idle connection (see EdgeTimeouts). */
  timeouts: EdgeTimeouts;
  logger: FastifyServerOptions['loggerInstance'] | boolean;
  /** Serve OpenAPI and Swagger UI at /docs. */
  docs: boolean;
  /** Verifies users' bearer tokens on /api/users/...; undefined serves anyone (loopback or --insecure only). */
  tokens?: TokenVerifier | undefined;
  /** Origins browser apps may call the API from (CORS); none: no CORS headers. */
  corsOrigins?: readonly string[];
  /** How long a change-feed WebSocket without an Authorization header has to send its auth message (default AUTH_TIMEOUT_MS, 5 s). */
  socketAuthTimeoutMs?: number;
}

/**
 * Builds the worker's HTTP app (not listening: worker/worker-server.ts does
 * that; tests use inject()). Every response carries X-Pinbase-Worker; every
 * error is application/problem+json with a stable code.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  // A worker without a topology file serves every user: topology version 0, no workers to route to.
  const topologyHeader = () => options.ownership?.topologyHeader ?? '0';
  const app = Fastify({
    ...(typeof options.logger === 'boolean' ? { logger: options.logger } : { loggerInstance: options.logger }),
    bodyLimit: options.bodyLimit,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyRequestLogger,
    ...edgeServerOptions(options.timeouts),
    clientErrorHandler: clientErrorHandler(options.workerId),
    // fastify's own 503 while closing is plain JSON: the onRequest hook answers shutting_down instead.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 1024 },
    // Errors fastify's router raises before any hook runs (bad percent-encoding, over-long path parameter).
    frameworkErrors: (error, request, reply) => {
      reply.header('x-pinbase-worker', options.workerId);
      if (request.url.startsWith(USER_PATH_PREFIX)) reply.header('x-pinbase-topology', topologyHeader());
      void sendProblem(reply, toPinbaseError(error, request), request.url);
    },
  }) as unknown as FastifyInstance;

  ignoreUnknownExpectations(app.server);
  refuseConnect(app.server, options.workerId);
  app.setValidatorCompiler(buildValidatorCompiler());

  const requestSlots = new RequestSlots(options.maxInFlight);
  const streams = new StreamSlots(options);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Callback hooks rather than async ones on the path of every request: no promise per hook.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-pinbase-worker', options.workerId);
    // Every answer for a user, errors included, so that a direct client notices a topology change.
    if (request.url.startsWith(USER_PATH_PREFIX)) reply.header('x-pinbase-topology', topologyHeader());
    try {
      assertOneHost(request);
    } catch (error) {
      // The connection's next request is not to be trusted either.
      reply.header('connection', 'close');
      return done(error as Error);
    }
    if (closing) {
      reply.header('connection', 'close');
      sendProblem(reply, new PinbaseError('shutting_down', 'the worker is shutting down'), request.url);
      return;
    }
    done();
  });
  // CORS headers on every answer (even a 503 or a 401 must be readable by the page); preflights end here.
  if (options.corsOrigins !== undefined && options.corsOrigins.length > 0) await app.register(cors, corsOptions(options.corsOrigins));

  app.addHook('onRequest', (request, reply, done) => {
    // A response that never finishes gets no onResponse hook: count it when its connection closes, as
    // 499 (the client closed the request first, nginx's code), so that in-flight goes back down.
    // Upgrade requests are counted by websocket-upgrade.ts (101 once upgraded).
    const countIfUnfinished = request.ws
      ? undefined
      : () => {
          if (reply.raw.writableFinished) return;
          options.requestMetrics.onResponse(request.method, request.routeOptions.url ?? 'unmatched', CLIENT_CLOSED_REQUEST, reply.elapsedTime / 1000, request.url);
        };
    if (!requestSlots.enter(request, reply, countIfUnfinished)) {
      sendProblem(reply, new PinbaseError('overloaded', `more than ${options.maxInFlight} requests in flight`), request.url);
      return;
    }
    options.requestMetrics.onRequest();
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    options.requestMetrics.onResponse(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000, request.url);
    done();
  });
  // Upgrade: websocket on GET /_changes only (websocket-upgrade.ts), after the request slot is taken.
  await registerWebSockets(app, options.workerId, options.requestMetrics);

  installProblemHandlers(app);
  registerJsonBodies(app);

  if (options.docs) {
    await app.register(swagger, {
      // The pointer route's `*` documented as a named parameter, {pointer} (api-docs.ts).
      transform: documentRoute,
      openapi: {
        openapi: '3.1.0',
        info: {
          title: DOCS_TITLE,
          version: '1',
          // Markdown: paths in backticks (a bare `<id>` would render as an HTML tag and vanish).
          description: DOCS_DESCRIPTION,
        },
        tags: [
          { name: 'objects', description: 'Versioned JSON objects' },
          { name: 'collections', description: 'Listing and creating' },
          { name: 'transactions', description: 'All-or-nothing optimistic transactions' },
          { name: 'changes', description: 'The change feed (JSON and SSE)' },
          { name: 'indexes', description: 'Secondary indexes on JSON fields' },
          { name: 'tenant', description: 'Whole-tenant operations: revert, erase' },
          { name: 'portability', description: 'Tenant export and import (NDJSON or the SQLite file)' },
          { name: 'topology', description: 'The cluster\'s workers, for clients that route straight to the owner' },
        ],
        // Only the /api/users routes are documented (the others are hidden): each needs the user's token.
        ...(options.tokens === undefined
          ? {}
          : {
              components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
              security: [{ bearerAuth: [] }],
            }),
      },
    });
    // Pinbase's own mark instead of the plugin's default (fastify's logo), and the page's title (api-docs.ts).
    await app.register(swaggerUi, SWAGGER_UI_OPTIONS);
  }

  systemRoutes(app.withTypeProvider<SchemaTypeProvider>(), options);
  // The router's down list of a request whose hint the ownership check verified (routes with config.reportsDown).
  const believedDown = new WeakMap<FastifyRequest, readonly string[]>();
  await app.register(async (scope) => {
    const api: ApiInstance = scope.withTypeProvider<SchemaTypeProvider>();
    // Before the ownership check and anything that reads the body or opens a partition.
    if (options.tokens) requireUserTokens(scope, options.tokens);
    if (options.ownership) {
      const ownership = options.ownership;
      // Every route of this scope is under /api/users/:userId, validated by its schema.
      api.addHook<{ Params: FromSchema<typeof userParams> }>('preHandler', (request, _reply, done) => {
        let down: readonly string[];
        try {
          down = ownership.assertOwner(request.params.userId, request, request.routeOptions.config.reportsDown === true);
        } catch (error) {
          return done(error as Error);
        }
        if (down.length > 0) believedDown.set(request, down);
        done();
      });
    }
    objectRoutes(api, options);
    collectionRoutes(api, options);
    changeRoutes(api, {
      store: options.store,
      heartbeatMs: options.heartbeatMs,
      slots: { streams, requestSlots },
      tokens: options.tokens,
      authTimeoutMs: options.socketAuthTimeoutMs ?? AUTH_TIMEOUT_MS,
    });
    transactionRoutes(api, options);
    indexRoutes(api, options);
    tenantRoutes(api, options);
    topologyRoutes(api, { topology: () => options.ownership?.current, believedDown: (request) => believedDown.get(request) ?? [] });
    // Its own scope: import bodies are streams, not JSON.
    await scope.register(async (inner) => portabilityRoutes(inner, options));
  });
  return app;
}
