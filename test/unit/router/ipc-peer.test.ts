import { describe, expect, it } from 'vitest';
import type { PrimarySide, ProcessSide } from '../../../router/ipc-messages.js';
import { IpcPeer, type IpcCall, type IpcHandlers, type IpcSide } from '../../../router/ipc-peer.js';
import type { RouterState } from '../../../router/router-state.js';

interface Server {
  calls: {
    add: IpcCall<number[], number>;
    later: IpcCall<void, string>;
    fail: IpcCall<void, never>;
  };
  events: { tick: { n: number } };
}
interface Client {
  calls: Record<never, never>;
  events: { ping: { n: number }; bare: void };
}
const NONE: IpcHandlers<IpcSide, IpcSide> = { calls: {}, events: {} };

/** Two peers wired back to back, delivering asynchronously like a real channel. */
function pair<A extends IpcSide, B extends IpcSide>(aHandlers: IpcHandlers<A, B>, bHandlers: IpcHandlers<B, A>) {
  const peers: { a?: IpcPeer<A, B>; b?: IpcPeer<B, A> } = {};
  const a = new IpcPeer<A, B>((m) => setImmediate(() => peers.b!.receive(m)), aHandlers);
  const b = new IpcPeer<B, A>((m) => setImmediate(() => peers.a!.receive(m)), bHandlers);
  Object.assign(peers, { a, b });
  return { a, b };
}

function serverHandlers(events: IpcHandlers<Server, Client>['events'] = { ping: () => {}, bare: () => {} }): IpcHandlers<Server, Client> {
  return {
    calls: {
      add: (numbers) => numbers.reduce((x, y) => x + y, 0),
      later: async () => 'done',
      fail: () => {
        throw new Error('nope');
      },
    },
    events,
  };
}

const clientHandlers: IpcHandlers<Client, Server> = { calls: {}, events: { tick: () => {} } };

async function delivered(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}

describe('IpcPeer', () => {
  it('answers calls with the handler result, sync or async', async () => {
    const { a } = pair<Client, Server>(clientHandlers, serverHandlers());
    expect(await a.call('add', [1, 2, 3])).toBe(6);
    expect(await a.call('later')).toBe('done');
  });

  it('turns a handler error or an unknown method into a rejected call', async () => {
    const { a } = pair<Client, Server>(clientHandlers, serverHandlers());
    await expect(a.call('fail')).rejects.toThrow('nope');
    const untyped = a as unknown as IpcPeer<IpcSide, IpcSide>;
    await expect(untyped.call('missing', undefined)).rejects.toThrow('no handler for missing');
  });

  it('delivers events without a reply, with or without a payload, and ignores foreign messages', async () => {
    const got: unknown[] = [];
    const { a, b } = pair<Client, Server>(clientHandlers, serverHandlers({ ping: (payload) => got.push(payload), bare: (payload) => got.push(payload) }));
    a.emit('ping', { n: 1 });
    a.emit('bare');
    await delivered();
    expect(got).toEqual([{ n: 1 }, undefined]);
    expect(b.receive({ cmd: 'NODE_CLUSTER' })).toBe(false);
  });

  it('keeps calls and events apart: an event never runs the call handler of the same name', async () => {
    const answered: unknown[] = [];
    const received: unknown[] = [];
    const { a } = pair<IpcSide, IpcSide>(
      { calls: { same: (args) => answered.push(args) }, events: {} },
      { calls: {}, events: { same: (payload) => received.push(payload) } },
    );
    a.emit('same', 'event');
    await delivered();
    expect(received).toEqual(['event']);
    expect(answered).toEqual([]);
  });

  it('rejects a call that gets no answer in time, and pending calls on close', async () => {
    const silent = new IpcPeer<Client, Server>(() => {}, clientHandlers);
    await expect(silent.call('later', undefined, 20)).rejects.toThrow(/did not answer later within 20 ms/);
    const pending = silent.call('later', undefined, 10_000);
    silent.close('gone');
    await expect(pending).rejects.toThrow('gone');
  });

  it('type-checks names, arguments and results against the two sides', () => {
    const peer = new IpcPeer<Client, Server>(() => {}, NONE as IpcHandlers<Client, Server>);
    const sum: Promise<number> = peer.call('add', [1], 10);
    void sum.catch(() => {});
    // @ts-expect-error: `add` takes numbers
    void peer.call('add', ['1'], 10).catch(() => {});
    // @ts-expect-error: the other side answers no `ping` call
    void peer.call('ping', undefined, 10).catch(() => {});
    // @ts-expect-error: `ping` carries a payload
    peer.emit('ping');
    // @ts-expect-error: `tick` is the other side's event
    peer.emit('tick', { n: 1 });
    peer.close('done');
  });
});

describe('the router primary and process messages', () => {
  const state: RouterState = { version: 3, workers: [], retired: [] };

  it('carry a drain call to the primary and the state back to the process', async () => {
    const drains: unknown[] = [];
    const states: RouterState[] = [];
    const peers: { primary?: IpcPeer<PrimarySide, ProcessSide>; process?: IpcPeer<ProcessSide, PrimarySide> } = {};
    const primary = new IpcPeer<PrimarySide, ProcessSide>((m) => setImmediate(() => peers.process!.receive(m)), {
      calls: {
        setDrained: ({ id, drained }) => {
          drains.push({ id, drained });
          return id === 'w1' ? 'done' : 'unknown_worker';
        },
        status: () => ({ topologyVersion: 3, processes: 1, workers: [], totals: { inFlight: 0, streams: 0, requests: 0, users: 0 } }),
        history: ({ windowMs }) => ({ intervalMs: 2000, windowMs, historyMs: 600_000, cluster: { state: 'down', workers: 0, routable: 0, down: [], drained: [] }, times: [], workers: [] }),
        metrics: () => ({ contentType: 'text/plain', text: '' }),
        refreshTopology: () => {},
      },
      events: {
        hello: () => primary.emit('state', state),
        listening: () => {},
        refused: () => {},
        broken: () => {},
      },
    });
    const process = new IpcPeer<ProcessSide, PrimarySide>((m) => setImmediate(() => peers.primary!.receive(m)), {
      calls: { stats: () => ({ pid: 1, workers: [], users: [] }), counters: () => ({ pid: 1, workers: [] }), metrics: () => [] },
      events: { state: (next) => states.push(next), shutdown: () => {} },
    });
    Object.assign(peers, { primary, process });

    expect(await process.call('setDrained', { id: 'w1', drained: true, force: false })).toBe('done');
    expect(await process.call('setDrained', { id: 'nope', drained: false, force: false })).toBe('unknown_worker');
    expect(drains).toEqual([
      { id: 'w1', drained: true },
      { id: 'nope', drained: false },
    ]);
    process.emit('hello');
    await delivered();
    expect(states).toEqual([state]);
    expect(await primary.call('stats')).toEqual({ pid: 1, workers: [], users: [] });
  });
});
