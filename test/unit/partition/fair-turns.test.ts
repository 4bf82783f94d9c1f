import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FairTurns, MIN_CHARGE_MS, ROUND_MS } from '../../../services/partition/fair-turns.js';
import { jsonRequest, startHttpFixture, type HttpFixture } from '../http/http-harness.js';

describe('FairTurns', () => {
  it('lets a user run until it has spent its round, then queues its work for later rounds, one piece per user per round, in order', async () => {
    const turns = new FairTurns();
    expect(turns.admit('a')).toBeUndefined();
    turns.charge('a', ROUND_MS);
    expect(turns.admit('b')).toBeUndefined();
    const ran: string[] = [];
    const queue = (user: string, name: string) => void turns.admit(user)!.then(() => {
      ran.push(name);
      turns.charge(user, ROUND_MS);
    });
    queue('a', 'a1');
    queue('a', 'a2');
    turns.charge('b', ROUND_MS);
    queue('b', 'b1');
    queue('a', 'a3');
    expect(ran).toEqual([]);
    await nextTurn();
    expect(ran).toEqual(['a1', 'b1']);
    await nextTurn();
    expect(ran).toEqual(['a1', 'b1', 'a2']);
    await nextTurn();
    expect(ran).toEqual(['a1', 'b1', 'a2', 'a3']);
    await nextTurn();
    expect(turns.waitingUsers).toBe(0);
    expect(turns.waits).toBe(4);
    // The round is over: a runs at once again.
    expect(turns.admit('a')).toBeUndefined();
  });

  it('queues new work behind a user\'s waiting work even when its round is not spent', async () => {
    const turns = new FairTurns();
    turns.charge('a', ROUND_MS);
    const first = turns.admit('a');
    await nextTurn();
    // first was released and has not charged anything yet; nothing waits now.
    await first;
    turns.charge('a', ROUND_MS / 2);
    expect(turns.admit('a')).toBeUndefined();
    const ran: number[] = [];
    turns.later('a', () => ran.push(1));
    expect(turns.mustWait('a')).toBe(true);
    await nextTurn();
    expect(ran).toEqual([1]);
  });

  it('counts nothing below MIN_CHARGE_MS: the ordinary request never waits nor schedules a round', () => {
    const turns = new FairTurns();
    for (let i = 0; i < 10_000; i++) turns.charge('a', MIN_CHARGE_MS / 2);
    expect(turns.admit('a')).toBeUndefined();
    expect(turns.mustWait('a')).toBe(false);
  });
});

describe('a busy tenant beside a quiet one', () => {
  let fx: HttpFixture;
  beforeEach(async () => {
    fx = await startHttpFixture();
  });
  afterEach(async () => {
    await fx.close();
  });

  it("answers the quiet tenant's GET after a round of the busy one's sorts, not after all of them", async () => {
    const ops = Array.from({ length: 4000 }, (_, n) => ({ op: 'put', collection: 'orders', id: `o${n}`, data: { n, note: 'an order' } }));
    for (let i = 0; i < ops.length; i += 1000) {
      expect((await fx.app.inject(jsonRequest('POST', '/api/users/heavy/_tx', { ops: ops.slice(i, i + 1000) }))).statusCode).toBe(200);
    }
    expect((await fx.app.inject(jsonRequest('PUT', '/api/users/light/notes/n1', { text: 'hi' }))).statusCode).toBe(201);
    // Both files open, statements prepared.
    await fx.app.inject({ method: 'GET', url: '/api/users/heavy/orders?order=-n&limit=20' });
    await fx.app.inject({ method: 'GET', url: '/api/users/light/notes/n1' });

    const order: string[] = [];
    const sorts = Array.from({ length: 24 }, (_, i) =>
      fx.app.inject({ method: 'GET', url: '/api/users/heavy/orders?order=-n&limit=20' }).then((response) => {
        expect(response.statusCode).toBe(200);
        order.push(`sort${i}`);
      }),
    );
    const get = fx.app.inject({ method: 'GET', url: '/api/users/light/notes/n1' }).then((response) => {
      expect(response.statusCode).toBe(200);
      order.push('get');
    });
    await Promise.all([...sorts, get]);
    // Each sort of 4,000 objects costs milliseconds: a round (ROUND_MS) holds a few of them, not 24.
    expect(order.indexOf('get'), order.join(' ')).toBeLessThan(20);
    // What pinbase_turn_waits_total reports: the sorts that waited for a later turn.
    expect(fx.store.pool.turns.waits).toBeGreaterThan(0);
  });

  it("commits the busy tenant's large transactions a round at a time, not all in one batch, and every one of them", async () => {
    expect((await fx.app.inject(jsonRequest('PUT', '/api/users/light/notes/n1', { text: 'hi' }))).statusCode).toBe(201);
    const tx = (i: number) => ({ ops: Array.from({ length: 1000 }, (_, n) => ({ op: 'put', collection: 'orders', id: `o${n}`, data: { n, i, note: 'an order' } })) });
    expect((await fx.app.inject(jsonRequest('POST', '/api/users/heavy/_tx', tx(-1)))).statusCode).toBe(200);

    fx.batches.length = 0;
    const order: string[] = [];
    // 24 transactions of 1000 puts queue on heavy's partition: without rounds they are one batch of 24.
    const writes = Array.from({ length: 24 }, (_, i) =>
      fx.app.inject(jsonRequest('POST', '/api/users/heavy/_tx', tx(i))).then((response) => {
        expect(response.statusCode).toBe(200);
        order.push(`tx${i}`);
      }),
    );
    const put = fx.app.inject(jsonRequest('PUT', '/api/users/light/notes/n1', { text: 'again' })).then((response) => {
      expect(response.statusCode).toBe(200);
      order.push('put');
    });
    await Promise.all([...writes, put]);
    // Each transaction of 1000 puts holds the event loop for milliseconds: a batch ends after a round
    // (ROUND_MS) of them, and the rest wait for later rounds, light's batch between them.
    expect(Math.max(...fx.batches), fx.batches.join(' ')).toBeLessThan(24);
    expect(fx.batches.length, fx.batches.join(' ')).toBeGreaterThanOrEqual(4);
    expect(order).toContain('put');
    // Every transaction committed, each once, in order.
    const history = await fx.app.inject({ method: 'GET', url: '/api/users/heavy/orders/o0/_history?limit=100' });
    expect((JSON.parse(history.body) as { versions: { data: { i: number } }[] }).versions.map((v) => v.data.i).reverse()).toEqual([-1, ...Array.from({ length: 24 }, (_, i) => i)]);
  });
});
