/**
 * One chaos run, start to verdict: a router and 3 workers, the workload
 * through the router while the nemesis injects faults, a calm period, then
 * the checks:
 *   1. linearizability of every register (per key, info = maybe applied);
 *   2. counters: exact count of applied increments, none twice, none lost;
 *   3. leases while idle, leases after a graceful stop, integrity_check;
 *   4. authentication: no request with its user's valid token was refused
 *      401/403 through kills, pauses and handovers, and the cluster still
 *      refuses a request without a token or with another user's;
 * and, on the way: no write answered with a "nothing was applied" refusal
 * turns out applied, every user answers once the cluster is calm, and no
 * worker process dies other than by the nemesis' kill -9.
 * Shared by the short test in `npm test` and `npm run chaos -- --seconds N`.
 * On failure the run's folder is kept with the evidence (histories, process
 * output, report) and its path is in the report.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { send } from '../../support/http-client.js';
import { ChaosCluster } from './chaos-cluster.js';
import { verifyCounters } from './counter-check.js';
import { checkLinearizability } from './linearizability.js';
import { casRegisterModel } from './models.js';
import { DEFAULT_NEMESIS_TIMING, Nemesis, type FaultEvent, type FaultKind } from './nemesis.js';
import type { OperationTally } from './operation-tally.js';
import { RouterClient } from './router-client.js';
import { randomSeed, SeededRandom } from './seeded-random.js';
import { checkIntegrity, checkLeases, leftoverLocks } from './storage-check.js';
import { userName, Workload } from './workload.js';

export interface ChaosOptions {
  /** How long the clients run; the nemesis stops `healSeconds` before the end. */
  seconds: number;
  seed?: number;
  users?: number;
  clients?: number;
  workers?: number;
  /** Client timeout per request (an 'info' outcome beyond it). */
  requestTimeoutMs?: number;
  /** Seconds of workload without faults at the end. */
  healSeconds?: number;
  /** Wall-clock budget of the linearizability search. */
  checkerTimeoutMs?: number;
  /**
   * The workers' data directories, in turn by worker (several mounts of one
   * shared volume); default one local folder.
   */
  dataDirs?: readonly string[];
  /** How long each user may take to answer a read once the cluster is calm (default 15 s). */
  calmAnswerMs?: number;
  /** Keep the run's folder even when every check passes. */
  keepFiles?: boolean;
  log?: (line: string) => void;
}

export interface CheckOutcome {
  name: string;
  ok: boolean;
  detail: string;
  problems: string[];
}

export interface ChaosReport {
  ok: boolean;
  seed: number;
  seconds: number;
  users: number;
  clients: number;
  elapsedMs: number;
  tally: OperationTally;
  faults: FaultEvent[];
  faultCounts: Record<FaultKind, number>;
  checks: CheckOutcome[];
  /** The kept folder with the evidence, when the run failed (or keepFiles). */
  evidenceDir?: string;
}

/** The checks a complete run records, in order. */
const CHECK_NAMES = [
  'refusals applied nothing',
  'nemesis',
  'authentication',
  'leases while idle',
  'availability after the faults',
  'counters',
  'linearizability',
  'graceful stop',
  'no crashes',
  'integrity_check',
] as const;

/** Lease stale time of the workers (services/partition/lease.ts, DEFAULT_LEASE_TIMING). */
const LEASE_STALE_MS = 2000;
/** How long a user may take to answer once the cluster is calm. */
const CALM_ANSWER_MS = 15_000;

/** The parts of a run its phases share. */
interface Run {
  options: ChaosOptions;
  users: number;
  cluster: ChaosCluster;
  client: RouterClient;
  workload: Workload;
  nemesis: Nemesis;
  record: (check: CheckOutcome) => void;
}

