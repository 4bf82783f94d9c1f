import type { FeedCloseReason } from '../../partition/commit-feed.js';
import type { Change, ChangesPage, ChangesPosition } from '../../partition/object-reads.js';
import type { PartitionStore } from '../../partition/partition-store.js';
import { PinbaseError } from '../../problem/pinbase-error.js';
import { decodeChangesCursor, encodeChangesCursor } from '../cursor.js';

/** Changes a live stream reads per page. */
const PAGE = 500;
/**
 * Bytes of document bodies a live stream reads per page (at least one whole
 * commit): what a stream whose client does not read holds while it waits
 * for the socket to drain, so --max-streams of them stay within memory.
 */
const STREAM_PAGE_BYTES = 256 * 1024;
// A commit larger than COMMIT_PART (object-reads.ts) comes in parts of at most that size, whatever these are.

/** Why a live feed ended. */
export type FeedEnd =
  /** The client left (closed its connection, or was dropped for not answering). */
  | { kind: 'client' }
  /** The store ended the subscription: the user was handed over or erased, or the worker is shutting down. */
  | { kind: 'store'; reason: FeedCloseReason }
  /** Reading the changes failed. */
  | { kind: 'error'; error: PinbaseError };

/**
 * How one transport (SSE, WebSocket) writes a live feed: only the framing
 * differs between them; paging, back-pressure and the end are the feed's.
 */
export interface FeedFraming {
  /**
   * Writes one commit: its seq and its changes, each already a JSON object
   * (formatChange); `cursor` is set when this is a part of a large commit
   * and more of it follows (where the feed resumes after this part).
   * Returns a promise when the transport's buffer is above its bound: the
   * feed reads nothing more until it resolves.
   */
  commit(seq: number, rows: string[], cursor: string | undefined): Promise<void> | undefined;
  /** Called every heartbeat interval while the feed runs. */
  heartbeat(): void;
  /** Called once when the feed ends, for any reason but the client leaving: writes the end and closes the connection. */
  finish(end: Exclude<FeedEnd, { kind: 'client' }>): void;
}

export interface FeedOptions {
  store: Pick<PartitionStore, 'read' | 'subscribe'>;
  heartbeatMs: number;
  userId: string;
  /** Streams commits after this position. */
  from: ChangesPosition;
  includeData: boolean;
  /** Turns a read failure into the problem the client gets. */
  toProblem(error: unknown): PinbaseError;
  /** Called once when the feed ends, for any reason (the transport releases its stream slot here). */
  onEnd(end: FeedEnd): void;
}

/** Where a live feed starts: after `from`; `seq` is the latest commit when it was asked. */
export interface FeedStart {
  from: ChangesPosition;
  seq: number;
}

/** Throws invalid_since unless `since` is at most the latest commit `seq`. */
export function assertSince(since: number | undefined, seq: number): void {
  if (since !== undefined && since > seq) throw new PinbaseError('invalid_since', `since ${since} is beyond the latest commit ${seq}`);
}

/** Where the feed asked for resumes, the latest commit being `seq`: after `since`, or inside a commit after `cursor` (a page's, a part's); none of them: `otherwise`. */
export function changesPosition(seq: number, since: number | undefined, cursor: string | undefined, otherwise: number): ChangesPosition {
  if (cursor === undefined) {
    assertSince(since, seq);
    return { seq: since ?? otherwise };
  }
  if (since !== undefined) throw new PinbaseError('invalid_cursor', 'give since or cursor, not both');
  const position = decodeChangesCursor(cursor);
  if (position.seq > seq) throw new PinbaseError('invalid_cursor', `the cursor is beyond the latest commit ${seq}`);
  return position;
}

/** since and cursor of a live feed's request, or of an SSE Last-Event-ID (a seq, or the cursor of a part). */
export interface FeedResume {
  since: number | undefined;
  cursor: string | undefined;
}

