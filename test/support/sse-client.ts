/** A minimal text/event-stream reader for tests: collects events as they arrive. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

export interface SseStream {
  events: SseEvent[];
  /** Resolves when at least `count` events arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<SseEvent[]>;
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  if (response.status !== 200 || !response.body) throw new Error(`SSE ${url} answered ${response.status}: ${await response.text()}`);
  const events: SseEvent[] = [];
  const waiters: (() => void)[] = [];
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const ended = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let index: number;
        while ((index = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, index);
          buffer = buffer.slice(index + 2);
          const event: SseEvent = { data: '' };
          let hasData = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const [field, ...rest] = line.split(':');
            const text = rest.join(':').replace(/^ /, '');
            if (field === 'id') event.id = text;
            else if (field === 'event') event.event = text;
            else if (field === 'data') {
              event.data += (hasData ? '\n' : '') + text;
              hasData = true;
            }
          }
          if (hasData) {
            events.push(event);
            for (const wake of waiters.splice(0)) wake();
          }
        }
      }
    } catch {
      // aborted by close()
    } finally {
      for (const wake of waiters.splice(0)) wake();
    }
  })();
  let finished = false;
  void ended.then(() => (finished = true));
  return {
    events,
    ended,
    close: () => controller.abort(),
    waitFor: async (count, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count) {
        if (finished) throw new Error(`stream ended after ${events.length} of ${count} events`);
        if (Date.now() > deadline) throw new Error(`only ${events.length} of ${count} events within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return events.slice(0, count);
    },
  };
}
