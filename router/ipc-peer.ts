/**
 * Calls and events over a node:cluster IPC channel, between the router's
 * primary and each of its processes. Only messages tagged `pinbase` are
 * handled; a call that gets no reply in time rejects.
 */
type Handler = (args: unknown) => unknown;

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

export class IpcPeer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();

  /** `handlers` answer calls (sync or async) and receive events, by name. */
  constructor(
    private readonly send: (message: PeerMessage) => void,
    private readonly handlers: Record<string, Handler>,
  ) {}

  /** Feed every message of the channel here; returns false for messages that are not ours. */
  receive(message: unknown): boolean {
    if (typeof message !== 'object' || message === null || !('pinbase' in message)) return false;
    const m = message as PeerMessage;
    if (m.pinbase === 'reply') this.settle(m);
    else if (m.pinbase === 'event') this.handlers[m.name]?.(m.payload);
    else if (m.pinbase === 'call') void this.answer(m);
    return true;
  }

  call<T>(method: string, args?: unknown, timeoutMs = 5000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`router process did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs).unref();
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.trySend({ pinbase: 'call', id, method, args });
    });
  }

  emit(name: string, payload?: unknown): void {
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
    const handler = this.handlers[m.method];
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
