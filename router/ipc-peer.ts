/**
 * Calls and events over a node:cluster IPC channel, between the router's
 * primary and each of its processes. Only messages tagged `pinbase` are
 * handled; a call that gets no reply in time rejects.
 *
 * Typed by the two sides of the channel (ipc-messages.ts): a peer answers
 * the calls and emits the events of its own side, and calls and receives
 * those of the other side.
 */

/** One call: what it takes and what it resolves with. */
export interface IpcCall<Args, Result> {
  readonly args: Args;
  readonly result: Result;
}

/** One side of a channel: the calls it answers and the events it emits (name → payload, `void` for none). */
export interface IpcSide {
  readonly calls: Record<string, IpcCall<unknown, unknown>>;
  readonly events: Record<string, unknown>;
}

type ArgsOf<C> = C extends IpcCall<infer Args, unknown> ? Args : never;
type ResultOf<C> = C extends IpcCall<unknown, infer Result> ? Result : never;
/** A call's arguments: `args` may be left out when the call takes none. */
type CallArguments<C> = [ArgsOf<C>] extends [void] ? [args?: undefined, timeoutMs?: number] : [args: ArgsOf<C>, timeoutMs?: number];
/** An event's arguments: none when its payload is `void`. */
type EventArguments<P> = [P] extends [void] ? [] : [payload: P];

/** What a peer does with what arrives: answer the calls of its own side, receive the events of the other. */
export interface IpcHandlers<Local extends IpcSide, Remote extends IpcSide> {
  /** Answers each call, sync or async; a throw becomes the caller's rejection. */
  readonly calls: { readonly [K in keyof Local['calls']]: (args: ArgsOf<Local['calls'][K]>) => ResultOf<Local['calls'][K]> | Promise<ResultOf<Local['calls'][K]>> };
  readonly events: { readonly [K in keyof Remote['events']]: (payload: Remote['events'][K]) => void };
}

interface CallMessage {
  pinbase: 'call';
  id: number;
  method: string;
  args: unknown;
}
interface ReplyMessage {
  pinbase: 'reply';
  id: number;
  result?: unknown;
  error?: string;
}
interface EventMessage {
  pinbase: 'event';
  name: string;
  payload: unknown;
}
type PeerMessage = CallMessage | ReplyMessage | EventMessage;

type UntypedHandler = (args: unknown) => unknown;

export class IpcPeer<Local extends IpcSide, Remote extends IpcSide> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  private readonly callHandlers: Readonly<Record<string, UntypedHandler | undefined>>;
  private readonly eventHandlers: Readonly<Record<string, UntypedHandler | undefined>>;

  constructor(
    private readonly send: (message: PeerMessage) => void,
    handlers: IpcHandlers<Local, Remote>,
  ) {
    this.callHandlers = handlers.calls as Record<string, UntypedHandler | undefined>;
    this.eventHandlers = handlers.events as Record<string, UntypedHandler | undefined>;
  }

  /** Feed every message of the channel here; returns false for messages that are not ours. */
  receive(message: unknown): boolean {
    if (typeof message !== 'object' || message === null || !('pinbase' in message)) return false;
    const m = message as PeerMessage;
    if (m.pinbase === 'reply') this.settle(m);
    else if (m.pinbase === 'event') this.eventHandlers[m.name]?.(m.payload);
    else if (m.pinbase === 'call') void this.answer(m);
    return true;
  }

  /** Calls `method` on the other side; rejects with its error, or if it does not answer within `timeoutMs` (5 s). */
  call<K extends keyof Remote['calls'] & string>(method: K, ...[args, timeoutMs = 5000]: CallArguments<Remote['calls'][K]>): Promise<ResultOf<Remote['calls'][K]>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`router process did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs).unref();
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.trySend({ pinbase: 'call', id, method, args });
    });
  }

  emit<K extends keyof Local['events'] & string>(name: K, ...[payload]: EventArguments<Local['events'][K]>): void {
    this.trySend({ pinbase: 'event', name, payload });
  }

  /** Rejects every pending call (the other side went away). */
  close(reason: string): void {
    for (const [id, call] of this.pending) {
      clearTimeout(call.timer);
      call.reject(new Error(reason));
      this.pending.delete(id);
    }
  }

  private async answer(m: CallMessage): Promise<void> {
    const handler = this.callHandlers[m.method];
    try {
      if (handler === undefined) throw new Error(`no handler for ${m.method}`);
      this.trySend({ pinbase: 'reply', id: m.id, result: await handler(m.args) });
    } catch (error) {
      this.trySend({ pinbase: 'reply', id: m.id, error: (error as Error).message });
    }
  }

  private settle(m: ReplyMessage): void {
    const call = this.pending.get(m.id);
    if (call === undefined) return;
    this.pending.delete(m.id);
    clearTimeout(call.timer);
    if (m.error === undefined) call.resolve(m.result);
    else call.reject(new Error(m.error));
  }

  private trySend(message: PeerMessage): void {
    try {
      this.send(message);
    } catch {
      // The channel is closed: the process is exiting; pending calls time out.
    }
  }
}
