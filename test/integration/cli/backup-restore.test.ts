/**
 * `pinbase export | import | backup --all | restore --all` against real
 * clusters (router + 2 workers each, tokens checked), with the credentials
 * of a `pinbase up` data directory (--data: a service token minted per run,
 * the admin token for /_router/users).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalSecrets, type LocalSecrets } from '../../../services/auth/local-secrets.js';
import { readSecretLines } from '../../../services/auth/secret-file.js';
import { signUserToken } from '../../../services/auth/token-signer.js';
import { fanOutDir } from '../../../services/partition/user-id.js';
import { CLI } from '../../support/cli-process.js';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { RealCluster } from '../router/real-cluster.js';

const TENANTS = Array.from({ length: 30 }, (_, i) => `t${String(i).padStart(2, '0')}`);

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** `pinbase <args>` in `cwd`, asynchronously (the clusters answer on this event loop's sockets too). */
function pinbase(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, PINBASE_TOKEN: '', ...env } });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

/** A cluster whose workers check tokens with the secrets of `secrets` (as `pinbase up` sets them up). */
function startCluster(secrets: LocalSecrets): Promise<RealCluster> {
  const cluster = ['--admin-token-file', secrets.adminTokenFile, '--cluster-secret-file', secrets.clusterSecretFile];
  return RealCluster.start(2, cluster, ['--auth-secret-file', secrets.authSecretFile, ...cluster]);
}

