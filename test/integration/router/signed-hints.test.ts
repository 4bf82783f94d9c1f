/**
 * The router's X-Pinbase-Down hint, trusted by real workers only when the
 * router signed it with the cluster secret (X-Pinbase-Hint).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HintSigner } from '../../../services/auth/hint-signature.js';
import { send } from '../../support/http-client.js';
import { openSse } from '../../support/sse-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { RealCluster } from './real-cluster.js';

const SECRET = 'cluster-secret-for-the-hint-test-0123456789abcdef';
const secrets = makeTempDir('pinbase-hint-secret-');
let cluster: RealCluster;

beforeAll(async () => {
  const file = join(secrets.path, 'cluster-secret');
  writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
  const flags = ['--cluster-secret-file', file];
  cluster = await RealCluster.start(2, flags, flags);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  secrets.remove();
});

function note(text: string) {
  return { method: 'PUT', json: { text } } as const;
}

describe('hints from the router, signed with the cluster secret', () => {
  it('a client that sends X-Pinbase-Down straight to a worker gets 421: the worker neither serves another worker\'s user nor takes its partition, and the owner\'s SSE stream stays open', async () => {
    const [victim] = cluster.usersOwnedBy('w1', 1, 'victim');
    expect((await send(cluster.url, `/api/users/${victim}/notes/1`, note('before'))).status).toBe(201);
    const stream = await openSse(`${cluster.url}/api/users/${victim}/_changes?since=1`);
    try {
      const attacks: Record<string, string>[] = [{ 'x-pinbase-down': 'w1' }, { 'x-pinbase-down': 'w1', 'x-pinbase-hint': 'garbage' }];
      for (const headers of attacks) {
        const attack = await send(cluster.workerUrl('w2'), `/api/users/${victim}/notes/1`, { headers });
        expect(attack.status, attack.body).toBe(421);
        expect(attack.json()).toMatchObject({ code: 'misdirected_request', owner: 'w1' });
      }
      const write = await send(cluster.url, `/api/users/${victim}/notes/2`, note('after'));
      expect(write.status).toBe(201);
      expect(write.header('x-pinbase-worker')).toBe('w1');
      const [event] = await stream.waitFor(1);
      expect(JSON.parse(event!.data)).toMatchObject({ changes: [{ collection: 'notes', id: '2' }] });
    } finally {
      stream.close();
    }
  });

  it('a worker ignores a forged, a stale and a replayed hint', async () => {
    const [user] = cluster.usersOwnedBy('w1', 1, 'hinted');
    const path = `/api/users/${user}/notes/none`;
    const signer = new HintSigner(SECRET);
    const attempt = (hint: string) => send(cluster.workerUrl('w2'), path, { headers: { 'x-pinbase-down': 'w1', 'x-pinbase-hint': hint } });

    const forged = new HintSigner(`${SECRET}-guessed`).sign('GET', path, 'w1');
    expect((await attempt(forged)).status).toBe(421);
    const stale = signer.sign('GET', path, 'w1', Date.now() - 45_000);
    expect((await attempt(stale)).status).toBe(421);
    const otherTarget = signer.sign('GET', `${path}?x=1`, 'w1');
    expect((await attempt(otherTarget)).status).toBe(421);

    const genuine = signer.sign('GET', path, 'w1');
    const served = await attempt(genuine);
    expect(served.status, served.body).toBe(404);
    expect(served.json().code).toBe('object_not_found');
    expect(served.header('x-pinbase-worker')).toBe('w2');
    const replayed = await attempt(genuine);
    expect(replayed.status).toBe(421);
  });

  it('the router signs its own hints: a drained worker\'s users are served by their next worker', async () => {
    const [user] = cluster.usersOwnedBy('w1', 1, 'drained');
    expect((await send(cluster.url, `/_router/workers/w1/drain`, { method: 'POST' })).status).toBe(200);
    try {
      for (let i = 0; i < 3; i++) {
        const reply = await send(cluster.url, `/api/users/${user}/notes/${i}`, note(`on w2 ${i}`));
        expect(reply.status, reply.body).toBe(201);
        expect(reply.header('x-pinbase-worker')).toBe('w2');
      }
    } finally {
      await send(cluster.url, `/_router/workers/w1/undrain`, { method: 'POST' });
    }
  });
});
