/**
 * Check 2 of the chaos test, on the counters: every increment applied
 * exactly once if acknowledged, at most once otherwise, and none lost.
 *
 * Once the cluster is calm, each increment of unknown outcome ('info') is
 * sent again, same Idempotency-Key and same bytes:
 * - answered with `Idempotent-Replayed: true`: it had been applied;
 * - answered 2xx without it: it had not been applied, and now is;
 * - answered 409: it had not been applied, and never will be (its read set
 *   is stale; a failed write leaves no idempotency record).
 * So the set of applied increments is exact: the acknowledged ones plus the
 * unknown ones of the first two kinds. Then, per counter:
 * - its value equals the number of applied increments (each application
 *   adds one to the value its read set pinned, so a double application or
 *   the application of an increment answered as failed shows as a larger
 *   value, a lost one as a smaller value);
 * - its versions (GET _history) carry, in `by`, the key of the increment
 *   that wrote them: every applied key exactly once, no other key, and the
 *   values 1, 2, 3, ... in rev order.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { attemptLabel, type Attempt } from './attempt-outcome.js';
import type { RouterClient } from './router-client.js';
import { counterPath, type IncrementRecord } from './workload.js';

export type ReplayVerdict = 'applied-before' | 'applied-now' | 'not-applied' | 'key-reused' | 'retry';

/** What the answer to a replayed increment says about the first sending. */
export function replayVerdict(attempt: Attempt): ReplayVerdict {
  const status = attempt.status ?? 0;
  if (status >= 200 && status < 300) return attempt.replayed ? 'applied-before' : 'applied-now';
  if (status === 409 && attempt.code === 'transaction_conflict') return 'not-applied';
  if (status === 422 && attempt.code === 'idempotency_key_reused') return 'key-reused';
  return 'retry';
}

/** One stored version of a counter, as GET _history lists it. */
export interface CounterVersion {
  rev: number;
  deleted: boolean;
  data: { n?: unknown; by?: unknown } | null;
}

/**
 * The problems of one counter, given its current value, its versions and
 * the increments known to be applied to it (by key); `recorded` holds every
 * increment of the run, to explain an unexpected key. Empty when it is right.
 */
export function compareCounter(
  user: string,
  value: number,
  versions: readonly CounterVersion[],
  applied: ReadonlyMap<string, IncrementRecord>,
  recorded: ReadonlyMap<string, IncrementRecord>,
): string[] {
  const problems: string[] = [];
  if (value !== applied.size) {
    problems.push(`${user}: the counter is ${value}, but ${applied.size} distinct increments were applied`);
  }
  const seen = new Map<string, number>();
  const ordered = [...versions].sort((a, b) => a.rev - b.rev);
  ordered.forEach((version, index) => {
    if (version.deleted || version.data === null) {
      problems.push(`${user}: version rev ${version.rev} is a deletion; nothing deletes counters`);
      return;
    }
    const { n, by } = version.data;
    if (n !== index + 1) problems.push(`${user}: version rev ${version.rev} has n = ${String(n)}, expected ${index + 1}`);
    const key = String(by);
    seen.set(key, (seen.get(key) ?? 0) + 1);
  });
  for (const [key, times] of seen) {
    if (times > 1) problems.push(`${user}: increment ${key} was applied ${times} times`);
    if (!applied.has(key)) {
      const record = recorded.get(key);
      problems.push(
        record
          ? `${user}: increment ${key} was applied, but its outcome was recorded as ${record.status} (${record.attempts.join(' -> ')})`
          : `${user}: a version carries the unknown key ${key}`,
      );
    }
  }
  for (const [key, record] of applied) {
    if (!seen.has(key)) {
      problems.push(`${user}: increment ${key} (${record.status}, ${record.attempts.join(' -> ')}) is missing from the history: lost`);
    }
  }
  const last = ordered.at(-1);
  if ((last?.data?.n ?? 0) !== value) problems.push(`${user}: the counter reads ${value}, its last version says ${String(last?.data?.n)}`);
  return problems;
}

export interface CounterReport {
  ok: boolean;
  counters: number;
  increments: number;
  acked: number;
  failed: number;
  unknown: number;
  /** Unknown increments whose replay said they had been applied. */
  unknownApplied: number;
  /** Unknown increments that the verification's replay applied. */
  appliedByReplay: number;
  unknownNotApplied: number;
  problems: string[];
}

