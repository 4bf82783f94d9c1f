import type { ChangeEvent } from './types.js';

/** What one connection of the change feed delivers: where it starts, then one message per commit. */
export type FeedMessage = { kind: 'ready'; seq: number } | { kind: 'change'; event: ChangeEvent };

/**
 * Thrown by a WebSocket connection that never opened: the upgrade was
 * refused (a server or proxy without WebSocket, or an HTTP error the
 * browser does not show). The feed then tries SSE, which reports why.
 */
export class WebSocketRefused extends Error {
  constructor() {
    super('the WebSocket was not opened');
    this.name = 'WebSocketRefused';
  }
}

/** Where a connection of the feed is made. */
export interface FeedTarget {
  /** The router's base URL (http: or https:). */
  baseUrl: string;
  userId: string;
  /** Deliver commits after this seq; undefined: from the latest commit on. */
  since: number | undefined;
  /** Instead of since: resume inside a large commit, after the part that gave this cursor. */
  cursor: string | undefined;
  includeData: boolean;
  /** The bearer token, or undefined without authentication. */
  token: string | undefined;
  signal: AbortSignal;
  /** WebSocket: the most commits that may wait for the consumer (see ChangesOptions.maxBuffered). */
  maxBuffered: number;
}

/** The query string of a feed connection. */
export function feedQuery(target: FeedTarget): string {
  const params: string[] = [];
  if (target.cursor !== undefined) params.push(`cursor=${encodeURIComponent(target.cursor)}`);
  else if (target.since !== undefined) params.push(`since=${target.since}`);
  if (target.includeData) params.push('includeData=true');
  return params.length === 0 ? '' : `?${params.join('&')}`;
}
