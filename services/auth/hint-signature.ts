/**
 * The router's hints to the workers, signed with the cluster secret, so that
 * a client that reaches a worker directly cannot make it serve (and take
 * over) a user it does not own.
 *
 * A hint is `X-Pinbase-Down: <worker ids>` plus
 * `X-Pinbase-Hint: t=<unix ms>,n=<nonce>,s=<signature>`, where the signature
 * is base64url(HMAC-SHA256(cluster secret, canonical string)) and the
 * canonical string is, joined by "\n":
 *
 *     pinbase-hint-v1, t, n, method, request target, down list
 *
 * so a signature holds for one request (method and target, query included)
 * with one down list, at one time. A worker accepts it when the signature
 * matches (constant-time compare), `t` is within ±30 s of its clock, and the
 * nonce was not seen before (a replay window per nonce source, below);
 * anything else is ignored: the worker routes as if no worker were down.
 *
 * The nonce is `<source>.<counter>`: a random source id per signer (one per
 * router process) and a counter it increments for each hint (base 36). A
 * worker keeps, per source, the highest counter seen and a bitmap of the
 * REPLAY_WINDOW counters below it (as IPsec does, RFC 4303 §3.4.3): a
 * counter seen before, or older than the window, is a replay. Memory is
 * bounded: REPLAY_WINDOW / 8 bytes per source, at most MAX_SOURCES sources,
 * a source forgotten once none of its hints can still be fresh. A genuine
 * hint that arrives more than REPLAY_WINDOW hints late (of that router
 * process, to any worker) is refused; the worker then answers 421 and the
 * router re-sends it with a new hint.
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

export const HINT_HEADER = 'x-pinbase-hint';
export const DOWN_HEADER = 'x-pinbase-down';

/** How far a hint's timestamp may be from the verifier's clock, either way. */
export const HINT_MAX_SKEW_MS = 30_000;
/** Counters per source below the highest one seen that are still told apart (a multiple of 32). */
export const REPLAY_WINDOW = 65_536;
/** Nonce sources (router processes) a verifier tracks at once; a hint from one more is refused. */
export const MAX_SOURCES = 256;
/** A source is forgotten this long after its last hint: by then none of its hints is fresh. */
const SOURCE_TTL_MS = 3 * HINT_MAX_SKEW_MS;

const VERSION = 'pinbase-hint-v1';
/** t: up to 15 digits; n: a 8–32 character source id and a counter below 36^10 (< 2^53); s: 32 bytes base64url. */
const HINT_PATTERN = /^t=(\d{1,15}),n=([A-Za-z0-9_-]{8,32})\.([0-9a-z]{1,10}),s=([A-Za-z0-9_-]{43})$/;

function canonical(t: number | string, nonce: string, method: string, target: string, down: string): string {
  return `${VERSION}\n${t}\n${nonce}\n${method}\n${target}\n${down}`;
}

/** Signs hints for one router process. */
export class HintSigner {
  private readonly key: KeyObject;
  /** This signer's nonce source: 12 random base64url characters. */
  private readonly source = randomBytes(9).toString('base64url');
  private counter = 0;

  constructor(clusterSecret: string) {
    this.key = createSecretKey(Buffer.from(clusterSecret, 'utf8'));
  }

  /**
   * The X-Pinbase-Hint value for a request `method target` carrying the
   * down list `down` (exactly as sent). Every call uses a new nonce: sign
   * each attempt of a request, never re-send a hint.
   */
  sign(method: string, target: string, down: string, now = Date.now()): string {
    const nonce = `${this.source}.${(this.counter++).toString(36)}`;
    const signature = createHmac('sha256', this.key).update(canonical(now, nonce, method, target, down)).digest('base64url');
    return `t=${now},n=${nonce},s=${signature}`;
  }
}

/** Why a hint was refused, or `valid`. */
export type HintVerdict = 'valid' | 'missing' | 'malformed' | 'stale' | 'forged' | 'replayed' | 'too_many_sources';

/** Verifies hints at one worker; keeps the replay windows of the sources it has seen. */
export class HintVerifier {
  private readonly key: KeyObject;
  private readonly sources = new Map<string, ReplayWindow>();

  constructor(clusterSecret: string) {
    this.key = createSecretKey(Buffer.from(clusterSecret, 'utf8'));
  }

  /**
   * Whether `hint` (the X-Pinbase-Hint value) signs the down list `down` of
   * the request `method target` now. Only a valid hint's nonce is recorded,
   * so forgeries cost memory nothing; a valid hint is valid once.
   */
  verify(hint: string | undefined, method: string, target: string, down: string, now = Date.now()): HintVerdict {
    if (hint === undefined || hint === '') return 'missing';
    const parts = HINT_PATTERN.exec(hint);
    if (parts === null) return 'malformed';
    const [, t, source, counter, signature] = parts as unknown as [string, string, string, string, string];
    if (Math.abs(now - Number(t)) > HINT_MAX_SKEW_MS) return 'stale';
    const expected = createHmac('sha256', this.key).update(canonical(t, `${source}.${counter}`, method, target, down)).digest();
    if (!timingSafeEqual(expected, Buffer.from(signature, 'base64url'))) return 'forged';
    let window = this.sources.get(source);
    if (window === undefined) {
      if (this.sources.size >= MAX_SOURCES) this.forgetIdleSources(now);
      if (this.sources.size >= MAX_SOURCES) return 'too_many_sources';
      window = new ReplayWindow();
      this.sources.set(source, window);
    }
    window.lastSeenMs = now;
    return window.accept(parseInt(counter, 36)) ? 'valid' : 'replayed';
  }

  /** Nonce sources tracked now (for tests and diagnostics). */
  get sourceCount(): number {
    return this.sources.size;
  }

  private forgetIdleSources(now: number): void {
    for (const [source, window] of this.sources) if (now - window.lastSeenMs > SOURCE_TTL_MS) this.sources.delete(source);
  }
}

/** The counters seen from one nonce source: the highest, and a ring bitmap of the REPLAY_WINDOW below it. */
class ReplayWindow {
  private highest = -1;
  private readonly seen = new Uint32Array(REPLAY_WINDOW / 32);
  lastSeenMs = 0;

  /** Records `counter`; false if it was seen before or is too old to tell. */
  accept(counter: number): boolean {
    if (counter > this.highest) {
      if (counter - this.highest >= REPLAY_WINDOW) this.seen.fill(0);
      else for (let c = this.highest + 1; c < counter; c++) this.clear(c);
      this.highest = counter;
      this.set(counter);
      return true;
    }
    if (this.highest - counter >= REPLAY_WINDOW) return false;
    const word = (counter % REPLAY_WINDOW) >>> 5;
    const bit = 1 << (counter & 31);
    if ((this.seen[word]! & bit) !== 0) return false;
    this.seen[word]! |= bit;
    return true;
  }

  private set(counter: number): void {
    this.seen[(counter % REPLAY_WINDOW) >>> 5]! |= 1 << (counter & 31);
  }

  private clear(counter: number): void {
    this.seen[(counter % REPLAY_WINDOW) >>> 5]! &= ~(1 << (counter & 31));
  }
}
