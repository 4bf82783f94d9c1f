/**
 * What the benchmarks' smoke tests share: run a built benchmark script with
 * `--quick` and read the Markdown table it prints.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { assertBuilt } from '../../support/cli-process.js';

/**
 * Runs `dist/bench/<script>` with `args` (by default `--quick`), expects exit
 * 0 (stderr as the message), and returns its output. `nodeArgs` go to node
 * itself (e.g. `--expose-gc`), `env` is added to this process's environment.
 */
export async function runQuickBench(
  script: string,
  { args = ['--quick'], nodeArgs = [], env = {} }: { args?: string[]; nodeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<{ out: string; err: string }> {
  assertBuilt();
  const bench = fileURLToPath(new URL(`../../../dist/bench/${script}`, import.meta.url));
  expect(existsSync(bench), `${bench}: run npm run build`).toBe(true);
  const child = spawn(process.execPath, [...nodeArgs, bench, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, err).toBe(0);
  return { out, err };
}

/** The cells of the table rows in `out`, without its header (first cell `header`) and separator lines. */
export function tableCells(out: string, header: string): string[][] {
  return out
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith(`| ${header}`) && !line.startsWith('| ---'))
    .map((row) => row.split('|').map((cell) => cell.trim()).slice(1, -1));
}
