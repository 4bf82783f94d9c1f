/**
 * Runs Ansible's command-line tools from ansible/ (so ansible.cfg, the roles
 * and .ansible-lint are found) the way a person would, and reads the
 * PLAY RECAP of a playbook run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ANSIBLE_DIR = fileURLToPath(new URL('../../../ansible/', import.meta.url));

export interface HostRecap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
}

export interface AnsibleRun {
  code: number | null;
  output: string;
  seconds: number;
  /** PLAY RECAP per inventory host. */
  recap: Map<string, HostRecap>;
}

/**
 * Whether the whole deployment sequence runs. `npm test` runs a first deploy
 * (secrets, 401s, a refused run), a port added under load, and the GlusterFS
 * scenario's refused run and first deploy: every role and the scale-out, in
 * about 8 minutes (484 s measured) of the 20–25 the whole sequence takes
 * beside the rest of the suite. `PINBASE_DEPLOY_SCENARIOS=all` (CI's .ci/run, `npm run test:all`)
 * adds the two unchanged runs (changed=0), the port removed,
 * rolling-restart.yml and the secret rotation. Any other value is refused,
 * so that a misspelt setting does not quietly run less.
 */
export const ALL_DEPLOY_SCENARIOS = ((): boolean => {
  const value = process.env.PINBASE_DEPLOY_SCENARIOS ?? '';
  if (value !== '' && value !== 'all') throw new Error(`PINBASE_DEPLOY_SCENARIOS is "${value}": leave it unset, or set it to "all"`);
  return value === 'all';
})();

const ENV = { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0', NO_COLOR: '1', PYTHONUNBUFFERED: '1' };

/**
 * Throws one clear line when a tool is not installed: the test must fail,
 * never skip, on a machine that lacks it.
 */
export function assertInstalled(tool: 'ansible-playbook' | 'ansible-lint'): void {
  const probe = spawnSync(tool, ['--version'], { env: ENV, encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `${tool} is not installed: install Debian's ansible-core and ansible-lint ` +
        `(apt-get install -y ansible-core ansible-lint ansible; .ci/run does this)`,
    );
  }
}

/** Runs `tool args...` in ansible/ and resolves when it exits (never rejects on a non-zero exit). */
export function runInAnsibleDir(tool: string, args: string[], timeoutMs = 600_000): Promise<AnsibleRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { cwd: ANSIBLE_DIR, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, seconds: (Date.now() - started) / 1000, recap: parseRecap(output) });
    });
  });
}

/**
 * `ansible-playbook -i INVENTORY PLAYBOOK -e pinbase_local_root=ROOT`, as the
 * README runs it, with `extraVars` (if any) as one more `-e` JSON document.
 */
export function runPlaybook(playbook: string, inventory: string, localRoot: string, extraVars?: Record<string, unknown>): Promise<AnsibleRun> {
  const extra = extraVars === undefined ? [] : ['-e', JSON.stringify(extraVars)];
  return runInAnsibleDir('ansible-playbook', ['-i', inventory, playbook, '-e', `pinbase_local_root=${localRoot}`, ...extra]);
}

function parseRecap(output: string): Map<string, HostRecap> {
  const recap = new Map<string, HostRecap>();
  const start = output.lastIndexOf('PLAY RECAP');
  if (start < 0) return recap;
  const line = /^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm;
  for (const match of output.slice(start).matchAll(line)) {
    const [, host, ok, changed, unreachable, failed] = match;
    recap.set(host!, { ok: Number(ok), changed: Number(changed), unreachable: Number(unreachable), failed: Number(failed) });
  }
  return recap;
}

/** The run's output, trimmed to its end, for assertion messages. */
export function describeRun(run: AnsibleRun): string {
  const tail = run.output.length > 6000 ? `...${run.output.slice(-6000)}` : run.output;
  return `exit ${run.code} after ${run.seconds.toFixed(1)} s\n${tail}`;
}
