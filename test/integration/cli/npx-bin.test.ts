import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));

describe('the pinbase command', () => {
  // npx takes seconds on a busy machine: the spawn has 60 s, and so has the test.
  it('runs as `npx pinbase --help` in the project and lists the subcommands', { timeout: 70_000 }, () => {
    const result = spawnSync('npx', ['--no-install', 'pinbase', '--help'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: pinbase <command>');
    expect(result.stdout).toMatch(/^\s+worker\s/m);
  });

  it('rejects an unknown command with one line and exit code 2', () => {
    const result = spawnSync(process.execPath, [`${root}/bin/pinbase.cjs`, 'frobnicate'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe('pinbase: unknown command "frobnicate"; run `pinbase --help`');
  });

  it('prints a subcommand\'s help both ways: `pinbase help up` is `pinbase up --help`', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [`${root}/bin/pinbase.cjs`, ...args], { encoding: 'utf8' });
    const viaHelp = run('help', 'up');
    const viaFlag = run('up', '--help');
    expect(viaHelp.status).toBe(0);
    expect(viaHelp.stdout).toMatch(/^Usage: pinbase up /);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    expect(run('help', 'frobnicate').status).toBe(2);
  });
});
