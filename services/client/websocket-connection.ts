import { userPath } from './collection-handle.js';
import { feedQuery, WebSocketRefused, type FeedMessage, type FeedTarget } from './feed-message.js';
import { PinbaseError, type Problem } from './pinbase-error.js';
import type { ChangeEvent } from './types.js';

/** The part of the WHATWG WebSocket the feed uses (browsers', Node 22's global, undici's on Node 20). */
export interface WebSocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket class; `init.headers` is undici's extension (Node), never passed to a browser's. */
export type WebSocketClass = new (url: string, init?: { headers: Record<string, string> }) => WebSocketLike;

/** Close codes of the feed (the worker's and router's contract): the partition moved, or the worker shuts down. */
const RECONNECT_CODES: ReadonlySet<number> = new Set([4421, 1001]);
/** Refusals that end the feed: no or invalid token, token for another user, a malformed message. */
const FATAL_CODES: ReadonlyMap<number, { status: number; code: string; title: string }> = new Map([
  [4401, { status: 401, code: 'invalid_token', title: 'The bearer token is invalid or expired' }],
  [4403, { status: 403, code: 'forbidden', title: 'The token does not grant access to this user' }],
  [4400, { status: 400, code: 'invalid_request', title: 'The server refused a message of the feed' }],
]);

/** The most characters of messages that wait for the consumer, whatever maxBuffered says (one message is always taken). */
const MAX_BUFFERED_CHARS = 16 * 1024 * 1024;

/**
 * Waiting messages of one socket, while the iterator's consumer is busy.
 * A WebSocket has no read back-pressure in the WHATWG API: what the server
 * sends is buffered here. The server sends a commit at a time and waits for
 * its socket to drain, so the backlog is what a slow consumer lets pile up;
 * it is bounded (target.maxBuffered, MAX_BUFFERED_CHARS): a message that
 * would go beyond ends the connection instead, as if the server had said
 * "reconnect", and the feed resumes after the last commit the consumer took.
 */
interface Inbox {
  /** Each waiting message, with the length of its text. */
  messages: { message: FeedMessage; chars: number }[];
  /** The sum of their lengths. */
  chars: number;
  ended: { error: Error | undefined } | undefined;
  wake: (() => void) | undefined;
}

/**
 * One WebSocket connection of the change feed (`ws(s)://…/_changes`). With
 * `headerAuth` (Node) the token goes in the upgrade's Authorization header,
 * else (browsers) in the first message; never in the URL. Yields `ready`
 * and one `change` per commit. Returns on a close that says "reconnect"
 * (4421 partition moved, 1001 going away, 1006 connection lost, …); throws
 * PinbaseError on 4401/4403/4400 (with the problem the server sent before
 * closing), and WebSocketRefused when the socket never opened.
 */
export async function* webSocketConnection(target: FeedTarget, WebSocket: WebSocketClass, headerAuth: boolean): AsyncGenerator<FeedMessage> {
  const url = `${target.baseUrl.replace(/^http/, 'ws')}${userPath(target.userId, '_changes')}${feedQuery(target)}`;
  const socket =
    headerAuth && target.token !== undefined ? new WebSocket(url, { headers: { authorization: `Bearer ${target.token}` } }) : new WebSocket(url);
  const inbox: Inbox = { messages: [], chars: 0, ended: undefined, wake: undefined };
  let opened = false;
  let problem: Problem | undefined;
  const push = (message: FeedMessage, chars: number) => {
    inbox.messages.push({ message, chars });
    inbox.chars += chars;
    inbox.wake?.();
  };
  const finish = (error: Error | undefined) => {
    inbox.ended ??= { error };
    inbox.wake?.();
  };
  socket.onopen = () => {
    opened = true;
    if (!headerAuth && target.token !== undefined) socket.send(JSON.stringify({ type: 'auth', token: target.token }));
  };
  socket.onmessage = (event) => {
    if (typeof event.data !== 'string' || inbox.ended !== undefined) return;
    const text = event.data;
    const waiting = inbox.messages.length;
    if (waiting > 0 && (waiting >= target.maxBuffered || inbox.chars + text.length > MAX_BUFFERED_CHARS)) {
      // The consumer is behind: stop taking messages; what waits is still delivered, then the feed reconnects.
      socket.close(1000, 'client behind');
      return finish(undefined);
    }
    let message: { type?: unknown; seq?: unknown; changes?: unknown; partial?: unknown; cursor?: unknown };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return finish(PinbaseError.client('invalid_response', 'a feed message is not JSON', undefined, false));
    }
    if (message.type === 'ready' && typeof message.seq === 'number') push({ kind: 'ready', seq: message.seq }, text.length);
    else if (message.type === 'change' && typeof message.seq === 'number') {
      const event: ChangeEvent = { seq: message.seq, changes: message.changes as ChangeEvent['changes'] };
      if (message.partial === true && typeof message.cursor === 'string') Object.assign(event, { partial: true, cursor: message.cursor });
      push({ kind: 'change', event }, text.length);
    }
    else if (message.type === 'error') problem = message as Problem;
  };
  socket.onerror = () => undefined; // a close event follows
  socket.onclose = (event) => finish(closeError(event.code, opened, problem));
  const onAbort = () => {
    socket.close(1000, 'client done');
    finish(undefined);
  };
  target.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const waiting = inbox.messages.shift();
      if (waiting !== undefined) {
        inbox.chars -= waiting.chars;
        yield waiting.message;
        continue;
      }
      if (inbox.ended !== undefined) {
        if (inbox.ended.error !== undefined) throw inbox.ended.error;
        return;
      }
      await new Promise<void>((resolve) => (inbox.wake = resolve));
      inbox.wake = undefined;
    }
  } finally {
    target.signal.removeEventListener('abort', onAbort);
    if (inbox.ended === undefined) socket.close(1000, 'client done');
  }
}

/** What a close means for the feed: undefined = reconnect, else the error to throw. */
function closeError(code: number, opened: boolean, problem: Problem | undefined): Error | undefined {
  if (!opened) return new WebSocketRefused();
  const fatal = FATAL_CODES.get(code);
  if (fatal !== undefined) return new PinbaseError(fatal.status, problem, { ...fatal, retryable: false });
  if (RECONNECT_CODES.has(code) || problem === undefined) return undefined;
  // Another close after an error message (e.g. 1011 after partition_lost): reconnect if the problem says so.
  return new PinbaseError(problem.status ?? 0, problem, { code: 'feed_closed', title: 'The change feed closed with an error' });
}
