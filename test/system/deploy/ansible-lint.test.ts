/**
 * The playbooks and roles pass ansible-lint (Debian 12's 6.13, production
 * profile, offline: ansible/.ansible-lint) and ansible-playbook's syntax
 * check, with every inventory.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { assertInstalled, describeRun, runInAnsibleDir } from './ansible-runner.js';

beforeAll(() => {
  assertInstalled('ansible-playbook');
  assertInstalled('ansible-lint');
});

describe('ansible: lint and syntax', () => {
  it('reports no ansible-lint finding with the production profile', async () => {
    const run = await runInAnsibleDir('ansible-lint', []);
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.output, describeRun(run)).toMatch(/Passed with production profile: 0 failure\(s\), 0 warning\(s\)/);
  }, 120_000);

  for (const playbook of ['site.yml', 'rolling-restart.yml']) {
    for (const inventory of ['inventories/production/hosts.yml', 'inventories/production-glusterfs/hosts.yml', 'inventories/local/hosts.yml']) {
      it(`passes the syntax check: ${playbook} with ${inventory}`, async () => {
        const run = await runInAnsibleDir('ansible-playbook', ['--syntax-check', '-i', inventory, playbook]);
        expect(run.code, describeRun(run)).toBe(0);
      }, 60_000);
    }
  }
});
