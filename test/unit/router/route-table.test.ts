import { afterEach, describe, expect, it } from 'vitest';
import { RouterMetrics } from '../../../router/router-metrics.js';
import { routerOptions } from '../../../router/router-options.js';
import type { RouterState, WorkerState } from '../../../router/router-state.js';
import { WorkerRoutes } from '../../../router/route-table.js';
import { Placement } from '../../../services/topology/placement.js';

const ids = ['w1', 'w2', 'w3'];
const users = Array.from({ length: 300 }, (_, i) => `u${i}`);

function worker(id: string, patch: Partial<WorkerState> = {}): WorkerState {
  return { id, url: `http://127.0.0.1:${3600 + Number(id.slice(1))}`, up: true, drained: false, since: 0, reason: undefined, topologyVersion: 1, ...patch };
}

function state(workers: WorkerState[], version = 1, retired: string[] = []): RouterState {
  return { version, workers, retired };
}

let routes: WorkerRoutes | undefined;
afterEach(async () => {
  await routes?.close();
  routes = undefined;
});

function newRoutes(): WorkerRoutes {
  routes = new WorkerRoutes(routerOptions({ topologyPath: '' }), new RouterMetrics({ defaultMetrics: false }));
  return routes;
}

describe('RouteTable', () => {
  it('routes every user to the owner the workers compute with the same X-Pinbase-Down', () => {
    const table = newRoutes().tableFor(state([worker('w1'), worker('w2', { up: false }), worker('w3', { drained: true })]));
    expect(table.downHeader).toBe('w2,w3');
    const down = new Set(table.downHeader!.split(','));
    const workerView = new Placement(ids);
    for (const user of users) expect(table.owner(user)?.id).toBe(workerView.owner(user, (id) => !down.has(id)));
  });

  it('sends no X-Pinbase-Down when every worker is routable', () => {
    const table = newRoutes().tableFor(state(ids.map((id) => worker(id))));
    expect(table.downHeader).toBeUndefined();
    for (const user of users) expect(table.owner(user)?.id).toBe(new Placement(ids).owner(user));
  });

  it('moves only a down worker\'s users, to their next-ranked worker, and back when it is up', () => {
    const r = newRoutes();
    const all = r.tableFor(state(ids.map((id) => worker(id))));
    const before = users.map((u) => all.owner(u)!.id);
    const w2Down = r.tableFor(state([worker('w1'), worker('w2', { up: false }), worker('w3')]));
    users.forEach((u, i) => {
      const now = w2Down.owner(u)!.id;
      if (before[i] !== 'w2') expect(now).toBe(before[i]);
      else expect(now).toBe(new Placement(ids).rank(u)[1]);
    });
    const back = r.tableFor(state(ids.map((id) => worker(id))));
    expect(users.map((u) => back.owner(u)!.id)).toEqual(before);
  });

  it('keeps recently removed workers in X-Pinbase-Down without routing to them', () => {
    const table = newRoutes().tableFor(state([worker('w1'), worker('w2')], 2, ['w3']));
    expect(table.downHeader).toBe('w3');
    const w1 = table.routes[0]!;
    expect(table.downHeaderExcluding([w1])).toBe('w1,w3');
    for (const user of users) expect(table.owner(user)?.id).toBe(new Placement(ids).owner(user, (id) => id !== 'w3'));
  });

  it('answers no owner when no worker is routable', () => {
    const table = newRoutes().tableFor(state(ids.map((id) => worker(id, { up: false }))));
    expect(table.owner('alice')).toBeUndefined();
    expect(table.anyRoutable()).toBeUndefined();
  });

  it('excludes workers that failed during a request, in the owner and in X-Pinbase-Down', () => {
    const table = newRoutes().tableFor(state(ids.map((id) => worker(id))));
    const user = users.find((u) => table.owner(u)!.id === 'w1')!;
    const w1 = table.routes.find((r) => r.id === 'w1')!;
    const next = table.ownerExcluding(user, [w1]);
    expect(next?.id).toBe(new Placement(ids).rank(user)[1]);
    expect(table.downHeaderExcluding([w1])).toBe('w1');
  });

  it('keeps a worker\'s route (pool and counters) across tables and drops removed workers', () => {
    const r = newRoutes();
    const first = r.tableFor(state(ids.map((id) => worker(id))));
    first.routes[0]!.requests = 5;
    const second = r.tableFor(state([worker('w1'), worker('w2')], 2));
    expect(second.routes[0]).toBe(first.routes[0]);
    expect(second.routes[0]!.requests).toBe(5);
    expect([...r.all()].map((route) => route.id)).toEqual(['w1', 'w2']);
  });
});
