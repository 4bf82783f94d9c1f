/**
 * What the client benchmark's orchestrator (run-client-bench.ts) and its
 * load processes (load-loop.ts) agree on: the setups, the plan file a load
 * process reads, the result line it prints.
 */
export const LOAD_SETUPS = ['client-direct', 'client-router', 'ceiling', 'haproxy'] as const;
export type LoadSetup = (typeof LOAD_SETUPS)[number];
export type LoadMethod = 'GET' | 'PUT';

export interface LoadPlan {
  routerUrl: string;
  haproxyUrl: string;
  workers: { id: string; url: string }[];
  users: string[];
  /** Bearer token by user id. */
  tokens: Record<string, string>;
  concurrency: number;
  warmupMs: number;
  seconds: number;
}

export interface LoadResult {
  setup: LoadSetup;
  method: LoadMethod;
  requests: number;
  errors: number;
  /** The first error seen, for the report. */
  firstError: string | undefined;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU (user + system) this load process used per measured request. */
  cpuUsPerRequest: number;
}

export const BENCH_COLLECTION = 'bench';
export const BENCH_OBJECT = 'obj';
export const PUT_BODY = { n: 1, text: 'benchmark' };

