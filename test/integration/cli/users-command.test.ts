/**
 * `pinbase users` against a real cluster (router + 2 workers, tokens
 * checked, the admin token from `--data` as `pinbase up` lays it out): the
 * listing shows every tenant with its owner, size and a last seq matching
 * its writes, whether its partition is open on the worker the router asked,
 * open on the other worker, or closed; --limit 1 pages through all of them.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RoutedTenantPage } from '../../../router/tenant-list.js';
import { ensureLocalSecrets, type LocalSecrets } from '../../../services/auth/local-secrets.js';
import { readSecretLines } from '../../../services/auth/secret-file.js';
import { signUserToken } from '../../../services/auth/token-signer.js';
import { CLI } from '../../support/cli-process.js';
import { freePort } from '../../support/free-port.js';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { RealCluster } from '../router/real-cluster.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `pinbase users <args>` in `cwd`, asynchronously (the cluster answers on this event loop's sockets too). */
function users(cwd: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'users', ...args], { cwd, env: { ...process.env, PINBASE_ROUTER: '', PINBASE_DATA: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('pinbase users against a real cluster', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let secrets: LocalSecrets;
  let cluster: RealCluster;
  /** Writes per tenant: the last seq each must show (one commit per write). */
  const writes = new Map<string, number>();
  let closed: string;

  beforeAll(async () => {
    dir = makeTempDir();
    secrets = ensureLocalSecrets(join(dir.path, 'data'));
    const flags = ['--admin-token-file', secrets.adminTokenFile, '--cluster-secret-file', secrets.clusterSecretFile];
    cluster = await RealCluster.start(2, flags, ['--auth-secret-file', secrets.authSecretFile, ...flags]);
    const secret = readSecretLines(secrets.authSecretFile, 'auth secret', 32)[0]!;
    const auth = { authorization: `Bearer ${await signUserToken(secret, { userId: 'test', scopes: ['service'], ttlSeconds: 600 })}` };
    const tenants = [...cluster.usersOwnedBy('w1', 2, 'a'), ...cluster.usersOwnedBy('w2', 2, 'b')];
    for (const [i, user] of tenants.entries()) {
      for (let n = 0; n <= i; n++) {
        const res = await send(cluster.url, `/api/users/${user}/notes/n${n}`, { method: 'PUT', headers: auth, json: { n } });
        expect(res.status, res.body).toBeLessThan(300);
      }
      writes.set(user, i + 1);
    }
    // One tenant closed on its owner: read from its file rather than from an open partition.
    closed = tenants[0]!;
    const release = await send(cluster.workerUrl(cluster.ownerOf(closed)), `/_worker/partitions/${closed}/release`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cluster.adminToken}` },
    });
    expect(release.status, release.body).toBe(200);
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
    dir?.remove();
  });

  it('lists every tenant with its owner, its size and the last seq of its writes, open on either worker or closed', async () => {
    const run = await users(dir.path, '--router', cluster.url, '--data', 'data');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^ID\s+OWNER\s+SIZE\s+LAST SEQ\s+LAST WRITE$/);
    for (const [user, seq] of writes) {
      const row = lines.find((line) => line.startsWith(`${user} `));
      expect(row, `${user} in\n${run.stdout}`).toMatch(new RegExp(`^${user}\\s+${cluster.ownerOf(user)}\\s+\\d+\\.\\d KiB\\s+${seq}\\s+20\\d\\d-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`));
    }
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe(`${writes.size} tenants.`);
    const json = await users(dir.path, '--router', cluster.url, '--data', 'data', '--json');
    const page = JSON.parse(json.stdout) as RoutedTenantPage;
    expect(Object.fromEntries(page.users.map((u) => [u.id, u.lastSeq]))).toEqual(Object.fromEntries(writes));
    expect(page.users.every((u) => Date.parse(u.lastWriteAt!) <= Date.parse(u.modifiedAt) + 1000)).toBe(true);
  });

  it('pages one tenant at a time: the next-page command, and --all covering every tenant once with the total', async () => {
    const first = await users(dir.path, '-r', cluster.url, '-d', 'data', '-n', '1');
    const ids = [...writes.keys()].sort();
    expect(first.stdout).toContain(`1 shown, ${ids.length} tenants in all.`);
    expect(first.stdout).toContain(`Next page: pinbase users --router ${cluster.url} --limit 1 --after ${ids[0]}`);
    const all = await users(dir.path, '-r', cluster.url, '-d', 'data', '-n', '1', '--all', '--json');
    const pages = all.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as RoutedTenantPage);
    expect(pages).toHaveLength(ids.length);
    expect(pages.flatMap((p) => p.users.map((u) => u.id))).toEqual(ids);
    expect(pages.every((p) => p.total === ids.length)).toBe(true);
  });

  it('says that the admin token is needed, or that the router may not be running', async () => {
    const outside = makeTempDir();
    try {
      const refused = await users(outside.path, '--router', cluster.url);
      expect(refused).toMatchObject({ code: 2, stderr: `pinbase: the router at ${cluster.url} needs the cluster's admin token to list tenants: pass --admin-token-file FILE (or --data DIR of \`pinbase up\`)\n` });
      const down = `http://127.0.0.1:${await freePort()}`;
      const unreachable = await users(outside.path, '--router', down);
      expect(unreachable.code).toBe(2);
      expect(unreachable.stderr).toMatch(/^pinbase: cannot reach the router at .*; is `pinbase up` \(or the router\) running\? \(--router URL\)\n$/);
    } finally {
      outside.remove();
    }
  });
});
