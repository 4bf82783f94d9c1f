import { existsSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCUMENT_STRUCTURE } from '../../../services/partition/json-structure.js';
import { jsonRequest, startHttpFixture, type HttpFixture } from './http-harness.js';

/**
 * With the largest inputs the limits allow (a 1 MiB body, 50,000 JSON nodes,
 * 100 levels, 1000 transaction ops, 2 MiB touched by a transaction, pages
 * of 1000 rows over 1 MiB objects), no single request holds the event loop
 * for more than 50 ms. A guard against amplification (work that grows with
 * one input times another), with a wide margin: these requests measure a few
 * ms to ~20 ms on a quiet 2-core machine.
 */
const BUDGET_MS = 50;
const MiB = 1024 * 1024;
const U = '/api/users/heavy';
const N = DOCUMENT_STRUCTURE.maxNodes;

/** JSON text of an object of `members` members with distinct keys (the costliest shape per node). */
function manyKeys(members: number, prefix = 'k'): string {
  const parts: string[] = [];
  for (let i = 0; i < members; i++) parts.push(`"${prefix}${i}":${i}`);
  return `{${parts.join(',')}}`;
}
/** An object of about `bytes` bytes of one string. */
const bigString = (bytes: number, tag = '') => `{"tag":"${tag}","x":"${'a'.repeat(bytes - 40)}"}`;

let fx: HttpFixture;
let stalls: string[] = [];

/** Where Linux keeps the calling thread's scheduler times: "<ns on a CPU> <ns waiting for one> <slices>". */
const THREAD_SCHEDSTAT = '/proc/thread-self/schedstat';

/**
 * CPU time this thread (the event loop's) has used, in ms. Not the
 * process's: that counts the collector's helper threads too, which run
 * beside the loop, not in it. Falls back to the process's where Linux's
 * per-thread times are missing.
 */
function loopThreadCpuMs(): number {
  if (existsSync(THREAD_SCHEDSTAT)) return Number(readFileSync(THREAD_SCHEDSTAT, 'utf8').split(' ')[0]) / 1e6;
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
}

/**
 * Sends `request` and returns the longest event-loop delay seen while it ran,
 * in ms, but not more than the CPU time the event loop's thread used
 * meanwhile: on a shared machine (CI runs test files in parallel on two
 * cores) a short task of the loop can wait for a CPU held by another
 * process, and that wait is not the request's doing; a task of the
 * request's own (e.g. 8 s of patching) shows in both.
 */
async function longestStall(request: InjectOptions): Promise<{ ms: number; response: LightMyRequestResponse }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const cpuBefore = loopThreadCpuMs();
  const response = await fx.app.inject(request);
  // One more turn, so that a stall at the very end is sampled too.
  await new Promise((resolve) => setTimeout(resolve, 5));
  const cpuUsed = loopThreadCpuMs() - cpuBefore;
  histogram.disable();
  return { ms: Math.min(histogram.max / 1e6, cpuUsed), response };
}

/**
 * Requests that must take fresh memory for a whole 1 MiB document's
 * structures (an insert into the largest array grows its backing store:
 * 4 MiB of new elements): on this VM first touching memory costs ~3 ms per
 * MiB (`Buffer.allocUnsafeSlow(4 MiB).fill(1)`: 12 ms), so they measure
 * 42–56 ms on a quiet machine (2026-12-02) and up to ~57 ms under CI's
 * load, against 50 ms. Twice that is still far below any amplification
 * (seconds).
 */
const FRESH_MEMORY_BUDGET_MS = 2 * BUDGET_MS;

/**
 * What referenceMs() measures on a quiet machine, its low end (ms): 24–32
 * ms, sometimes ~40 when a collection falls in it, which loosens a budget
 * for that try only.
 */
const QUIET_REFERENCE_MS = 25;

async function expectQuick(name: string, request: InjectOptions, ...statuses: number[]): Promise<LightMyRequestResponse> {
  return expectWithin(BUDGET_MS, name, request, ...statuses);
}

/** A 1 MiB document of numbers as JSON text: the reference job's input. */
const REFERENCE_TEXT = `{"a":[${Array(MiB / 2 - 10).fill('0').join(',')}]}`;

/**
 * The loop thread's CPU time, in ms, for a fixed job of the same kind as
 * these requests' own: parsing and serialising a 1 MiB document of numbers
 * (24–32 ms on a quiet machine, 2026-12-02). Measured beside each request,
 * it says how slow the machine is at that moment: beside the Ansible
 * scenarios (whose processes take both cores) CI measured the requests
 * below at up to 2.5 times their quiet cost, 55 ms for a 20 ms PUT.
 */
function referenceMs(): number {
  const start = loopThreadCpuMs();
  JSON.stringify(JSON.parse(REFERENCE_TEXT));
  return loopThreadCpuMs() - start;
}

