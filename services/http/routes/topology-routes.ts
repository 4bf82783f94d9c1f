import type { FastifyRequest } from 'fastify';
import type { Topology } from '../../topology/topology.js';
import { topologyResponse } from '../response-schemas.js';
import { errorResponses, userParams } from '../schemas.js';
import { USER_BASE, type ApiInstance } from './route-context.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The ownership check verifies the router's down list for this route even when it does not change the owner. */
    reportsDown?: boolean;
  }
}

export interface TopologyContext {
  /** The topology this worker routes by; undefined when it runs without a topology file (it then serves every user). */
  topology(): Topology | undefined;
  /** The router's down list for this request when its signed hint verified (see services/worker/ownership.ts); else empty. */
  believedDown(request: FastifyRequest): readonly string[];
}

/**
 * GET /_topology (contract C1): what a client that routes straight to the
 * owner needs, the workers and their URLs, as this worker knows them, and
 * the workers the router reports down. Authenticated like any read of the
 * user, owner-checked like every user route; it opens no partition and
 * creates no file. Its cost is bounded by the topology's size.
 */
export function topologyRoutes(app: ApiInstance, ctx: TopologyContext): void {
  app.get(
    `${USER_BASE}/_topology`,
    {
      config: { reportsDown: true },
      schema: {
        summary: 'The cluster topology, for a client that sends each request straight to the user\'s worker',
        description:
          '`workers` is the worker\'s topology file (every worker\'s URL: a direct client connects to them); `down` lists the ' +
          'workers the router reports as down, only when the request came through the router (its signed hint), else []. ' +
          'Every answer under /api/users carries X-Pinbase-Topology: <version>, so a client notices a change and reads this again. ' +
          'A read token suffices.',
        tags: ['topology'],
        params: userParams,
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: topologyResponse, ...errorResponses },
      },
    },
    async (request) => {
      const topology = ctx.topology();
      return { version: topology?.version ?? 0, workers: topology?.workers ?? [], down: ctx.believedDown(request) };
    },
  );
}
