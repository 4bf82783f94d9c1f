/** The text summary of a chaos run: operations by type and outcome, faults, each check's verdict, time. */
import type { ChaosReport } from './chaos-run.js';
import { OPERATION_TYPES } from './operation-tally.js';

export function formatSummary(report: ChaosReport): string {
  const { tally } = report;
  const lines = [
    `chaos run: seed ${report.seed}, ${report.seconds} s of workload, ${report.clients} clients, ${report.users} users; ` +
      `${(report.elapsedMs / 1000).toFixed(1)} s in all`,
    'operations        ok    fail    info   total',
  ];
  for (const type of OPERATION_TYPES) {
    const row = tally.operations.get(type) ?? { ok: 0, fail: 0, info: 0 };
    lines.push(`  ${type.padEnd(10)}${columns(row.ok, row.fail, row.info, row.ok + row.fail + row.info)}`);
  }
  lines.push(`  ${'all'.padEnd(10)}${columns(tally.total('ok'), tally.total('fail'), tally.total('info'), tally.total())}`);
  lines.push(`responses (${tally.attempts} requests): ${responseLine(tally.responses)}`);
  const { kill, pause, add, remove } = report.faultCounts;
  const added = report.faults.filter((f) => f.kind === 'add').map((f) => f.worker);
  const removed = report.faults.filter((f) => f.kind === 'remove').map((f) => f.worker);
  lines.push(
    `faults: ${kill} kill -9, ${pause} SIGSTOP/SIGCONT, ${add} added (${ids(added)}), ${remove} removed (${ids(removed)})`,
  );
  lines.push('checks:');
  for (const check of report.checks) {
    lines.push(`  ${check.ok ? 'ok    ' : 'FAILED'} ${check.name}: ${check.detail}`);
    for (const problem of check.problems.slice(0, 10)) lines.push(indent(problem, '         '));
    if (check.problems.length > 10) lines.push(`         ... and ${check.problems.length - 10} more`);
  }
  lines.push(`verdict: ${report.ok ? 'PASS' : 'FAIL'}${report.evidenceDir ? `; evidence kept in ${report.evidenceDir}` : ''}`);
  return lines.join('\n');
}

/** Worker ids, the first few of a long list. */
function ids(list: readonly string[]): string {
  if (list.length === 0) return '-';
  return list.length <= 6 ? list.join(', ') : `${list.slice(0, 6).join(', ')}, ... ${list.length - 6} more`;
}

function columns(...values: number[]): string {
  return values.map((value) => String(value).padStart(8)).join('');
}

/** "200: 9000, 412 precondition_failed: 30, ..." summed over operation types, most frequent first. */
function responseLine(responses: ReadonlyMap<string, number>): string {
  const byLabel = new Map<string, number>();
  for (const [key, count] of responses) {
    const label = key.slice(key.indexOf(' ') + 1);
    byLabel.set(label, (byLabel.get(label) ?? 0) + count);
  }
  return [...byLabel]
    .sort((a, b) => b[1] - a[1])
    .map(([label, count]) => `${label}: ${count}`)
    .join(', ');
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}
