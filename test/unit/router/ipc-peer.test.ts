import { describe, expect, it } from 'vitest';
import { IpcPeer } from '../../../router/ipc-peer.js';

/** Two peers wired back to back, delivering asynchronously like a real channel. */
function pair(aHandlers: Record<string, (args: unknown) => unknown>, bHandlers: Record<string, (args: unknown) => unknown>) {
  const peers: { a?: IpcPeer; b?: IpcPeer } = {};
  const a = new IpcPeer((m) => setImmediate(() => peers.b!.receive(m)), aHandlers);
  const b = new IpcPeer((m) => setImmediate(() => peers.a!.receive(m)), bHandlers);
  Object.assign(peers, { a, b });
  return { a, b };
}

describe('IpcPeer', () => {
  it('answers calls with the handler result, sync or async', async () => {
    const { a } = pair({}, { add: (args) => (args as number[]).reduce((x, y) => x + y, 0), later: async () => 'done' });
    expect(await a.call('add', [1, 2, 3])).toBe(6);
    expect(await a.call('later')).toBe('done');
  });

  it('turns a handler error or an unknown method into a rejected call', async () => {
    const { a } = pair({}, { fail: () => { throw new Error('nope'); } });
    await expect(a.call('fail')).rejects.toThrow('nope');
    await expect(a.call('missing')).rejects.toThrow('no handler for missing');
  });

  it('delivers events without a reply and ignores foreign messages', async () => {
    const got: unknown[] = [];
    const { a, b } = pair({}, { ping: (payload) => got.push(payload) });
    a.emit('ping', { n: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(got).toEqual([{ n: 1 }]);
    expect(b.receive({ cmd: 'NODE_CLUSTER' })).toBe(false);
  });

  it('rejects a call that gets no answer in time, and pending calls on close', async () => {
    const silent = new IpcPeer(() => {}, {});
    await expect(silent.call('x', undefined, 20)).rejects.toThrow(/did not answer x within 20 ms/);
    const pending = silent.call('y', undefined, 10_000);
    silent.close('gone');
    await expect(pending).rejects.toThrow('gone');
  });
});