describe('pinbase export, import, backup --all and restore --all through the router', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let secrets: LocalSecrets;
  let source: RealCluster;
  let target: RealCluster;
  let auth: Record<string, string>;
  let admin: Record<string, string>;

  /** The NDJSON export of `user`, without the header's exportedAt and user (what differs between two equal tenants). */
  async function exported(cluster: RealCluster, user: string): Promise<string[]> {
    const res = await send(cluster.url, `/api/users/${user}/_export?history=true`, { headers: { ...auth, accept: 'application/x-ndjson' } });
    expect(res.status, `${user}: ${res.body}`).toBe(200);
    const lines = res.body.trimEnd().split('\n');
    const header = JSON.parse(lines[0]!) as Record<string, unknown>;
    delete header.exportedAt;
    delete header.user;
    return [JSON.stringify(header), ...lines.slice(1)];
  }

  beforeAll(async () => {
    dir = makeTempDir();
    secrets = ensureLocalSecrets(join(dir.path, 'data'));
    [source, target] = await Promise.all([startCluster(secrets), startCluster(secrets)]);
    const secret = readSecretLines(secrets.authSecretFile, 'auth secret', 32)[0]!;
    auth = { authorization: `Bearer ${await signUserToken(secret, { userId: 'test', scopes: ['service'], ttlSeconds: 600 })}` };
    admin = { authorization: `Bearer ${readFileSync(secrets.adminTokenFile, 'utf8').trim()}` };
    await Promise.all(
      TENANTS.map(async (user, i) => {
        for (let n = 0; n <= i % 4; n++) {
          const res = await send(source.url, `/api/users/${user}/notes/n${n}`, { method: 'PUT', headers: auth, json: { user, n, tags: ['a', n] } });
          expect(res.status).toBeLessThan(300);
        }
        if (i % 5 === 0) await send(source.url, `/api/users/${user}/notes/n0`, { method: 'DELETE', headers: auth });
      }),
    );
  }, 90_000);
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
    dir?.remove();
  });

  it('lists the tenants on storage page by page, with their owners, only with the admin token', async () => {
    expect((await send(source.url, '/_router/users')).status).toBe(401);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const res = await send(source.url, `/_router/users?limit=7${after === null ? '' : `&after=${after}`}`, { headers: admin });
      expect(res.status).toBe(200);
      const page = res.json() as { users: { id: string; owner: string; bytes: number }[]; next: string | null; total: number };
      expect(page.total).toBe(TENANTS.length);
      for (const user of page.users) expect(user.owner).toBe(source.ownerOf(user.id));
      seen.push(...page.users.map((u) => u.id));
      after = page.next;
    } while (after !== null);
    expect(seen).toEqual(TENANTS);
    expect((await send(source.url, '/_router/users?limit=1001', { headers: admin })).status).toBe(400);
  });

  it('exports a tenant and imports it elsewhere, in both formats, equal to the source', async () => {
    const data = join(dir.path, 'data');
    for (const format of ['ndjson', 'sqlite'] as const) {
      const file = join(dir.path, `t03.${format}`);
      const out = await pinbase(dir.path, ['export', 't03', '--router', source.url, '--data', data, '--format', format, '--history', '-o', file]);
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      expect(existsSync(`${file}.partial`)).toBe(false);
      const imported = await pinbase(dir.path, ['import', `copy-${format}`, file, '--router', target.url, '--data', data]);
      expect(imported.stderr).toBe('');
      expect(JSON.parse(imported.stdout.toString())).toMatchObject({ objects: 4 });
      expect(await exported(target, `copy-${format}`)).toEqual(await exported(source, 't03'));
    }
    // To stdout, with the token from the environment.
    const piped = await pinbase(dir.path, ['export', 't03', '--router', source.url], { PINBASE_TOKEN: auth.authorization!.slice(7) });
    expect(piped.code).toBe(0);
    expect(piped.stdout.toString().trimEnd().split('\n').at(-1)).toBe('{"type":"end","count":4}');
    // Into a tenant that has data: the problem's code, and nothing changes.
    const again = await pinbase(dir.path, ['import', 'copy-ndjson', join(dir.path, 't03.ndjson'), '--router', target.url, '--data', data]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/409 tenant_not_empty/);
  }, 60_000);

  it('backs up every tenant and restores them into a fresh cluster, equal to the source', async () => {
    const backupDir = join(dir.path, 'backup');
    const data = join(dir.path, 'data');
    const backup = await pinbase(dir.path, ['backup', '--all', backupDir, '--router', source.url, '--data', data, '--history', '--concurrency', '3']);
    expect(backup.code).toBe(0);
    expect(backup.stdout.length).toBe(0);
    expect(backup.stderr).toMatch(/^backed up 30 tenants \([\d.]+ KiB\) in \d+ s, 0 failed\n$/);
    const manifest = JSON.parse(readFileSync(join(backupDir, 'manifest.json'), 'utf8')) as { tenants: { user: string; bytes: number }[] };
    expect(manifest.tenants.map((t) => t.user)).toEqual(TENANTS);
    expect(readdirSync(backupDir).filter((name) => name.endsWith('.partial'))).toEqual([]);

    // The fresh cluster holds copy-* tenants of the previous test only: restore into it.
    const restore = await pinbase(dir.path, ['restore', '--all', backupDir, '--router', target.url, '--data', data]);
    expect(restore.stderr).toMatch(/^restored 30 tenants \([\d.]+ KiB\) in \d+ s, 0 failed\n$/);
    expect(restore.code).toBe(0);
    for (const user of TENANTS) expect(await exported(target, user), user).toEqual(await exported(source, user));

    // Again without --replace: every tenant with a live object is refused and reported (t00 and t20 have
    // only a tombstone: they count as empty), and the exit code says so.
    const twice = await pinbase(dir.path, ['restore', '--all', backupDir, '--router', target.url, '--data', data, '--concurrency', '8']);
    expect(twice.code).toBe(1);
    expect(twice.stderr.split('\n')[0]).toMatch(/^restored 2 tenants .* 28 failed$/);
    expect(twice.stderr).toMatch(/^failed: t01: 409 tenant_not_empty: /m);
    expect(twice.stderr.split('\n')).toHaveLength(1 + 28 + 1);
  }, 90_000);

  it('leaves no complete-looking file for a tenant whose export fails, and a rerun completes it and skips the finished ones', async () => {
    const backupDir = join(dir.path, 'backup-broken');
    const data = join(dir.path, 'data');
    // A tenant file that is not a SQLite database: its export fails on the worker every time.
    const broken = join(source.dataDir, fanOutDir('broken'), 'broken.sqlite');
    mkdirSync(join(source.dataDir, fanOutDir('broken')), { recursive: true });
    writeFileSync(broken, 'this is not a SQLite database, not even close to one: '.repeat(200));
    // The workers reuse their listing of the data directory for 5 s: wait until it shows the new file.
    for (let i = 0; i < 100; i++) {
      const listed = await send(source.url, '/_router/users?after=b&limit=1', { headers: admin });
      if ((listed.json() as { users: { id: string }[] }).users[0]?.id === 'broken') break;
      await sleep(100);
    }
    const first = await pinbase(dir.path, ['backup', '--all', backupDir, '--router', source.url, '--data', data]);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/^backed up 30 tenants .* 1 failed\nfailed: broken: 5\d\d \w+/);
    expect(readdirSync(backupDir).filter((name) => name.startsWith('broken'))).toEqual([]);
    const before = statSync(join(backupDir, 't00.ndjson')).mtimeMs;

    rmSync(broken);
    await sleep(50);
    const put = await send(source.url, '/api/users/broken/notes/a', { method: 'PUT', headers: auth, json: { fixed: true } });
    expect(put.status).toBeLessThan(300);
    const rerun = await pinbase(dir.path, ['backup', '--all', backupDir, '--router', source.url, '--data', data]);
    expect(rerun.stderr).toMatch(/^backed up 1 tenants \(.*\) in \d+ s, 30 already complete, 0 failed\n$/);
    expect(rerun.code).toBe(0);
    expect(statSync(join(backupDir, 't00.ndjson')).mtimeMs).toBe(before);
    expect(readFileSync(join(backupDir, 'broken.ndjson'), 'utf8')).toMatch(/"fixed":true/);
  }, 90_000);

  it('killed mid-run, leaves only complete files under final names, and a rerun completes the backup', async () => {
    const backupDir = join(dir.path, 'backup-killed');
    const data = join(dir.path, 'data');
    const child = spawn(process.execPath, [CLI, 'backup', '--all', backupDir, '--router', source.url, '--data', data, '--concurrency', '1', '--format', 'sqlite'], {
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (!existsSync(backupDir) || readdirSync(backupDir).filter((n) => n.endsWith('.sqlite')).length < 3)) await sleep(5);
    process.kill(child.pid!, 'SIGKILL');
    await exited;
    const complete = readdirSync(backupDir).filter((name) => name.endsWith('.sqlite'));
    expect(complete.length).toBeGreaterThanOrEqual(3);
    expect(complete.length).toBeLessThan(31);
    for (const name of complete) expect(readFileSync(join(backupDir, name)).subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');

    const rerun = await pinbase(dir.path, ['backup', '--all', backupDir, '--router', source.url, '--data', data, '--format', 'sqlite']);
    expect(rerun.stderr).toMatch(/^backed up 31 tenants .* 0 failed\n$/);
    expect(readdirSync(backupDir).filter((name) => name.endsWith('.sqlite')).length).toBe(31);
    expect(readdirSync(backupDir).filter((name) => name.endsWith('.partial'))).toEqual([]);
  }, 60_000);
});
