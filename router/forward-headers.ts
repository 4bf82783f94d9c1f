/**
 * Header handling for the data path, in one pass over Node's rawHeaders:
 * hop-by-hop headers (RFC 9110 §7.6.1) are dropped, client-sent
 * `X-Pinbase-*` headers are dropped (only the router may speak them),
 * `X-Forwarded-For/Proto/Host` are set, and the few facts the router needs
 * (body length, idempotency, SSE) are noted on the way, into a facts object
 * the caller passes (and may reuse: every field is written each time).
 */

/** What the router learns about a request from its headers. */
export interface RequestFacts {
  /** Content-Length, or -1 when absent (or invalid: Node refuses those). */
  contentLength: number;
  /** Transfer-Encoding was sent: a body of unknown length follows. */
  chunked: boolean;
  hasIdempotencyKey: boolean;
  /** The client asked for text/event-stream: no idle timeout upstream. */
  wantsEventStream: boolean;
  /** How many Host headers the request has (exactly one is valid in HTTP/1.1). */
  hosts: number;
}

/**
 * The header list (flat [name, value, ...]) to send upstream for a request
 * with `rawHeaders` from `remoteAddress`; sets every field of `facts`.
 * Content-Length is left out: the router re-sends the body it read and
 * undici sets the length.
 *
 * The headers a `Connection` header names are hop-by-hop for this one
 * connection (RFC 9110 §7.6.1): they are removed first, before anything is
 * learnt from them, and the router's own headers are added after. So
 * `Connection: idempotency-key` makes a request keyless (it is not re-sent
 * after a broken connection), and `Connection: x-forwarded-for` drops only
 * the client's X-Forwarded-For. One pass when no Connection header names
 * another header (`keep-alive` and `close` name none); a second pass, with
 * the named set, when one does.
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], remoteAddress: string, facts: RequestFacts): string[] {
  return (
    filterRequestHeaders(rawHeaders, remoteAddress, facts, undefined) ??
    filterRequestHeaders(rawHeaders, remoteAddress, facts, connectionOptions(rawHeaders))!
  );
}

/**
 * One pass over `rawHeaders`. With `named` undefined, returns undefined as
 * soon as a Connection header names another header (the caller then passes
 * the named set); with `named`, those headers are skipped.
 */
function filterRequestHeaders(
  rawHeaders: readonly string[],
  remoteAddress: string,
  facts: RequestFacts,
  named: ReadonlySet<string> | undefined,
): string[] | undefined {
  facts.contentLength = -1;
  facts.chunked = false;
  facts.hasIdempotencyKey = false;
  facts.wantsEventStream = false;
  facts.hosts = 0;
  const out: string[] = [];
  let forwardedFor = '';
  let host = '';
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    const lower = name.toLowerCase();
    // Framing and Host are what Node parsed the request by: never forwarded
    // as sent, whatever Connection says.
    switch (lower) {
      case 'host':
        host = value;
        facts.hosts++;
        continue;
      case 'content-length':
        facts.contentLength = Number(value);
        continue;
      case 'transfer-encoding':
        facts.chunked = true;
        continue;
      case 'connection':
        if (named === undefined && namesOtherHeaders(value)) return undefined;
        continue;
    }
    if (named?.has(lower) === true) continue;
    switch (lower) {
      case 'keep-alive':
      case 'proxy-connection':
      case 'proxy-authorization':
      case 'te':
      case 'trailer':
      case 'upgrade':
      case 'expect':
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
        continue;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === '' ? value : `${forwardedFor}, ${value}`;
        continue;
      case 'idempotency-key':
        facts.hasIdempotencyKey = true;
        break;
      case 'accept':
        if (value.includes('text/event-stream')) facts.wantsEventStream = true;
        break;
      default:
        if (lower.startsWith('x-pinbase-')) continue;
    }
    out.push(name, value);
  }
  out.push(
    'x-forwarded-for',
    forwardedFor === '' ? remoteAddress : `${forwardedFor}, ${remoteAddress}`,
    'x-forwarded-proto',
    'http',
  );
  if (host !== '') out.push('x-forwarded-host', host);
  return out;
}

/** Whether a Connection value names a header (anything but the `keep-alive` and `close` options). */
function namesOtherHeaders(value: string): boolean {
  if (value.length <= 10) {
    const lower = value.toLowerCase();
    if (lower === 'keep-alive' || lower === 'close') return false;
  }
  return connectionTokens(value).some((token) => token !== '' && token !== 'keep-alive' && token !== 'close');
}

/** The header names every Connection header of a request names (lower case). */
function connectionOptions(rawHeaders: readonly string[]): Set<string> {
  const named = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') for (const token of connectionTokens(rawHeaders[i + 1]!)) named.add(token);
  }
  return named;
}

function connectionTokens(value: string): string[] {
  return value.split(',').map((token) => token.trim().toLowerCase());
}

/**
 * The headers to send upstream for a WebSocket upgrade request, as the
 * object http-proxy-3 sends (duplicates joined with ", "; Cookie with "; "):
 * the same filtering as upstreamRequestHeaders (hop-by-hop and client
 * `X-Pinbase-*` dropped, `X-Forwarded-*` set, Host left to the upstream
 * connection) with the handshake's own hop-by-hop pair put back
 * (`Connection: Upgrade`, `Upgrade: websocket`). The `Sec-WebSocket-*`
 * headers are end to end and pass as sent. Sets every field of `facts`.
 */
export function upgradeRequestHeaders(rawHeaders: readonly string[], remoteAddress: string, facts: RequestFacts): Record<string, string> {
  const list = upstreamRequestHeaders(rawHeaders, remoteAddress, facts);
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!.toLowerCase();
    const value = list[i + 1]!;
    const previous = headers[name];
    headers[name] = previous === undefined ? value : `${previous}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  headers.connection = 'Upgrade';
  headers.upgrade = 'websocket';
  return headers;
}

/** What the router learns about a response from its headers. */
export interface ResponseFacts {
  /** Content-Type text/event-stream: the response is an SSE stream. */
  isEventStream: boolean;
}

/**
 * The header list to send to the client for an upstream response whose raw
 * headers are `raw` (undici's Buffer list); sets every field of `facts`.
 * Hop-by-hop headers are dropped; Node adds its own framing and Connection
 * headers.
 */
export function clientResponseHeaders(raw: readonly Buffer[], facts: ResponseFacts): string[] {
  facts.isEventStream = false;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    switch (name.toLowerCase()) {
      case 'connection':
      case 'keep-alive':
      case 'transfer-encoding':
      case 'proxy-connection':
      case 'trailer':
      case 'upgrade':
        continue;
      case 'content-type': {
        const value = raw[i + 1]!.toString('latin1');
        if (value.startsWith('text/event-stream')) facts.isEventStream = true;
        out.push(name, value);
        continue;
      }
    }
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  return out;
}