/** Runs the whole scenario; never throws once the cluster has started (an error is a failed check). */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = performance.now();
  const seed = options.seed ?? randomSeed();
  const users = options.users ?? 200;
  const clients = options.clients ?? 16;
  const log = options.log ?? (() => undefined);
  const random = new SeededRandom(seed);
  log(`chaos: seed ${seed}, ${options.seconds} s, ${clients} clients, ${users} users`);
  const cluster = await ChaosCluster.start(options.workers ?? 3, options.dataDirs);
  const tokens = new Map<string, string>();
  for (let i = 0; i < users; i++) tokens.set(userName(i), await cluster.tokenFor(userName(i)));
  const client = new RouterClient(cluster.routerUrl, options.requestTimeoutMs ?? 3000, tokens);
  const checks: CheckOutcome[] = [];
  const run: Run = {
    options,
    users,
    cluster,
    client,
    workload: new Workload({ client, users, clients, random: random.fork(), runId: `r${seed}` }),
    nemesis: new Nemesis(cluster, random.fork(), DEFAULT_NEMESIS_TIMING, log),
    record: (check) => {
      checks.push(check);
      log(`check ${check.name}: ${check.ok ? 'ok' : 'FAILED'} (${check.detail})`);
    },
  };
  try {
    await runUnderFaults(run);
    await checkCalmCluster(run);
    checkRegisters(run);
    await checkStoppedCluster(run);
  } catch (error) {
    run.record({ name: 'run', ok: false, detail: 'the run stopped on an error', problems: [(error as Error).stack ?? String(error)] });
  } finally {
    await client.close();
    cluster.destroy();
  }
  const ok = CHECK_NAMES.every((name) => checks.some((check) => check.name === name)) && checks.every((check) => check.ok);
  const report: ChaosReport = {
    ok,
    seed,
    seconds: options.seconds,
    users,
    clients,
    elapsedMs: Math.round(performance.now() - started),
    tally: run.workload.tally,
    faults: run.nemesis.events,
    faultCounts: { kill: 0, pause: 0, add: 0, remove: 0 },
    checks,
  };
  for (const event of run.nemesis.events) report.faultCounts[event.kind]++;
  if (ok && !options.keepFiles) {
    cluster.removeFiles();
  } else {
    report.evidenceDir = cluster.dir;
    writeEvidence(run, report);
  }
  return report;
}

/** The workload, with the nemesis active until `healSeconds` before its end. */
async function runUnderFaults({ options, workload, nemesis, record }: Run): Promise<void> {
  nemesis.start();
  const running = workload.run(options.seconds * 1000);
  await sleep(Math.max(0, options.seconds - (options.healSeconds ?? 4)) * 1000);
  await nemesis.stop();
  await running;
  const refused = workload.refusedButApplied;
  record({
    name: 'refusals applied nothing',
    ok: refused.length === 0,
    detail: 'no write refused with "nothing applied" was replayed later as applied',
    problems: refused.map((r) => `${r.type} ${r.method} ${r.path} (key ${r.key}): ${r.attempts.join(' -> ')}`),
  });
  record({
    name: 'nemesis',
    ok: nemesis.errors.length === 0,
    detail: `${nemesis.events.length} faults injected`,
    problems: nemesis.errors,
  });
}

/** Once every member is up and routed to: leases while idle, then every user's register and counter. */
async function checkCalmCluster({ options, users, cluster, client, workload, record }: Run): Promise<void> {
  await cluster.waitCalm(30_000);
  const victim = `/api/users/${userName(0)}/_changes?limit=1`;
  const anonymous = await send(cluster.routerUrl, victim);
  const intruder = await send(cluster.routerUrl, victim, { headers: { authorization: `Bearer ${await cluster.tokenFor(userName(1))}` } });
  const refusedTokens = [...workload.tally.responses].filter(([label]) => / 40[13]( |$)/.test(label));
  record({
    name: 'authentication',
    ok: refusedTokens.length === 0 && anonymous.status === 401 && intruder.status === 403,
    detail: 'no request with its user\'s valid token was answered 401 or 403; none without a token or with another user\'s was served',
    problems: [
      ...refusedTokens.map(([label, count]) => `${count} × ${label}`),
      ...(anonymous.status === 401 ? [] : [`a read without a token answered ${anonymous.status}`]),
      ...(intruder.status === 403 ? [] : [`a read with another user's token answered ${intruder.status}`]),
    ],
  });
  await sleep(LEASE_STALE_MS + 1000);
  const leases = checkLeases(cluster.dataDir, cluster.livePids(), LEASE_STALE_MS);
  record({
    name: 'leases while idle',
    ok: leases.ok,
    detail: `${leases.locks} locks: ${leases.heldByLive} held by live workers, ${leases.staleOfDead} stale of dead processes`,
    problems: leases.problems,
  });
  const calmAnswerMs = options.calmAnswerMs ?? CALM_ANSWER_MS;
  const unanswered = await workload.readEveryRegister(calmAnswerMs);
  record({
    name: 'availability after the faults',
    ok: unanswered.length === 0,
    detail: `${users - unanswered.length} of ${users} users answer`,
    problems: unanswered.map((user) => `${user}: no answer to a read for ${calmAnswerMs / 1000} s after the cluster became calm`),
  });
  const userNames = Array.from({ length: users }, (_, i) => userName(i));
  const counters = await verifyCounters(client, workload.increments, userNames, new Set(unanswered));
  record({
    name: 'counters',
    ok: counters.ok,
    detail:
      `${counters.counters} counters, ${counters.increments} increments: ${counters.acked} acked, ${counters.failed} failed, ` +
      `${counters.unknown} unknown (${counters.unknownApplied} had been applied, ` +
      `${counters.appliedByReplay} applied by the check's replay, ${counters.unknownNotApplied} not applied)`,
    problems: counters.problems,
  });
}

