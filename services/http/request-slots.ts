import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Requests served at once (maxInFlight): a request holds a slot from its
 * first hook until its response is closed, or until it gives the slot up to
 * become a live stream (StreamSlots counts those).
 */
export class RequestSlots {
  private inFlight = 0;

  constructor(private readonly max: number) {}

  /**
   * Takes a slot for `request` until its response closes; false when all
   * maxInFlight are taken. `onClose`, if given, also runs when the response
   * closes (one listener per request for both).
   */
  enter(request: FastifyRequest, reply: FastifyReply, onClose?: () => void): boolean {
    if (this.inFlight >= this.max) return false;
    this.inFlight++;
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.inFlight--;
    };
    (request as SlotHolder)[RELEASE] = release;
    reply.raw.once(
      'close',
      onClose === undefined
        ? release
        : () => {
            release();
            onClose();
          },
    );
    return true;
  }

  /** Gives `request`'s slot back before its response ends (it turned into a live stream). Idempotent. */
  leave(request: FastifyRequest): void {
    (request as SlotHolder)[RELEASE]?.();
  }
}

/** Where a request keeps the release of its slot: a property, cheaper per request than a WeakMap entry. */
const RELEASE = Symbol('pinbase.requestSlot');

interface SlotHolder {
  [RELEASE]?: () => void;
}
