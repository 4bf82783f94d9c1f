/** Counts of a chaos run's operations by type and outcome, and of every attempt's response, for the summary. */
import type { OperationStatus } from './linearizability.js';

export type OperationType = 'read' | 'write' | 'cas' | 'delete' | 'increment';

export const OPERATION_TYPES: readonly OperationType[] = ['read', 'write', 'cas', 'delete', 'increment'];

export class OperationTally {
  readonly operations = new Map<OperationType, Record<OperationStatus, number>>();
  /** Attempts by response label ("200", "412 precondition_failed", "timeout"), per operation type. */
  readonly responses = new Map<string, number>();
  attempts = 0;

  countOperation(type: OperationType, status: OperationStatus): void {
    let row = this.operations.get(type);
    if (!row) this.operations.set(type, (row = { ok: 0, fail: 0, info: 0 }));
    row[status]++;
  }

  countResponse(type: OperationType, label: string): void {
    this.attempts++;
    const key = `${type} ${label}`;
    this.responses.set(key, (this.responses.get(key) ?? 0) + 1);
  }

  total(status?: OperationStatus): number {
    let sum = 0;
    for (const row of this.operations.values()) sum += status ? row[status] : row.ok + row.fail + row.info;
    return sum;
  }
}
