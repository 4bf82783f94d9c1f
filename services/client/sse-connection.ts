import { userPath } from './collection-handle.js';
import { feedQuery, type FeedMessage, type FeedTarget } from './feed-message.js';
import { PinbaseError, type Problem } from './pinbase-error.js';
import type { ChangeEvent } from './types.js';

/** The longest event the parser keeps while waiting for its end (a commit's event; the worker's pages are ≤ 256 KiB of bodies). */
const MAX_EVENT_CHARS = 64 * 1024 * 1024;

/**
 * One SSE connection of the change feed (GET /_changes with Accept:
 * text/event-stream, the token in the Authorization header: fetch can send
 * it, unlike EventSource). Yields `ready` (the seq the stream starts after,
 * from X-Pinbase-Seq when no `since` was given) and one `change` per
 * commit. Returns when the server ends the stream (handover, shutdown);
 * throws the PinbaseError of a refusal or of an `error` event, or
 * `network_error` when the connection breaks.
 */
export async function* sseConnection(target: FeedTarget, fetchFn: typeof fetch): AsyncGenerator<FeedMessage> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`;
  let response: Response;
  try {
    response = await fetchFn(`${target.baseUrl}${userPath(target.userId, '_changes')}${feedQuery(target)}`, { headers, signal: target.signal });
  } catch (error) {
    if (target.signal.aborted) return;
    throw PinbaseError.client('network_error', `cannot reach ${target.baseUrl}: ${String((error as Error)?.message ?? error)}`, error);
  }
  if (response.status !== 200 || response.body === null) {
    throw PinbaseError.fromResponse(response.status, await response.text().catch(() => ''));
  }
  yield { kind: 'ready', seq: target.since ?? Number(response.headers.get('x-pinbase-seq') ?? 0) };
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (target.signal.aborted) return;
        throw PinbaseError.client('network_error', 'the change stream broke', error);
      }
      if (chunk.done) return;
      buffer += chunk.value.replaceAll('\r\n', '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (message !== undefined) yield message;
      }
      if (buffer.length > MAX_EVENT_CHARS) throw PinbaseError.client('invalid_response', 'an SSE event without end', undefined, false);
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

/** One SSE event block as a feed message: `change` events; `error` throws its problem; comments and `retry:` are skipped. */
function parseEvent(block: string): FeedMessage | undefined {
  let event = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data = data === '' ? value : `${data}\n${value}`;
  }
  if (data === '') return undefined;
  if (event === 'error') {
    const problem = JSON.parse(data) as Problem;
    throw new PinbaseError(problem.status ?? 503, problem, { code: 'feed_closed', title: 'The change stream ended with an error' });
  }
  if (event !== 'change') return undefined;
  return { kind: 'change', event: JSON.parse(data) as ChangeEvent };
}
