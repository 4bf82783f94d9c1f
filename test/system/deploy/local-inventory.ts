/**
 * The committed local inventory (ansible/inventories/local), copied into a
 * test directory with its fixed ports replaced by free ones, and edited the
 * way the README tells a person to scale out: by changing a host's
 * `worker_ports` line.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANSIBLE_DIR } from './ansible-runner.js';

/** The ports written in the committed inventory, replaced by the test's. */
const COMMITTED = { router: 'router_port: 8080', node1: 'worker_ports: [3601]', node2: 'worker_ports: [3701]' };

export class LocalInventory {
  readonly path: string;

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
  }

  /** Rewrites `host`'s worker_ports line, as a person editing hosts.yml would. */
  setWorkerPorts(host: 'node1' | 'node2', ports: number[]): void {
    const text = readFileSync(this.path, 'utf8');
    const line = new RegExp(`(\\n\\s+${host}:\\n\\s+worker_ports: )\\[[^\\]]*\\]`);
    if (!line.test(text)) throw new Error(`no worker_ports line for ${host} in ${this.path}`);
    writeFileSync(this.path, text.replace(line, `$1[${ports.join(', ')}]`));
  }
}
