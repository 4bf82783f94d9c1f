import { describe, expect, it } from 'vitest';
import { send } from '../../support/http-client.js';
import { FakeCluster } from './fake-cluster.js';

/**
 * The router reads and drops the body of a worker's 421 (or of a refusal it
 * will not pass on) before acting on it. If the connection breaks while
 * that body is still arriving, the status line has already said "nothing was
 * applied": the router acts on the refusal (a 421 is re-resolved and
 * re-sent, even for a write without an Idempotency-Key), and the response of
 * the next attempt reaches the client whole.
 */
async function refusalBrokenOffMidBody(method: 'GET' | 'POST') {
  const cluster = await FakeCluster.start(2);
  try {
    const user = cluster.userOwnedBy('w1');
    const w1 = cluster.worker('w1');
    let refused = 0;
    w1.behavior = (req, res) => {
      if (req.method !== method || refused > 0) return false;
      refused++;
      res.writeHead(421, { 'content-type': 'application/problem+json', 'content-length': '200' });
      res.write('{"code":"misdirected_request","sta');
      setTimeout(() => req.socket.destroy(), 20);
      return true;
    };
    const path = method === 'GET' ? `/api/users/${user}/c/x` : `/api/users/${user}/c`;
    const response = await send(cluster.url, path, {
      method,
      ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{"n":1}' } : {}),
    });
    const attempts = w1.received.filter((r) => r.method === method && r.url === path);
    return { status: response.status, text: response.body, path, refused, attempts };
  } finally {
    await cluster.stop();
  }
}

describe('a refusal whose body breaks off', () => {
  it('re-sends a GET and forwards the next answer whole', async () => {
    const { status, text, path, refused, attempts } = await refusalBrokenOffMidBody('GET');
    expect(refused).toBe(1);
    expect(status).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ worker: 'w1', method: 'GET', url: path });
    expect(attempts).toHaveLength(2);
  });

  it('re-sends a POST without an Idempotency-Key: the 421 said nothing was applied', async () => {
    const { status, text, refused, attempts } = await refusalBrokenOffMidBody('POST');
    expect(refused).toBe(1);
    expect(status).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ worker: 'w1', method: 'POST', body: '{"n":1}' });
    expect(attempts).toHaveLength(2);
  });
});
