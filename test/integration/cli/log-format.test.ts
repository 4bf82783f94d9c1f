/**
 * A worker's logs are readable lines on a terminal and JSON lines when
 * piped. The terminal is a real pseudo-terminal: util-linux `script` runs
 * the worker on one.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { assertBuilt, CLI, CliProcess } from '../../support/cli-process.js';
import { freePort } from '../../support/free-port.js';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';

const hasScript = spawnSync('script', ['--version']).status === 0;
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

let dir: ReturnType<typeof makeTempDir>;
const started: { stop: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const p of started.splice(0)) await p.stop();
  dir?.remove();
});

/** `pinbase <args>` on a pseudo-terminal; its output (ANSI colours removed) as it comes. */
function onTerminal(args: string[]): { output: () => string; waitFor: (pattern: RegExp) => Promise<string> } {
  const quoted = [process.execPath, CLI, ...args].map((arg) => `'${arg.replace(/'/g, "'\\''")}'`).join(' ');
  const child: ChildProcess = spawn('script', ['-qfec', `exec ${quoted}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString('utf8').replace(ANSI, '').replace(/\r/g, '')));
  started.push({
    stop: async () => {
      // `exec`: script's child is the worker itself.
      const worker = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number).filter(Boolean);
      for (const pid of worker) process.kill(pid, 'SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    },
  });
  const waitFor = async (pattern: RegExp) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const match = pattern.exec(text);
      if (match) return match[0];
      if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${text}`);
      await sleep(50);
    }
  };
  return { output: () => text, waitFor };
}

describe.skipIf(!hasScript)('worker logs', () => {
  it('are one readable line per event on a terminal, with the process name and the request log', async () => {
    assertBuilt();
    dir = makeTempDir();
    const port = await freePort();
    const worker = onTerminal(['worker', '--id', 'w1', '--port', String(port), '--data', dir.path, '--log-requests']);
    await worker.waitFor(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  w1 {6}worker w1 listening at http://127\\.0\\.0\\.1:${port} \\(data `, 'm'));
    // A router's probes and a metrics scrape that find the worker well are not request lines.
    for (const probe of ['/readyz', '/healthz', '/metrics']) expect((await send(`http://127.0.0.1:${port}`, probe)).status).toBe(200);
    expect((await send(`http://127.0.0.1:${port}`, `/api/users/bob/notes?filter=${encodeURIComponent('{"secret":1}')}`)).status).toBe(200);
    await worker.waitFor(/^\S+ INFO {2}w1 {6}request {2}method=GET path=\/api\/users\/bob\/notes status=200 ms=[\d.]+$/m);
    expect(worker.output()).not.toContain('secret');
    expect(worker.output()).not.toMatch(/path=\/(readyz|healthz|metrics)/);
    // One startup line: no second "listening" from the framework.
    expect(worker.output().match(/listening/g)).toHaveLength(1);
  });

  it('are JSON lines naming the process when piped, and log no request unless asked', async () => {
    dir = makeTempDir();
    const port = await freePort();
    const worker = new CliProcess(['worker', '--id', 'w1', '--port', String(port), '--data', dir.path]);
    started.push({ stop: async () => void (await worker.stop()) });
    await worker.waitFor(/listening at/);
    await send(`http://127.0.0.1:${port}`, '/api/users/bob/notes/x');
    await sleep(200);
    const lines = worker.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, name: 'w1', msg: expect.stringMatching(/^worker w1 listening at http:\/\/127\.0\.0\.1:\d+ /) as unknown });
    expect(typeof lines[0]!.time).toBe('number');
  });
});