/**
 * Passes when one of up to five tries stays under `budgetMs`, or, when the
 * machine is slow at that moment, under `budgetMs / 25 ms` times the
 * reference job measured just before it (the budget scaled by how much
 * slower than quiet the reference ran). An amplification costs seconds,
 * far beyond either.
 */
async function expectWithin(budgetMs: number, name: string, request: InjectOptions, ...statuses: number[]): Promise<LightMyRequestResponse> {
  // The best of five: a stall of the machine (a GC of the test's own
  // set-up, say, or a neighbour's burst on a shared core) should not count;
  // one of the request's own recurs every time.
  referenceMs(); // (warm: its first runs compile and take fresh memory)
  let best = { ms: Infinity, allowed: budgetMs };
  let last: LightMyRequestResponse | undefined;
  for (let attempt = 0; attempt < 5 && best.ms > best.allowed / 2; attempt++) {
    const allowed = Math.max(budgetMs, (budgetMs / QUIET_REFERENCE_MS) * referenceMs());
    const { ms, response } = await longestStall(request);
    expect(statuses, `${name}: ${response.statusCode} ${response.body.slice(0, 200)}`).toContain(response.statusCode);
    if (ms / allowed < best.ms / best.allowed) best = { ms, allowed };
    last = response;
  }
  const budget = best.allowed === budgetMs ? (budgetMs === BUDGET_MS ? '' : ` (budget ${budgetMs} ms)`) : ` (budget ${best.allowed.toFixed(0)} ms: the machine was slow)`;
  stalls.push(`${name}: ${best.ms.toFixed(1)} ms${budget}`);
  expect(best.ms, name).toBeLessThan(best.allowed);
  return last!;
}

/** A request with a JSON body given as text. */
function text(method: 'PUT' | 'PATCH', path: string, payload: string): InjectOptions {
  return { method, url: `${U}/${path}`, payload, headers: { 'content-type': 'application/json' } };
}

async function put(path: string, payload: string): Promise<void> {
  const response = await fx.app.inject(text('PUT', path, payload));
  expect(response.statusCode, response.body.slice(0, 200)).toBeLessThan(300);
}

beforeAll(async () => {
  fx = await startHttpFixture();
  stalls = [];
}, 120_000);
afterAll(async () => {
  console.log(`longest event-loop stall per request:\n  ${stalls.join('\n  ')}`);
  await fx.close();
});

