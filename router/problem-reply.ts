import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ERROR_TABLE, retryAfterSeconds, type ErrorCode } from '../services/problem/error-table.js';
import { PROBLEM_CONTENT_TYPE, problemDocument } from '../services/problem/problem-document.js';

/**
 * Answers a data-path request (plain node:http, not fastify) with the
 * router's own problem+json for `code`, with the Retry-After of its code
 * (retryable codes only). With `close`, the connection is closed after the
 * answer (used when a request body was left unread, e.g. 413).
 */
export function replyProblem(res: ServerResponse, code: ErrorCode, detail?: string, close = false): void {
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
  if (close) {
    headers.connection = 'close';
    res.shouldKeepAlive = false;
  }
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * Answers a request Node could not parse (the 'clientError' event) with a
 * problem+json written straight to the socket, then closes it.
 */
export function replyClientError(socket: Socket, error: NodeJS.ErrnoException): void {
  if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  const code: ErrorCode =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'headers_too_large'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'request_timeout'
        : error.code === 'HPE_INVALID_HEADER_TOKEN' || error.code === 'HPE_LF_EXPECTED' || error.code === 'HPE_CR_EXPECTED'
          ? 'invalid_header'
          : 'invalid_request';
  const row = ERROR_TABLE[code];
  const body = JSON.stringify(problemDocument(code, `the request could not be parsed (${error.code ?? 'parse error'})`));
  const retryAfter = retryAfterSeconds(code);
  socket.end(
    `HTTP/1.1 ${row.status} ${row.title}\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}\r\n` +
      (retryAfter === undefined ? '' : `retry-after: ${retryAfter}\r\n`) +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
