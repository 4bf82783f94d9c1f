/**
 * The hostile-input corpus (hostile-corpus.ts) against a real cluster with
 * authentication on: a router and two worker processes, every case sent
 * through the router and straight to the worker that owns the victim. For
 * each case it records the status, whether the answer is problem+json with
 * the expected code, the files under the data directory before and after,
 * the victim's latest commit, and /healthz after; the record of a run is
 * written to the temporary directory (its path is printed).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Placement } from '../../../services/topology/placement.js';
import { listTree } from '../../support/file-tree.js';
import { send } from '../../support/http-client.js';
import { AUDIENCE, createMatrixKeys, ISSUER } from '../../support/tenant-isolation-matrix.js';
import { RealCluster } from '../../integration/router/real-cluster.js';
import { buildCorpus, type CorpusContext, type HostileCase, type Target } from './hostile-corpus.js';
import { exchange } from './raw-exchange.js';

const WORKERS = ['w1', 'w2'];
const placement = new Placement(WORKERS);
const firstOwnedBy = (worker: string, prefix: string) => {
  for (let i = 0; ; i++) if (placement.owner(`${prefix}${i}`) === worker) return `${prefix}${i}`;
};
const OWNER = 'w1';
const OTHER = 'w2';
const VICTIM = firstOwnedBy(OWNER, 'victim');
const STRANGER = firstOwnedBy(OWNER, 'stranger');
const FOREIGN = firstOwnedBy(OTHER, 'foreign');

const keysDir = mkdtempSync(join(tmpdir(), 'pinbase-hostile-keys-'));
const keys = await createMatrixKeys(keysDir);
const flag = (name: string) => keys.workerArgs[keys.workerArgs.indexOf(name) + 1]!;
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const victimToken = await keys.hs({ sub: VICTIM });
const otherToken = await keys.hs({ sub: FOREIGN });
const [otherHeader, , otherSignature] = otherToken.split('.');
const { SignJWT } = await import('jose');
const tokens: CorpusContext['tokens'] = {
  victim: victimToken,
  victimReadOnly: await keys.hs({ sub: VICTIM, scope: 'read' }),
  stranger: await keys.hs({ sub: STRANGER }),
  other: otherToken,
  expired: await keys.hs({ sub: VICTIM, exp: now() - 120 }),
  withoutExp: await keys.hs({ sub: VICTIM, exp: undefined }),
  algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: VICTIM, iss: ISSUER, aud: AUDIENCE, exp: now() + 3600 })}.`,
  confused: await new SignJWT({ sub: VICTIM, iss: ISSUER, aud: AUDIENCE, exp: now() + 3600 })
    .setProtectedHeader({ alg: 'HS256', kid: 'matrix-1' })
    .sign(Buffer.from(keys.publicPem, 'utf8')),
  tamperedSignature: `${victimToken.slice(0, -2)}${victimToken.at(-2) === 'A' ? 'B' : 'A'}${victimToken.at(-1)}`,
  tamperedPayload: `${otherHeader}.${b64({ sub: VICTIM, iss: ISSUER, aud: AUDIENCE, exp: now() + 3600 })}.${otherSignature}`,
  wrongIssuer: await keys.hs({ sub: VICTIM, iss: 'https://evil.test' }),
  wrongAudience: await keys.hs({ sub: VICTIM, aud: 'another-api' }),
  oversize: await keys.hs({ sub: VICTIM, padding: 'x'.repeat(8300) }),
};
const context = (target: Target): CorpusContext => ({
  target,
  victim: VICTIM,
  stranger: STRANGER,
  foreign: FOREIGN,
  ownerWorker: OWNER,
  otherWorker: OTHER,
  adminToken: keys.adminToken,
  tokens,
});
const CORPUS: Record<Target, HostileCase[]> = { router: buildCorpus(context('router')), direct: buildCorpus(context('direct')) };

interface Row {
  case: string;
  status: number;
  code: string | undefined;
  problemJson: boolean;
  filesBefore: number;
  filesAfter: number;
  filesUnchanged: boolean;
  seqUnchanged: boolean;
  healthz: number;
}

let cluster: RealCluster;
const records: Record<Target, Row[]> = { router: [], direct: [] };

beforeAll(async () => {
  cluster = await RealCluster.start(
    WORKERS.length,
    ['--admin-token-file', flag('--admin-token-file'), '--cluster-secret-file', flag('--cluster-secret-file')],
    [...keys.workerArgs],
  );
  const seeded = await send(cluster.url, `/api/users/${VICTIM}/notes/n1`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${victimToken}` },
    json: { title: 'secret', tags: ['a'], address: { city: 'Oslo' } },
  });
  expect(seeded.status, seeded.body).toBe(201);
  expect(seeded.header('x-pinbase-worker')).toBe(OWNER);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  for (const target of ['router', 'direct'] as const) {
    if (records[target].length === 0) continue;
    const path = join(tmpdir(), `pinbase-hostile-corpus-${target}.json`);
    writeFileSync(path, `${JSON.stringify(records[target], null, 1)}\n`);
    console.log(`hostile corpus (${target}): ${records[target].length} cases recorded in ${path}`);
  }
  rmSync(keysDir, { recursive: true, force: true });
});

/** The files under the data directory; a partition's companions (WAL, lock, owner record) come and go with it, so each counts as its database. */
function footprint(): string[] {
  return [...new Set(listTree(cluster.dataDir).map((path) => path.replace(/(-wal|-shm|\.owner|\.lock\/)$/, '')))];
}

