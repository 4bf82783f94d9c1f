import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_CLOSED_REQUEST, type RequestMetrics } from '../../../services/http/app.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { buildTestApp, type TestApp } from '../../support/test-store.js';

/** Counts what the worker's metrics see: requests in flight, and every counted answer's status. */
class CountingMetrics implements RequestMetrics {
  inFlight = 0;
  readonly statuses: number[] = [];
  onRequest(): void {
    this.inFlight++;
  }
  onResponse(_method: string, _route: string, status: number): void {
    this.inFlight--;
    this.statuses.push(status);
  }
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !check() && Date.now() < end; ) await sleep(10);
}

describe('request metrics', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let fixture: TestApp;
  let port: number;
  const metrics = new CountingMetrics();
  beforeAll(async () => {
    dir = makeTempDir('pinbase-request-metrics-');
    fixture = await buildTestApp(join(dir.path, 'data'), { requestMetrics: metrics });
    port = Number(new URL(await fixture.app.listen({ host: '127.0.0.1', port: 0 })).port);
  });
  afterAll(async () => {
    await fixture.close();
    dir.remove();
  });

  it('counts a request whose client goes away before the answer as 499, and it leaves the in-flight count', async () => {
    // A PUT whose body never arrives in full: the worker is still reading it when the client closes.
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('PUT /api/users/alice/notes/n1 HTTP/1.1\r\nHost: w\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"title":');
    await until(() => metrics.inFlight === 1);
    expect(metrics.inFlight).toBe(1);
    socket.destroy();
    await until(() => metrics.inFlight === 0);
    expect(metrics.inFlight).toBe(0);
    expect(metrics.statuses).toEqual([CLIENT_CLOSED_REQUEST]);

    // An answered request is counted once, with its own status.
    const answered = await fetch(`http://127.0.0.1:${port}/api/users/alice/notes/none`);
    expect(answered.status).toBe(404);
    await until(() => metrics.statuses.length === 2);
    expect([metrics.inFlight, metrics.statuses]).toEqual([0, [CLIENT_CLOSED_REQUEST, 404]]);
  });
});
