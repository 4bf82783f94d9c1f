/**
 * The committed local inventory (ansible/inventories/local), copied into a
 * test directory with its fixed ports replaced by free ones, and edited the
 * way the README tells a person to scale out (a host's `worker_ports` line)
 * and to rotate a secret (a line of group_vars/all.yml).
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANSIBLE_DIR } from './ansible-runner.js';

function groupVarLine(name: string): RegExp {
  return new RegExp(`^${name}: (.*)$`, 'm');
}

/** The ports written in the committed inventory, replaced by the test's. */
const COMMITTED = { router: 'router_port: 8080', node1: 'worker_ports: [3601]', node2: 'worker_ports: [3701]' };

export class LocalInventory {
  readonly path: string;
  private readonly groupVarsPath: string;

  /** Copies inventories/local to `dir` with the router on `routerPort` and one worker on each of node1 and node2. */
  constructor(dir: string, routerPort: number, node1Port: number, node2Port: number) {
    cpSync(join(ANSIBLE_DIR, 'inventories', 'local'), dir, { recursive: true });
    this.path = join(dir, 'hosts.yml');
    let text = readFileSync(this.path, 'utf8');
    for (const line of Object.values(COMMITTED)) {
      if (!text.includes(line)) throw new Error(`inventories/local/hosts.yml no longer contains "${line}"; update the test`);
    }
    text = text
      .replace(COMMITTED.router, `router_port: ${routerPort}`)
      .replace(COMMITTED.node1, `worker_ports: [${node1Port}]`)
      .replace(COMMITTED.node2, `worker_ports: [${node2Port}]`);
    writeFileSync(this.path, text);
    this.groupVarsPath = join(dir, 'group_vars', 'all.yml');
  }

  /** The value of a one-line `name: value` setting in group_vars/all.yml, as written (a string or a JSON list). */
  groupVar(name: string): string | string[] {
    const value = groupVarLine(name).exec(readFileSync(this.groupVarsPath, 'utf8'))?.[1]?.trim();
    if (value === undefined) throw new Error(`inventories/local/group_vars/all.yml has no "${name}:" line; update the test`);
    return value.startsWith('[') ? (JSON.parse(value) as string[]) : value;
  }

  /** Rewrites that line, as a person editing group_vars/all.yml would (a list is written as a YAML flow list). */
  setGroupVar(name: string, value: string | string[]): void {
    this.groupVar(name);
    const text = readFileSync(this.groupVarsPath, 'utf8');
    const written = typeof value === 'string' ? value : JSON.stringify(value);
    writeFileSync(this.groupVarsPath, text.replace(groupVarLine(name), () => `${name}: ${written}`));
  }

  /**
   * Adds settings to group_vars/all.yml (one `name: <JSON>` line each, JSON
   * being YAML), as a person appending to the file would.
   */
  addGroupVars(vars: Record<string, unknown>): void {
    const lines = Object.entries(vars).map(([name, value]) => `${name}: ${JSON.stringify(value)}\n`);
    writeFileSync(this.groupVarsPath, `${readFileSync(this.groupVarsPath, 'utf8').trimEnd()}\n${lines.join('')}`);
  }

  /** Adds a group of hosts (no variables of their own) to hosts.yml, beside pinbase_routers and pinbase_workers. */
  addGroup(name: string, hosts: string[]): void {
    const text = readFileSync(this.path, 'utf8');
    if (!/\n {4}pinbase_workers:\n/.test(text)) throw new Error(`no pinbase_workers group in ${this.path}; update the test`);
    const group = `    ${name}:\n      hosts:\n${hosts.map((host) => `        ${host}: {}\n`).join('')}`;
    writeFileSync(this.path, `${text.trimEnd()}\n${group}`);
  }

  /** Rewrites `host`'s worker_ports line, as a person editing hosts.yml would. */
  setWorkerPorts(host: 'node1' | 'node2', ports: number[]): void {
    const text = readFileSync(this.path, 'utf8');
    const line = new RegExp(`(\\n\\s+${host}:\\n\\s+worker_ports: )\\[[^\\]]*\\]`);
    if (!line.test(text)) throw new Error(`no worker_ports line for ${host} in ${this.path}`);
    writeFileSync(this.path, text.replace(line, `$1[${ports.join(', ')}]`));
  }
}
