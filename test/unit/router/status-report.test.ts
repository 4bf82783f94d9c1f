import { describe, expect, it } from 'vitest';
import { buildStatus } from '../../../router/status-report.js';
import type { RouterState } from '../../../router/router-state.js';
import { Placement } from '../../../services/topology/placement.js';
import { formatStatus } from '../../../services/cli/status-command.js';

/** Counters without responses or latency observations (buildStatus does not read them). */
const quiet = { responses: [0, 0, 0, 0, 0, 0], latency: [] };

const state: RouterState = {
  version: 4,
  retired: [],
  workers: [
    { id: 'w1', url: 'http://127.0.0.1:3601', up: true, drained: false, since: 0, reason: undefined, topologyVersion: 4 },
    { id: 'w2', url: 'http://127.0.0.1:3602', up: false, drained: false, since: 0, reason: 'ECONNREFUSED', topologyVersion: undefined },
  ],
};

describe('buildStatus', () => {
  it('sums the counters of every process and counts each user once, at its current owner', () => {
    const users = Array.from({ length: 50 }, (_, i) => `u${i}`);
    const status = buildStatus(state, [
      { pid: 1, workers: [{ id: 'w1', inFlight: 2, streams: 4, requests: 10, ...quiet }, { id: 'w2', inFlight: 0, streams: 0, requests: 5, ...quiet }], users: users.slice(0, 30) },
      { pid: 2, workers: [{ id: 'w1', inFlight: 1, streams: 1, requests: 7, ...quiet }], users: users.slice(20) },
    ]);
    expect(status.topologyVersion).toBe(4);
    expect(status.processes).toBe(2);
    const [w1, w2] = status.workers;
    expect(w1).toMatchObject({ id: 'w1', health: 'up', routable: true, inFlight: 3, streams: 5, requests: 17, users: 50 });
    expect(w2).toMatchObject({ id: 'w2', health: 'down', routable: false, reason: 'ECONNREFUSED', inFlight: 0, requests: 5, users: 0 });
    expect(status.totals).toEqual({ inFlight: 3, streams: 5, requests: 22, users: 50 });
  });

  it('splits users by placement when every worker is up', () => {
    const up: RouterState = { ...state, workers: state.workers.map((w) => ({ ...w, up: true })) };
    const users = Array.from({ length: 40 }, (_, i) => `u${i}`);
    const status = buildStatus(up, [{ pid: 1, workers: [], users }]);
    const onW1 = users.filter((u) => new Placement(['w1', 'w2']).owner(u) === 'w1').length;
    expect(status.workers.map((w) => w.users)).toEqual([onW1, 40 - onW1]);
  });
});

describe('formatStatus', () => {
  it('prints one aligned row per worker with its health', () => {
    const text = formatStatus('http://127.0.0.1:8080', buildStatus(state, [{ pid: 1, workers: [], users: ['alice'] }]));
    const lines = text.split('\n');
    expect(lines[0]).toBe('Router http://127.0.0.1:8080 · topology v4 · 1 process · 1/2 workers routable');
    expect(lines[2]).toMatch(/^WORKER\s+URL\s+HEALTH\s+USERS\s+IN-FLIGHT\s+REQUESTS$/);
    expect(lines[3]).toMatch(/^w1\s+http:\/\/127\.0\.0\.1:3601\s+up\s+1\s+0\s+0$/);
    expect(lines[4]).toMatch(/^w2\s+http:\/\/127\.0\.0\.1:3602\s+down \(ECONNREFUSED\)\s+0\s+0\s+0$/);
    expect(lines[6]).toBe('1 user seen recently, 0 in flight, 0 requests');
  });
});