/** Resolves the unknown increments by replay, then compares every counter; see the file comment. */
export async function verifyCounters(
  client: RouterClient,
  increments: readonly IncrementRecord[],
  users: readonly string[],
  /** Users known not to answer (reported once by the caller): not checked. */
  unavailable: ReadonlySet<string> = new Set(),
): Promise<CounterReport> {
  const report: CounterReport = {
    ok: false,
    counters: users.length,
    increments: 0,
    acked: 0,
    failed: 0,
    unknown: 0,
    unknownApplied: 0,
    appliedByReplay: 0,
    unknownNotApplied: 0,
    problems: [],
  };
  const applied = new Map<string, Map<string, IncrementRecord>>(users.map((user) => [user, new Map()]));
  const recorded = new Map(increments.map((record) => [record.key, record]));
  const unknown: IncrementRecord[] = [];
  for (const record of increments) {
    if (unavailable.has(record.user)) continue;
    report.increments++;
    if (record.status === 'ok') {
      report.acked++;
      applied.get(record.user)!.set(record.key, record);
    } else if (record.status === 'fail') {
      report.failed++;
    } else {
      report.unknown++;
      unknown.push(record);
    }
  }
  await forEachLimited(unknown, 16, async (record) => {
    const verdict = await replay(client, record);
    if (verdict === 'applied-before' || verdict === 'applied-now') {
      applied.get(record.user)!.set(record.key, record);
      if (verdict === 'applied-before') report.unknownApplied++;
      else report.appliedByReplay++;
    } else if (verdict === 'not-applied') {
      report.unknownNotApplied++;
    } else {
      report.problems.push(`${record.user}: replay of ${record.key}: ${verdict}`);
    }
  });
  const checked = users.filter((user) => !unavailable.has(user));
  report.counters = checked.length;
  await forEachLimited(checked, 16, async (user) => {
    const state = await readCounter(client, user);
    if (typeof state === 'string') report.problems.push(`${user}: ${state}`);
    else report.problems.push(...compareCounter(user, state.value, state.versions, applied.get(user)!, recorded));
  });
  report.ok = report.problems.length === 0;
  return report;
}

/** Sends the increment again until the answer says whether it had been applied. */
async function replay(client: RouterClient, record: IncrementRecord): Promise<Exclude<ReplayVerdict, 'retry'> | `no answer ${string}`> {
  let last = '';
  for (let attempt = 0; attempt < 6; attempt++) {
    const answer = await client.send('POST', record.path, { headers: { 'idempotency-key': record.key }, body: record.body });
    const verdict = replayVerdict(answer);
    if (verdict !== 'retry') return verdict;
    last = attemptLabel(answer);
    await sleep(500);
  }
  return `no answer (last: ${last})`;
}

/** The counter's value (0 if absent) and every version of it, or a string saying why it could not be read. */
async function readCounter(
  client: RouterClient,
  user: string,
): Promise<{ value: number; versions: CounterVersion[] } | string> {
  const current = await answered(() => client.send('GET', counterPath(user)));
  if (current.status === 404 && current.code === 'object_not_found') return { value: 0, versions: [] };
  if (current.status !== 200) return `cannot read the counter: ${attemptLabel(current)}`;
  const value = (JSON.parse(current.body!) as { n: number }).n;
  const versions: CounterVersion[] = [];
  for (let before: number | null | undefined; before !== null; ) {
    const query = before === undefined ? '' : `&before=${before}`;
    const page = await answered(() => client.send('GET', `${counterPath(user)}/_history?limit=1000${query}`));
    if (page.status !== 200) return `cannot read the history: ${attemptLabel(page)}`;
    const parsed = JSON.parse(page.body!) as { versions: CounterVersion[]; next: number | null };
    versions.push(...parsed.versions);
    before = parsed.next;
  }
  return { value, versions };
}

/** Retries a read a few times while it gets no definite answer (2xx or 4xx). */
async function answered(send: () => Promise<Attempt>): Promise<Attempt> {
  let answer = await send();
  for (let attempt = 1; attempt < 6 && (answer.status === undefined || answer.status >= 500); attempt++) {
    await sleep(300);
    answer = await send();
  }
  return answer;
}

async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  });
  await Promise.all(lanes);
}
