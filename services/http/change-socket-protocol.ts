/**
 * The WebSocket change feed's wire protocol (GET /api/users/:userId/_changes
 * with Upgrade: websocket), written once for the worker, the router and the
 * client. No imports beyond types: browser code may import it.
 *
 * Client → server: at most one text message, the auth message, and only
 * when the upgrade request carried no Authorization header (browsers cannot
 * set one). Server → client: `ready` once authenticated, then one `change`
 * per commit after `since`, and `error` right before a close an error causes.
 */
import type { ProblemDocument } from '../problem/problem-document.js';

/** Close codes (RFC 6455 §7.4: 4000–4999 are the application's). */
export const FEED_CLOSE = {
  /** The worker is shutting down: reconnect (through the router) and resume with since = the last seq seen. */
  shuttingDown: 1001,
  /** A read failed on the worker (the error message says which problem). */
  internalError: 1011,
  /**
   * Over the stream caps once the auth message named the user (429
   * too_many_streams / 503 overloaded; with a header they are refused before
   * the upgrade): retry after a while.
   */
  tryAgainLater: 1013,
  /** A message other than the one auth message, or a malformed one (or, after auth, a bad `since`). */
  badMessage: 4400,
  /** No token, or one that does not verify (or expired). */
  unauthorized: 4401,
  /** The token is for another user. */
  forbidden: 4403,
  /** No auth message within AUTH_TIMEOUT_MS. */
  authTimeout: 4408,
  /**
   * The partition moved (handover, topology change, drain, ownership lost,
   * the user erased): reconnect through the router and resume with since =
   * the last seq seen.
   */
  partitionMoved: 4421,
} as const;

export type FeedCloseCode = (typeof FEED_CLOSE)[keyof typeof FEED_CLOSE];

/** How long the worker waits for the auth message of an upgrade without an Authorization header. */
export const AUTH_TIMEOUT_MS = 5000;

/** The largest message a client may send (the auth message with its token); larger ones close the socket with 1009. */
export const MAX_CLIENT_MESSAGE_BYTES = 8 * 1024;

export interface FeedAuthMessage {
  type: 'auth';
  token: string;
}

/** One change, as in the JSON page and the SSE events (`data` with includeData=true; null for a deletion). */
export interface FeedChange {
  seq: number;
  collection: string;
  id: string;
  deleted: boolean;
  data?: unknown;
}

export type FeedServerMessage =
  | { type: 'ready'; seq: number }
  | { type: 'change'; seq: number; changes: FeedChange[] }
  /** The problem document of the error, its `type` (the problem's URN, urn:pinbase:problem:<code>) replaced by the message type. */
  | ({ type: 'error' } & Omit<ProblemDocument, 'type'>);