async function victimSeq(): Promise<string | undefined> {
  const reply = await send(cluster.workerUrl(OWNER), `/api/users/${VICTIM}/_changes?limit=1`, { headers: { authorization: `Bearer ${victimToken}` } });
  expect(reply.status, reply.body).toBe(200);
  return reply.header('x-pinbase-seq');
}

describe.each(['router', 'direct'] as const)('hostile input %s', (target) => {
  it('has at least 150 cases', () => {
    expect(CORPUS[target].length).toBeGreaterThanOrEqual(150);
  });

  it.each(CORPUS[target].map((c) => [c.name, c] as const))('%s', async (_name, hostile) => {
    const url = target === 'router' ? cluster.url : cluster.workerUrl(OWNER);
    const expected = hostile[target] ?? hostile.expect;
    const filesBefore = footprint();
    const seqBefore = await victimSeq();
    const response = await exchange(url, hostile.bytes);
    const isProblem = (response.headers['content-type'] ?? '').startsWith('application/problem+json');
    const isHead = hostile.bytes.toString('latin1').startsWith('HEAD ');
    let code: string | undefined;
    if (isProblem && !isHead) code = (JSON.parse(response.body) as { code?: string }).code;
    const filesAfter = footprint();
    const seqAfter = await victimSeq();
    const healthz = (await send(url, '/healthz')).status;
    const workerHealthz = (await send(cluster.workerUrl(OWNER), '/healthz')).status;
    records[target].push({
      case: hostile.name,
      status: response.status,
      code,
      problemJson: isProblem,
      filesBefore: filesBefore.length,
      filesAfter: filesAfter.length,
      filesUnchanged: JSON.stringify(filesBefore) === JSON.stringify(filesAfter),
      seqUnchanged: seqBefore === seqAfter,
      healthz,
    });

    const what = `${hostile.name} → ${response.raw.slice(0, 600)}`;
    expect(response.status, what).toBe(expected.status);
    if (response.status >= 400) {
      expect(isProblem, what).toBe(true);
      if (!isHead) expect(JSON.parse(response.body), what).toMatchObject({ status: response.status });
    }
    if (expected.code !== undefined) expect(code, what).toBe(expected.code);
    for (const token of Object.values(tokens)) expect(response.body.includes(token.slice(-40)), `${what}: the answer echoes a token`).toBe(false);
    if (!hostile.accepted) {
      expect(filesAfter, `${hostile.name}: files under the data directory`).toEqual(filesBefore);
      expect(seqAfter, `${hostile.name}: the victim's latest commit`).toBe(seqBefore);
    }
    expect(healthz, `${hostile.name}: /healthz after`).toBe(200);
    expect(workerHealthz, `${hostile.name}: the owner's /healthz after`).toBe(200);
  });
});
