/**
 * How one attempt of a request reaches Pinbase. Two implementations: the
 * fetch transport (router mode; browsers and Node) and the direct transport
 * (Node only, direct-transport.ts: undici pools to the owning workers).
 * Retrying is not a transport's job (retrying-exchange.ts does it).
 */

export type Method = 'GET' | 'PUT' | 'PATCH' | 'POST' | 'DELETE';

export interface ExchangeRequest {
  method: Method;
  /** The user the request is for: what the direct transport routes by. */
  userId: string;
  /** Path and query string, e.g. `/api/users/alice/notes/n1?at=3`. */
  path: string;
  /** Header names in lower case; `authorization` included. */
  headers: Record<string, string>;
  body: string | undefined;
}

export interface ExchangeResponse {
  status: number;
  /** The whole body, as text. */
  body: string;
  /** A response header (name in lower case), or undefined. */
  header(name: string): string | undefined;
}

export interface Transport {
  /**
   * One attempt: resolves with whatever answer the server gave (any
   * status). Rejects with a PinbaseError `network_error` (no answer: refused,
   * reset, broken mid-body) or `timeout` (no answer within `timeoutMs`), both
   * retryable; or with the signal's reason when `signal` aborted.
   */
  send(request: ExchangeRequest, signal: AbortSignal | undefined, timeoutMs: number): Promise<ExchangeResponse>;
  /** Ends kept-alive connections; the transport is not used afterwards. */
  close(): Promise<void>;
}