/** Where a live feed resumes (no since nor cursor: at the latest commit); invalid_since / invalid_cursor beyond the latest commit. */
export function feedStart(store: Pick<PartitionStore, 'read'>, userId: string, resume: FeedResume): Promise<FeedStart> {
  return store.read(userId, (view) => ({ from: changesPosition(view.seq, resume.since, resume.cursor, view.seq), seq: view.seq }));
}

/** The cursor of a page that ends inside a commit, for the client to resume with. */
export function pageCursor(page: ChangesPage): string | undefined {
  return page.cursor === undefined ? undefined : encodeChangesCursor(page.cursor);
}

/** One change as the feed's JSON object (the rows of a JSON page, an SSE event, a WebSocket message). */
export function formatChange(change: Change): string {
  const data = change.body === undefined ? '' : `,"data":${change.body ?? 'null'}`;
  return `{"seq":${change.seq},"collection":${JSON.stringify(change.collection)},"id":${JSON.stringify(change.id)},"deleted":${change.deleted}${data}}`;
}

/** The page's commits, each as its seq and its rows; the last one is a part of a larger commit when the page has a cursor. */
function* commits(page: ChangesPage): Generator<{ seq: number; rows: string[]; cursor: string | undefined }> {
  const { changes } = page;
  for (let i = 0; i < changes.length; ) {
    const seq = changes[i]!.seq;
    const rows: string[] = [];
    for (; i < changes.length && changes[i]!.seq === seq; i++) rows.push(formatChange(changes[i]!));
    yield { seq, rows, cursor: i === changes.length ? pageCursor(page) : undefined };
  }
}

/**
 * A live change feed: the user's commits after `from`, one framing.commit()
 * per commit, until the client leaves (end({kind:'client'})), the store ends
 * the subscription (handover, erase, shutdown) or a read fails. Memory per
 * feed is bounded: one page of changes (PAGE changes and STREAM_PAGE_BYTES of
 * bodies) at a time, written a commit at a time, waiting whenever the
 * transport says its buffer is full; the store holds nothing per subscriber.
 */
export class ChangeFeed {
  private position: ChangesPosition;
  private readonly abort = new AbortController();
  private pumping = false;
  private again = false;
  private ended = false;
  private readonly unsubscribe: () => void;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly options: FeedOptions,
    private readonly framing: FeedFraming,
  ) {
    this.position = options.from;
    this.unsubscribe = options.store.subscribe(options.userId, {
      onCommit: () => void this.pump(),
      onClose: (reason) => this.end({ kind: 'store', reason }),
    });
    this.heartbeat = setInterval(() => framing.heartbeat(), options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Streams what was committed after `from` so far; later commits follow as they happen. */
  start(): Promise<void> {
    return this.pump();
  }

  /** Ends the feed (idempotent): stops reading, unsubscribes, and unless the client left, lets the framing write the end. */
  end(end: FeedEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.options.onEnd(end);
    this.abort.abort();
    clearInterval(this.heartbeat);
    this.unsubscribe();
    if (end.kind !== 'client') this.framing.finish(end);
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    const { store, userId, includeData } = this.options;
    try {
      do {
        this.again = false;
        for (;;) {
          const page = await store.read(userId, (view) => view.changes(this.position, PAGE, includeData, STREAM_PAGE_BYTES));
          if (this.ended || page.changes.length === 0) break;
          for (const commit of commits(page)) {
            if (this.ended) return;
            this.position = commit.cursor === undefined ? { seq: commit.seq } : page.cursor!;
            const full = this.framing.commit(commit.seq, commit.rows, commit.cursor);
            if (full) await abortable(full, this.abort.signal);
          }
        }
      } while (this.again && !this.ended);
    } catch (error) {
      if (!this.ended) this.end({ kind: 'error', error: this.options.toProblem(error) });
    } finally {
      this.pumping = false;
    }
  }
}

/** `promise`, or a rejection as soon as `signal` aborts. */
function abortable(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (error: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
