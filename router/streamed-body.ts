/**
 * A request body the router streams to a worker instead of holding it whole
 * (proxy-exchange.ts decides which: see router/DESIGN.md, "Request bodies").
 * undici pulls it chunk by chunk from the client request, so back-pressure
 * holds end to end: the router holds the chunks in flight in the two
 * sockets' buffers and one stream buffer, whatever the body's size.
 *
 * What was read before streaming began (the prefix, at most the streaming
 * threshold) is held until the first chunk beyond it is taken from the
 * client. Until then the body can be sent again whole (`resendable`): an
 * attempt whose connection was refused, or broke before reading further,
 * can be re-sent. After it the bytes sent are gone, and so is every re-send.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

export class StreamedBody {
  /** Bytes of the body taken from the client so far, the prefix included. */
  bytes: number;
  /** The body went over `limit`: the attempt reading it was failed for it. */
  overLimit = false;
  /** The client's request failed (aborted, reset) while the body was read. */
  clientFailed = false;
  /** Chunks read before streaming began; dropped once the client is read further. */
  private prefix: Buffer[] | undefined;

  /**
   * Streams the rest of `req`'s body after `prefix` (`prefixBytes` long,
   * already read), at most `limit` bytes in all.
   */
  constructor(
    private readonly req: IncomingMessage,
    prefix: Buffer[],
    prefixBytes: number,
    private readonly limit: number,
  ) {
    this.prefix = prefix;
    this.bytes = prefixBytes;
  }

  /** Whether every byte read so far is still held, so that a new attempt can send the body again. */
  get resendable(): boolean {
    return this.prefix !== undefined;
  }

  /**
   * The body for one attempt: the prefix, then the rest of the client's body
   * as undici pulls it. Only while `resendable`; a source that undici never
   * reads from takes nothing from the client.
   */
  open(): Readable {
    return Readable.from(this.chunks(), { objectMode: false });
  }

  private async *chunks(): AsyncGenerator<Buffer> {
    if (this.prefix === undefined) throw new Error('the streamed body was already sent');
    for (const chunk of this.prefix) yield chunk;
    const req = this.req;
    // Not destroyOnReturn: when undici stops reading (an aborted attempt), the client's request stays for the answer.
    const rest = req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
    try {
      for await (const chunk of rest) {
        this.prefix = undefined;
        this.bytes += chunk.length;
        if (this.bytes > this.limit) {
          this.overLimit = true;
          throw new Error(`body over ${this.limit} bytes`);
        }
        yield chunk;
      }
    } catch (error) {
      if (!this.overLimit) this.clientFailed = true;
      throw error;
    }
  }
}
