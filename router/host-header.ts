/**
 * The Host rule of RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host
 * header (HTTP/1.0 may have none). Node accepts a duplicate (it keeps the
 * first) and answers a missing one with a bare 400, so the router checks it
 * itself and answers 400 `invalid_header` as problem+json.
 */
import type { IncomingMessage } from 'node:http';

/** Why the request's Host headers are invalid, or undefined when they are fine. `hosts`: how many it has. */
export function hostHeaderProblem(hosts: number, req: Pick<IncomingMessage, 'httpVersionMajor' | 'httpVersionMinor'>): string | undefined {
  if (hosts === 1) return undefined;
  if (hosts > 1) return 'more than one Host header';
  return req.httpVersionMajor > 1 || req.httpVersionMinor >= 1 ? 'the Host header is missing' : undefined;
}

/** How many Host headers `rawHeaders` has. */
export function countHostHeaders(rawHeaders: readonly string[]): number {
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.length === 4 && rawHeaders[i]!.toLowerCase() === 'host') hosts++;
  return hosts;
}
