/**
 * The client (`pinbase/client`) in router mode against a real local cluster
 * with authentication on: every method of the collection and user handles,
 * pagination across pages, snapshot views, transactions and conflicts,
 * preconditions, typed errors, and the change feed over SSE.
 */
import { connect, createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, PinbaseError, type PinbaseClient } from '../../../services/client/index.js';
import { startAuthCluster, type AuthCluster } from './auth-cluster.js';

interface Note {
  title: string;
  n?: number;
  status?: string;
  tags?: string[];
}

describe('the client through the router', () => {
  let env: AuthCluster;
  let client: PinbaseClient;

  beforeAll(async () => {
    env = await startAuthCluster(2);
    client = createClient({ url: env.cluster.url, getToken: (userId) => env.tokenFor(userId), deadlineMs: 10_000 });
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await env?.stop();
  });

  const error = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e as PinbaseError);

  it('creates, reads, replaces, patches (merge and JSON Patch) and deletes, with the revision and seq of each answer', async () => {
    const notes = client.user('crud').collection<Note>('notes');
    const created = await notes.create({ title: 'a' });
    expect(created).toEqual({ id: expect.stringMatching(/^[0-9A-Z]{26}$/), rev: 1, seq: 1, data: { title: 'a' } });
    expect(await notes.get(created.id)).toEqual({ id: created.id, rev: 1, seq: 1, data: { title: 'a' } });

    const put = await notes.put('n1', { title: 'b', tags: ['x'] });
    expect(put).toEqual({ id: 'n1', rev: 2, seq: 2, data: { title: 'b', tags: ['x'] } });
    const merged = await notes.patch('n1', { title: 'c', tags: null });
    expect(merged).toEqual({ collection: 'notes', id: 'n1', rev: 3, seq: 3 });
    expect((await notes.get('n1')).data).toEqual({ title: 'c' });
    await notes.patch('n1', [{ op: 'add', path: '/n', value: 7 }, { op: 'test', path: '/title', value: 'c' }]);
    expect((await notes.get('n1')).data).toEqual({ title: 'c', n: 7 });

    const deleted = await notes.delete('n1', { ifRev: 4 });
    expect(deleted).toEqual({ collection: 'notes', id: 'n1', rev: 5, seq: 5, deleted: true });
    const missing = await error(notes.get('n1'));
    expect(missing).toBeInstanceOf(PinbaseError);
    expect(missing).toMatchObject({ status: 404, code: 'object_not_found', retryable: false, title: 'Object not found' });
  });

  it('turns ifRev and ifAbsent into preconditions: a stale one is 412 precondition_failed and changes nothing', async () => {
    const notes = client.user('preconditions').collection<Note>('notes');
    const first = await notes.put('p', { title: 'one' }, { ifAbsent: true });
    const again = await error(notes.put('p', { title: 'two' }, { ifAbsent: true }));
    expect(again).toMatchObject({ status: 412, code: 'precondition_failed', retryable: false });
    const second = await notes.put('p', { title: 'two' }, { ifRev: first.rev });
    const stale = await error(notes.put('p', { title: 'lost' }, { ifRev: first.rev }));
    expect(stale).toMatchObject({ status: 412, code: 'precondition_failed' });
    expect(stale?.problem?.currentRev).toBe(second.rev);
    expect(await error(notes.patch('p', { title: 'lost' }, { ifRev: first.rev }))).toMatchObject({ code: 'precondition_failed' });
    expect(await error(notes.delete('p', { ifRev: first.rev }))).toMatchObject({ code: 'precondition_failed' });
    expect(await notes.get('p')).toMatchObject({ rev: second.rev, data: { title: 'two' } });
  });

  it('throws the server\'s typed 400s and 401/403 at once, without retrying them', async () => {
    const user = client.user('typed-errors');
    const bad = await error(user.collection('Not_A_Collection').get('x'));
    expect(bad).toMatchObject({ status: 400, code: 'invalid_collection', retryable: false });
    expect(bad?.problem?.type).toBe('urn:pinbase:problem:invalid_collection');
    const badFilter = await error(user.collection('notes').query({ filter: { $where: 1 } }).next());
    expect(badFilter).toMatchObject({ status: 400, code: 'invalid_filter' });

    const stranger = createClient({ url: env.cluster.url, token: await env.tokenFor('someone-else'), deadlineMs: 10_000 });
    const started = Date.now();
    expect(await error(stranger.user('typed-errors').collection('notes').get('x'))).toMatchObject({ status: 403, code: 'forbidden' });
    const noToken = createClient({ url: env.cluster.url, deadlineMs: 10_000 });
    expect(await error(noToken.user('typed-errors').collection('notes').get('x'))).toMatchObject({ status: 401, code: 'missing_token' });
    const readOnly = createClient({ url: env.cluster.url, token: await env.tokenFor('typed-errors', ['read']) });
    expect(await error(readOnly.user('typed-errors').collection('notes').create({}))).toMatchObject({ status: 403, code: 'insufficient_scope' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('lists and queries page by page, following the cursor to the end', async () => {
    const notes = client.user('pages').collection<Note>('notes');
    for (let i = 0; i < 7; i++) await notes.put(`n${i}`, { title: `t${i}`, n: i, status: i % 2 === 0 ? 'open' : 'done' });
    const listed: string[][] = [];
    for await (const page of notes.list({ limit: 3 })) listed.push(page.items.map((item) => item.id));
    expect(listed).toEqual([['n0', 'n1', 'n2'], ['n3', 'n4', 'n5'], ['n6']]);

    const pages: { id: string; data: unknown }[][] = [];
    for await (const page of notes.query({ filter: { status: 'open' }, order: ['-n'], fields: ['n'], limit: 2 })) {
      pages.push(page.items.map(({ id, data }) => ({ id, data })));
    }
    expect(pages).toEqual([
      [{ id: 'n6', data: { n: 6 } }, { id: 'n4', data: { n: 4 } }],
      [{ id: 'n2', data: { n: 2 } }, { id: 'n0', data: { n: 0 } }],
    ]);
    const all: string[] = [];
    for await (const page of notes.query({ limit: 4 })) all.push(...page.items.map((item) => item.id));
    expect(all).toHaveLength(7);
  });

  it('reads a snapshot with at(seq): get, list and query see that commit, and history lists the versions', async () => {
    const user = client.user('snapshots');
    const notes = user.collection<Note>('notes');
    const v1 = await notes.put('s', { title: 'first' });
    await notes.put('other', { title: 'later' });
    await notes.put('s', { title: 'second' });
    const then = user.at(v1.seq).collection<Note>('notes');
    expect(await then.get('s')).toEqual({ id: 's', rev: v1.rev, seq: v1.seq, data: { title: 'first' } });
    expect(await error(then.get('other'))).toMatchObject({ code: 'object_not_found' });
    const listed: string[] = [];
    for await (const page of then.list({ limit: 1 })) {
      expect(page.seq).toBe(v1.seq);
      listed.push(...page.items.map((item) => `${item.id}:${item.data.title}`));
    }
    expect(listed).toEqual(['s:first']);
    const queried: string[] = [];
    for await (const page of then.query({ filter: { title: 'first' } })) queried.push(...page.items.map((item) => item.id));
    expect(queried).toEqual(['s']);

    const history = await notes.history('s');
    expect(history.versions.map((v) => v.data?.title)).toEqual(['second', 'first']);
    expect(history.next).toBeNull();
    const older = await notes.history('s', { limit: 1 });
    expect(older.versions).toHaveLength(1);
    expect((await notes.history('s', { before: older.next! })).versions.map((v) => v.data?.title)).toEqual(['first']);
  });

  it('commits a transaction all or nothing, and a conflict is 409 transaction_conflict listing it', async () => {
    const user = client.user('transactions');
    const notes = user.collection<Note>('notes');
    const a = await notes.put('a', { title: 'a' });
    const result = await user.tx(
      [{ collection: 'notes', id: 'a', rev: a.rev }],
      [
        { op: 'put', collection: 'notes', id: 'b', data: { title: 'b' } },
        { op: 'patch', collection: 'notes', id: 'a', patch: { title: 'a2' }, ifRev: a.rev },
      ],
    );
    expect(result.results.map((r) => `${r.op}:${r.id}:${r.rev}`)).toEqual([`put:b:${result.seq}`, `patch:a:${result.seq}`]);
    const conflict = await error(
      user.tx([{ collection: 'notes', id: 'a', rev: a.rev }], [{ op: 'delete', collection: 'notes', id: 'b' }]),
    );
    expect(conflict).toMatchObject({ status: 409, code: 'transaction_conflict', retryable: false });
    expect(conflict?.problem?.conflicts).toEqual([expect.objectContaining({ collection: 'notes', id: 'a', expected: a.rev, actual: result.seq })]);
    expect((await notes.get('b')).data).toEqual({ title: 'b' });
  });

  it('replays a write sent again with the same idempotencyKey instead of applying it twice', async () => {
    const notes = client.user('idempotent').collection<Note>('notes');
    const first = await notes.create({ title: 'once' }, { idempotencyKey: 'order-42' });
    const second = await notes.create({ title: 'once' }, { idempotencyKey: 'order-42' });
    expect(second).toEqual(first);
    const reused = await error(notes.create({ title: 'other' }, { idempotencyKey: 'order-42' }));
    expect(reused).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    let count = 0;
    for await (const page of notes.list()) count += page.items.length;
    expect(count).toBe(1);
  });

  it('applies a write once when its first answer is lost: the retry carries the same key and gets the replay', async () => {
    // A TCP forwarder to the router that passes the first request on, then cuts the connection instead of the answer.
    const router = new URL(env.cluster.url);
    let connections = 0;
    let dropped = false;
    const forwarder: Server = createServer((downstream) => {
      connections++;
      const upstream = connect(Number(router.port), router.hostname);
      downstream.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => {
        if (!dropped) {
          dropped = true;
          downstream.destroy();
          upstream.destroy();
        } else downstream.write(chunk);
      });
      upstream.on('error', () => downstream.destroy());
      downstream.on('error', () => upstream.destroy());
    });
    await new Promise<void>((done) => forwarder.listen(0, '127.0.0.1', done));
    const lossy = createClient({ url: `http://127.0.0.1:${(forwarder.address() as AddressInfo).port}`, getToken: (u) => env.tokenFor(u), deadlineMs: 10_000 });
    try {
      const created = await lossy.user('lost-answer').collection<Note>('notes').create({ title: 'once' });
      expect(dropped).toBe(true);
      expect(connections).toBeGreaterThanOrEqual(2);
      const items: unknown[] = [];
      for await (const page of client.user('lost-answer').collection<Note>('notes').list()) items.push(...page.items);
      expect(items).toEqual([{ id: created.id, rev: created.rev, seq: created.seq, data: { title: 'once' } }]);
    } finally {
      await new Promise((done) => forwarder.close(done));
    }
  });

  it('follows the change feed over SSE from a seq, one event per commit, and stops when the signal aborts', async () => {
    const user = client.user('feed-sse');
    const notes = user.collection<Note>('notes');
    const start = await notes.put('x', { title: 'before' });
    const controller = new AbortController();
    const seen: unknown[] = [];
    const following = (async () => {
      for await (const change of user.changes({ since: start.seq, signal: controller.signal, transport: 'sse', includeData: true })) {
        seen.push(change);
        if (seen.length === 2) controller.abort();
      }
    })();
    const one = await notes.put('y', { title: 'one' });
    const two = await user.tx([], [{ op: 'put', collection: 'notes', id: 'z', data: { title: 'two' } }, { op: 'delete', collection: 'notes', id: 'x' }]);
    await following;
    expect(seen).toEqual([
      { seq: one.seq, changes: [{ seq: one.seq, collection: 'notes', id: 'y', deleted: false, data: { title: 'one' } }] },
      {
        seq: two.seq,
        changes: [
          { seq: two.seq, collection: 'notes', id: 'x', deleted: true, data: null },
          { seq: two.seq, collection: 'notes', id: 'z', deleted: false, data: { title: 'two' } },
        ],
      },
    ]);
  });

  it('follows the change feed over a WebSocket through the router (Node: the token in the upgrade header)', async () => {
    const user = client.user('feed-ws');
    const notes = user.collection<Note>('notes');
    const start = await notes.put('x', { title: 'before' });
    const controller = new AbortController();
    const seen: number[] = [];
    const following = (async () => {
      for await (const change of user.changes({ since: start.seq, signal: controller.signal, transport: 'websocket' })) {
        seen.push(change.seq);
        expect(change.changes[0]).toMatchObject({ collection: 'notes', deleted: false });
        if (seen.length === 2) controller.abort();
      }
    })();
    const one = await notes.put('y', { title: 'one' });
    const two = await notes.put('z', { title: 'two' });
    await following;
    expect(seen).toEqual([one.seq, two.seq]);
  });

  it('lets go of a WebSocket its consumer cannot keep up with (maxBuffered) and resumes after the last commit delivered: each commit once, in order', async () => {
    const user = client.user('feed-slow');
    const notes = user.collection<Note>('notes');
    const seqs: number[] = [];
    for (let n = 0; n < 40; n++) seqs.push((await notes.put(`n${n}`, { title: String(n) })).seq);
    // Count the connections the feed makes, with the WebSocket it would use anyway.
    const { NodeWebSocket } = await import('../../../services/client/node-websocket.js');
    let connections = 0;
    const Counting = class extends NodeWebSocket {
      constructor(...args: ConstructorParameters<typeof NodeWebSocket>) {
        super(...args);
        connections++;
      }
    };
    const globals = globalThis as { WebSocket?: unknown };
    const before = globals.WebSocket;
    globals.WebSocket = Counting;
    try {
      const controller = new AbortController();
      const seen: number[] = [];
      for await (const event of user.changes({ since: 0, signal: controller.signal, transport: 'websocket', maxBuffered: 4 })) {
        seen.push(event.seq);
        // A slow consumer: the 40 commits of the catch-up arrive while it works on the first ones.
        if (seen.length <= 8) await new Promise((resolve) => setTimeout(resolve, 25));
        if (event.seq === seqs.at(-1)) controller.abort();
      }
      expect(seen).toEqual(seqs);
      expect(connections).toBeGreaterThan(1);
    } finally {
      globals.WebSocket = before;
    }
  });

  it('delivers an import (one commit larger than a page) in parts, every object once, over SSE and a WebSocket', async () => {
    const count = 2300;
    const lines = [JSON.stringify({ type: 'header', format: 'pinbase-export', version: 1, user: 'x', seq: 1, history: false, prunedThrough: 0, exportedAt: '2026-12-02T00:00:00.000Z' })];
    for (let n = 0; n < count; n++) lines.push(JSON.stringify({ type: 'version', collection: 'notes', id: `n${n}`, rev: 1, deleted: false, committedAt: 1, data: { title: String(n) } }));
    lines.push(JSON.stringify({ type: 'end', count }));
    const imported = await fetch(`${env.cluster.url}/api/users/feed-import/_import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await env.tokenFor('feed-import')}`, 'content-type': 'application/x-ndjson' },
      body: `${lines.join('\n')}\n`,
    });
    expect(imported.status, await imported.clone().text()).toBe(200);
    const later = await client.user('feed-import').collection<Note>('notes').put('after', { title: 'after' });
    for (const transport of ['sse', 'websocket'] as const) {
      const controller = new AbortController();
      const parts: { seq: number; partial: boolean | undefined; ids: string[] }[] = [];
      for await (const event of client.user('feed-import').changes({ since: 0, signal: controller.signal, transport })) {
        parts.push({ seq: event.seq, partial: event.partial, ids: event.changes.map((c) => c.id) });
        if (event.seq === later.seq) controller.abort();
      }
      expect(parts.map((p) => [p.seq, p.ids.length, p.partial]), transport).toEqual([
        [1, 1000, true],
        [1, 1000, true],
        [1, 300, undefined],
        [later.seq, 1, undefined],
      ]);
      expect(new Set(parts.flatMap((p) => p.ids)).size).toBe(count + 1);
    }
  });

  it('ends the feed with a typed 403 for a token of another user', async () => {
    const stranger = createClient({ url: env.cluster.url, token: await env.tokenFor('someone-else') });
    const feed = stranger.user('feed-sse').changes({ since: 0, transport: 'sse' });
    expect(await error(feed.next())).toMatchObject({ status: 403, code: 'forbidden' });
  });
});
