import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { TokenVerifier } from '../../../services/auth/token-verifier.js';
import type { OwnershipCheck } from '../../../services/http/app.js';
import type { EdgeTimeouts } from '../../../services/http/http-edge.js';
import type { PartitionStore, StoreOptions } from '../../../services/partition/partition-store.js';
import type { ProblemDocument } from '../../../services/problem/problem-document.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { buildTestApp, RecordedEvents } from '../../support/test-store.js';

/** The worker app over a real store in `<root>/data`, and what its pool reported. */
export interface HttpFixture {
  app: FastifyInstance;
  /** The store under the app (for maintenance an HTTP test cannot trigger, e.g. pruning). */
  store: PartitionStore;
  /** The temp dir that holds the data dir: nothing may appear here outside `dataDir`. */
  root: string;
  dataDir: string;
  /** The size of every group-commit batch, in order. */
  batches: number[];
  close(): Promise<void>;
}

export interface FixtureOptions {
  ownership?: OwnershipCheck;
  maxInFlight?: number;
  maxStreams?: number;
  maxStreamsPerUser?: number;
  timeouts?: Partial<EdgeTimeouts>;
  store?: Partial<StoreOptions>;
  tokens?: TokenVerifier;
  corsOrigins?: readonly string[];
  adminToken?: string;
  docs?: boolean;
  heartbeatMs?: number;
  socketAuthTimeoutMs?: number;
}

/** Starts the app over `<fresh temp dir>/data`, recording the pool's events. */
export async function startHttpFixture(options: FixtureOptions = {}): Promise<HttpFixture> {
  const temp = makeTempDir('pinbase-http-');
  const dataDir = join(temp.path, 'data');
  const events = new RecordedEvents();
  const testApp = await buildTestApp(dataDir, { ...options, store: { events, ...options.store } });
  return {
    app: testApp.app,
    store: testApp.store,
    root: temp.path,
    dataDir,
    batches: events.batches,
    close: async () => {
      await testApp.close();
      temp.remove();
    },
  };
}

/** The JSON body of a response. */
export function body<T = Record<string, unknown>>(response: LightMyRequestResponse): T {
  return JSON.parse(response.body) as T;
}

/**
 * Asserts that `response` is an RFC 9457 problem with `code` (and, when
 * given, `status`) produced by this worker, and returns its body.
 */
export function expectProblem(response: LightMyRequestResponse, code: string, status?: number): ProblemDocument {
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.headers['x-pinbase-worker']).toBe('w-test');
  const problem = body<ProblemDocument>(response);
  expect({ code: problem.code, status: problem.status }).toEqual({ code, status: response.statusCode });
  if (status !== undefined) expect(response.statusCode).toBe(status);
  expect(problem.title).toEqual(expect.any(String));
  expect(problem.title.length).toBeGreaterThan(0);
  return problem;
}

/** The user's latest commit seq, as the change feed reports it. */
export async function latestSeq(app: FastifyInstance, userId: string): Promise<number> {
  const response = await app.inject({ method: 'GET', url: `/api/users/${userId}/_changes?limit=1` });
  expect(response.statusCode).toBe(200);
  return Number(response.headers['x-pinbase-seq']);
}

/** How many versions `_history` lists for an object (0 when it never existed). */
export async function historyLength(app: FastifyInstance, userId: string, path: string): Promise<number> {
  const response = await app.inject({ method: 'GET', url: `/api/users/${userId}/${path}/_history?limit=1000` });
  if (response.statusCode === 404) return 0;
  expect(response.statusCode).toBe(200);
  return body<{ versions: unknown[] }>(response).versions.length;
}

export { listTree } from '../../support/file-tree.js';

/** JSON request options for inject(). */
export function jsonRequest(
  method: 'PUT' | 'PATCH' | 'POST',
  url: string,
  payload: unknown,
  headers: Record<string, string> = {},
): { method: typeof method; url: string; payload: string; headers: Record<string, string> } {
  return { method, url, payload: JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } };
}