function checkRegisters({ options, users, workload, record }: Run): void {
  const started = performance.now();
  const verdict = checkLinearizability(casRegisterModel, workload.history, { timeoutMs: options.checkerTimeoutMs ?? 20_000 });
  const ms = Math.round(performance.now() - started);
  const ops = workload.history.length;
  const detail =
    verdict.ok === true
      ? `${users} registers, ${ops} operations: linearizable (checked in ${ms} ms)`
      : verdict.ok === 'unknown'
        ? `${ops} operations: undecided on key ${verdict.key} (${verdict.reason} after ${verdict.steps} steps)`
        : `${ops} operations: NOT linearizable on key ${verdict.key}`;
  record({ name: 'linearizability', ok: verdict.ok === true, detail, problems: verdict.ok === false ? [verdict.message] : [] });
}

/** A graceful stop must release every lease; then integrity_check on every file. */
async function checkStoppedCluster({ cluster, record }: Run): Promise<void> {
  const stopProblems = await cluster.stop();
  const leftovers = leftoverLocks(cluster.dataDir);
  record({
    name: 'graceful stop',
    ok: stopProblems.length === 0 && leftovers.length === 0,
    detail: 'every process exits 0 and releases its leases',
    problems: [...stopProblems, ...leftovers.map((lock) => `lease left after a graceful stop: ${lock}`)],
  });
  const crashes = unplannedExits(cluster);
  record({
    name: 'no crashes',
    ok: crashes.length === 0,
    detail: 'every worker process ended by kill -9 or a graceful stop',
    problems: crashes.map((exit) => `worker ${exit}`),
  });
  const integrity = checkIntegrity(cluster.dataDir);
  record({
    name: 'integrity_check',
    ok: integrity.ok,
    detail: `${integrity.files} user files${integrity.withWal ? `, ${integrity.withWal} with a WAL left` : ''}`,
    problems: integrity.problems,
  });
}

/** Exits of worker processes other than the nemesis' kill -9 and graceful stops (crashes). */
function unplannedExits(cluster: ChaosCluster): string[] {
  const exits: string[] = [];
  for (const slot of cluster.slots.values()) {
    for (const exit of slot.exits) if (exit !== 'SIGKILL' && exit !== 'exit 0') exits.push(`${slot.id}: ${exit}`);
  }
  return exits;
}

function writeEvidence({ cluster, workload }: Run, report: ChaosReport): void {
  const { tally, ...rest } = report;
  const summary = { ...rest, operations: Object.fromEntries(tally.operations), responses: Object.fromEntries(tally.responses) };
  writeFileSync(join(cluster.dir, 'report.json'), JSON.stringify(summary, null, 2));
  writeFileSync(join(cluster.dir, 'register-history.json'), JSON.stringify(workload.history));
  writeFileSync(join(cluster.dir, 'increments.json'), JSON.stringify(workload.increments));
  writeFileSync(join(cluster.dir, 'processes.log'), cluster.output());
}
