/**
 * Router memory while one large request body passes through it: a 200 MiB
 * PUT (`--body-limit` raised to 256 MiB) to a worker stand-in that reads
 * slowly (pauses 20 ms every 4 MiB). Prints the router process's RSS before
 * and at its peak (sampled from /proc every 10 ms) and the transfer time.
 *
 *   npm run build && node dist/bench/router/body-stream-rss.js [checkout]
 *   node dist/bench/router/body-stream-rss.js --quick [checkout]   # CI smoke: a 32 MiB body
 *
 * `checkout` (default: this one, built) is the directory whose
 * bin/pinbase.cjs runs the router: pass another built checkout to compare.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { freePort } from './bench-processes.js';

const { values, positionals } = parseArgs({ options: { quick: { type: 'boolean' } }, allowPositionals: true });
const MiB = 1024 * 1024;
const TOTAL = (values.quick === true ? 32 : 200) * MiB;
const CHUNK = 64 * 1024;
const FILLER = Buffer.alloc(CHUNK, 97);

async function main(): Promise<void> {
  const checkout = positionals[0] ?? fileURLToPath(new URL('../../..', import.meta.url));
  const upstream = createServer((req, res) => {
    res.setHeader('x-pinbase-worker', 'w1');
    res.setHeader('content-type', 'application/json');
    if (req.url === '/readyz') {
      res.end(JSON.stringify({ status: 'ready', worker: 'w1', topologyVersion: 1 }));
      return;
    }
    let received = 0;
    let sincePause = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      sincePause += chunk.length;
      if (sincePause >= 4 * MiB) {
        sincePause = 0;
        req.pause();
        setTimeout(() => req.resume(), 20);
      }
    });
    req.on('end', () => res.end(JSON.stringify({ received })));
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-body-rss-'));
  const topology = join(dir, 'topology.json');
  writeFileSync(topology, JSON.stringify({ version: 1, workers: [{ id: 'w1', url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` }] }));
  const port = await freePort();
  const args = [join(checkout, 'bin/pinbase.cjs'), 'router', '--port', String(port), '--topology', topology, '--body-limit', String(256 * MiB)];
  const router = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const status = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${router.pid}/status`, 'utf8'))![1]) / 1024;
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      const ready = await request(`${base}/readyz`).catch(() => undefined);
      await ready?.body.dump();
      if (ready?.statusCode === 200) break;
      if (i > 100) throw new Error('the router did not become ready');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Warm up: small PUTs, so that the baseline includes a used data path.
    for (let i = 0; i < 200; i++) await (await request(`${base}/api/users/alice/notes/n${i}`, { method: 'PUT', body: '{"a":1}' })).body.dump();
    const before = status('VmRSS');
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, status('VmRSS'))), 10);
    const started = performance.now();
    const body = Readable.from(
      (async function* () {
        for (let sent = 0; sent < TOTAL; sent += CHUNK) yield FILLER;
      })(),
      { objectMode: false },
    );
    const reply = await request(`${base}/api/users/alice/files/big`, { method: 'PUT', body, headers: { 'content-length': String(TOTAL) } });
    const answer = await reply.body.text();
    clearInterval(sampler);
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `${checkout}: ${reply.statusCode} ${answer}; ${TOTAL / MiB} MiB in ${seconds.toFixed(1)} s; router RSS ${before.toFixed(0)} MiB before, ` +
        `${peak.toFixed(0)} MiB at its peak (+${(peak - before).toFixed(0)} MiB; VmHWM ${status('VmHWM').toFixed(0)} MiB)\n`,
    );
  } finally {
    router.kill('SIGTERM');
    upstream.closeAllConnections();
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