describe('the event loop with the largest inputs the limits allow', () => {
  it('stays responsive for writes of the largest and costliest documents', async () => {
    await expectQuick('PUT 1 MiB string', text('PUT', 'big/s', bigString(MiB - 100)), 201, 200);
    await expectQuick('PUT N distinct keys', text('PUT', 'big/keys', manyKeys(N - 1)), 201, 200);
    await expectQuick('PUT N empty objects', text('PUT', 'big/objs', `{"a":[${Array(N - 3).fill('{}').join(',')}]}`), 201, 200);
    const numbers = `{"a":[${Array(MiB / 2 - 10).fill('0').join(',')}]}`;
    await expectQuick('PUT 1 MiB of numbers', text('PUT', 'big/nums', numbers), 201, 200);
    const deep = `{"d":${'['.repeat(99)}${']'.repeat(99)},"x":"${'a'.repeat(MiB - 300)}"}`;
    await expectQuick('PUT 100 levels deep', text('PUT', 'big/deep', deep), 201, 200);
    await expectQuick('PUT N+1 nodes (refused)', text('PUT', 'big/over', manyKeys(N)), 400);
    await expectQuick('PUT 1 MiB of empty objects (refused)', text('PUT', 'big/over', `{"a":[${Array(Math.floor(MiB / 3) - 10).fill('{}').join(',')}]}`), 400);
  });

  it('stays responsive for patches and reads of the costliest document', async () => {
    await put('big/keys', manyKeys(N - 1));
    await expectQuick('PATCH every member of N distinct keys', text('PATCH', 'big/keys', manyKeys(N - 1)), 200);
    await expectQuick('PATCH adding N more members (refused)', text('PATCH', 'big/keys', manyKeys(N - 1, 'j')), 400);
    await expectQuick('GET of N distinct keys', { method: 'GET', url: `${U}/big/keys` }, 200);
    await expectQuick('GET a JSON pointer in N distinct keys', { method: 'GET', url: `${U}/big/keys/k7` }, 200);
  });

  it('stays responsive for the largest transactions', async () => {
    await put('tx/doc', bigString(900 * 1024));
    const patches = Array.from({ length: 1000 }, (_, i) => ({ op: 'patch', collection: 'tx', id: 'doc', patch: { [`k${i}`]: i } }));
    await expectQuick('1000 one-key patches of a 0.9 MB object', jsonRequest('POST', `${U}/_tx`, { ops: patches }), 200);
    await put('tx/a', manyKeys(N - 1));
    await put('tx/b', manyKeys(N - 1, 'j'));
    const both = [
      { op: 'patch', collection: 'tx', id: 'a', patch: { k1: 'x' } },
      { op: 'patch', collection: 'tx', id: 'b', patch: { j1: 'x' } },
    ];
    await expectQuick('patches of two N-node objects', jsonRequest('POST', `${U}/_tx`, { ops: both }), 200);
    await put('tx/c', bigString(MiB - 100, 'c'));
    await put('tx/d', bigString(MiB - 100, 'd'));
    const overBytes = [
      { op: 'patch', collection: 'tx', id: 'c', patch: { k: 1 } },
      { op: 'patch', collection: 'tx', id: 'd', patch: { k: 1 } },
    ];
    await expectQuick('patches of two 1 MiB objects (refused)', jsonRequest('POST', `${U}/_tx`, { ops: overBytes }), 413);
    // Read as absent objects nobody writes, so that a retry of the measure (expectQuick) commits again, not 409.
    const reads = Array.from({ length: 1000 }, (_, i) => ({ collection: 'unread', id: `r${i}`, rev: 0 }));
    const creates = Array.from({ length: 1000 }, (_, i) => ({ op: 'put', collection: 'r', id: `r${i}`, data: { i } }));
    await expectQuick('1000 reads and 1000 puts', jsonRequest('POST', `${U}/_tx`, { reads, ops: creates }), 200);
  });

  it('stays responsive for the costliest JSON Patches', async () => {
    const jsonPatch = (path: string, patch: unknown[]): InjectOptions => ({
      method: 'PATCH',
      url: `${U}/${path}`,
      payload: JSON.stringify(patch),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    const many = (make: (i: number) => unknown) => Array.from({ length: 1000 }, (_, i) => make(i));
    await put('jp/half', `{"a":${manyKeys(N / 2 - 2)},"box":{}}`);
    await expectQuick('JSON Patch: 1000 copies of an N/2-node subtree (refused)', jsonPatch('jp/half', many((i) => ({ op: 'copy', from: '/a', path: `/c${i}` }))), 400);
    const backAndForth = many((i) => (i % 2 === 0 ? { op: 'move', from: '/a', path: '/box/a' } : { op: 'move', from: '/box/a', path: '/a' }));
    await expectQuick('JSON Patch: 1000 moves of an N/2-node subtree down and up (refused)', jsonPatch('jp/half', backAndForth), 400);
    await expectQuick('JSON Patch: a test of an N/2-node subtree', jsonPatch('jp/half', [{ op: 'test', path: '/a', value: JSON.parse(manyKeys(N / 2 - 2)) }]), 200);
    await put('jp/list', `{"list":[${Array(MiB / 2 - 40).fill('0').join(',')}]}`);
    const frontInserts = many(() => ({ op: 'add', path: '/list/0', value: 1 }));
    await expectWithin(FRESH_MEMORY_BUDGET_MS, 'JSON Patch: 1000 inserts at the front of a 1 MiB array (refused)', jsonPatch('jp/list', frontInserts), 400);
    await expectWithin(FRESH_MEMORY_BUDGET_MS, 'JSON Patch: an insert at the front of a 1 MiB array', jsonPatch('jp/list', frontInserts.slice(0, 1)), 200);
    const copies = many((i) => ({ op: 'patch', collection: 'jp', id: 'half', patch: [{ op: 'copy', from: '/a', path: `/t${i}` }] }));
    await expectQuick('JSON Patch: 1000 transaction ops each copying N/2 nodes (refused)', jsonRequest('POST', `${U}/_tx`, { ops: copies }), 413);
  });

  it('stays responsive for the largest pages', async () => {
    for (let i = 0; i < 8; i++) await put(`pages/p${i}`, bigString(MiB - 100, String(i)));
    for (let i = 0; i < 8; i++) await put(`pages/p0`, bigString(MiB - 100, `v${i}`));
    const beforeBulk = Number((await fx.app.inject({ method: 'GET', url: `${U}/_changes?limit=1` })).headers['x-pinbase-seq']);
    const bulk = Array.from({ length: 1000 }, (_, i) => ({ op: 'create', collection: 'small', data: { i } }));
    for (let t = 0; t < 10; t++) expect((await fx.app.inject(jsonRequest('POST', `${U}/_tx`, { ops: bulk }))).statusCode).toBe(200);
    await expectQuick('list 1000 of 1 MiB objects', { method: 'GET', url: `${U}/pages?limit=1000` }, 200);
    await expectQuick('history of 1 MiB versions', { method: 'GET', url: `${U}/pages/p0/_history?limit=1000` }, 200);
    await expectQuick('changes with data over 1 MiB objects', { method: 'GET', url: `${U}/_changes?limit=10000&includeData=true` }, 200);
    await expectQuick('10000 changes without data', { method: 'GET', url: `${U}/_changes?limit=10000` }, 200);
    await expectQuick('list 1000 small objects', { method: 'GET', url: `${U}/small?limit=1000` }, 200);
    await expectQuick('snapshot list before 10000 later objects', { method: 'GET', url: `${U}/small?at=${beforeBulk}&limit=1000` }, 200);
  });
});
