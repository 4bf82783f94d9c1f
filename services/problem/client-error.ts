import { ERROR_TABLE, retryAfterSeconds, type ErrorCode } from './error-table.js';
import { PROBLEM_CONTENT_TYPE, problemDocument } from './problem-document.js';

/**
 * The problem code for an error Node's HTTP server raises before any
 * request handler runs (its 'clientError' event): the llhttp parser's
 * HPE_* codes, and its request and headers timeouts.
 */
export function clientErrorCode(error: NodeJS.ErrnoException): ErrorCode {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'headers_too_large';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'request_timeout';
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_LF_EXPECTED':
    case 'HPE_CR_EXPECTED':
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return 'invalid_header';
    default:
      return 'invalid_request';
  }
}

/**
 * A whole HTTP/1.1 response carrying the problem for a client error, to be
 * written straight to the socket (no request object exists), closing the
 * connection: after a parse error or a timeout its framing is not to be
 * trusted. `headers` are added as given (lower-case names).
 */
export function clientErrorResponse(error: NodeJS.ErrnoException, headers: Record<string, string> = {}): string {
  return rawProblemResponse(clientErrorCode(error), `the request could not be read (${error.code ?? 'parse error'})`, headers);
}

/**
 * A whole HTTP/1.1 response carrying the problem `code`, to be written
 * straight to a socket where no response object exists (a parse error, a
 * timeout, CONNECT), closing the connection. `headers` are added as given
 * (lower-case names).
 */
export function rawProblemResponse(code: ErrorCode, detail: string, headers: Record<string, string> = {}): string {
  const row = ERROR_TABLE[code];
  const body = JSON.stringify(problemDocument(code, detail));
  const retryAfter = retryAfterSeconds(code);
  const lines = [
    `HTTP/1.1 ${row.status} ${row.title}`,
    `content-type: ${PROBLEM_CONTENT_TYPE}`,
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    ...(retryAfter === undefined ? [] : [`retry-after: ${retryAfter}`]),
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}
