import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ERROR_TABLE, retryAfterSeconds, type ErrorCode } from '../services/problem/error-table.js';
import { rawProblemResponse } from '../services/problem/client-error.js';
import { PROBLEM_CONTENT_TYPE, problemDocument } from '../services/problem/problem-document.js';
import { corsAnswerHeaders } from '../services/http/cors.js';

/**
 * Answers a data-path request (plain node:http, not fastify) with the
 * router's own problem+json for `code`, with the Retry-After of its code
 * (retryable codes only). With `close`, the connection is closed after the
 * answer (used when a request body was left unread, e.g. 413). A request
 * from one of `corsOrigins` gets the CORS headers a worker would send.
 */
export function replyProblem(res: ServerResponse, code: ErrorCode, detail?: string, close = false, corsOrigins: readonly string[] = []): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(problemDocument(code, detail));
  const status = ERROR_TABLE[code].status;
  const headers: Record<string, string | number> = {
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  const retryAfter = retryAfterSeconds(code);
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
  const cors = corsOrigins.length === 0 ? undefined : corsAnswerHeaders(corsOrigins, res.req?.headers.origin);
  if (cors !== undefined) Object.assign(headers, cors);
  if (close) {
    headers.connection = 'close';
    res.shouldKeepAlive = false;
  }
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * Answers what Node reports on a connection (the 'clientError' event): a
 * request it could not parse (400, 431), or one whose headers or body did
 * not arrive in time (408). A request already handed to the router whose
 * answer has not started gets the problem through its ServerResponse (the
 * exchange then lets go of it); otherwise the problem is written straight
 * to the socket. The connection is closed after it.
 */
export function replyClientError(socket: Socket, error: NodeJS.ErrnoException): void {
  const code: ErrorCode =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'headers_too_large'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'request_timeout'
        : error.code === 'HPE_INVALID_HEADER_TOKEN' || error.code === 'HPE_LF_EXPECTED' || error.code === 'HPE_CR_EXPECTED'
          ? 'invalid_header'
          : 'invalid_request';
  const detail =
    code === 'request_timeout'
      ? 'the request (headers and body) was not received in time'
      : `the request could not be parsed (${error.code ?? 'parse error'})`;
  const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (pending) {
    if (pending.headersSent || !socket.writable) socket.destroy();
    else replyProblem(pending, code, detail, true);
    return;
  }
  replyRawProblem(socket, code, detail);
}

/** Writes the problem for `code` straight to `socket` as a whole HTTP/1.1 response, then closes it. */
export function replyRawProblem(socket: Socket, code: ErrorCode, detail: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(rawProblemResponse(code, detail));
}
