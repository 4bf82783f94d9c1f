/**
 * Router CPU per request at different request rates: the same router and two
 * workers, PUT with workers that fsync (pipelined, the default) and that do
 * not (normal), and GET. A durable PUT is limited by the workers' fsyncs, so
 * the router serves it at a lower rate, where each request pays more of the
 * event loop's fixed costs (wake-ups, polls) that a busier loop shares.
 *
 *   npm run build && node dist/bench/router/cpu-vs-rate.js
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuSeconds, freePort, pinbase, stop, waitReady } from './bench-processes.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

async function measure(durability: 'pipelined' | 'normal'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-cpu-rate-'));
  const ports = [await freePort(), await freePort()];
  const routerPort = await freePort();
  const topology = join(dir, 'topology.json');
  writeFileSync(topology, JSON.stringify({ version: 1, workers: ports.map((p, i) => ({ id: `w${i + 1}`, url: `http://127.0.0.1:${p}` })) }));
  const workers = ports.map((p, i) =>
    pinbase(['worker', '--id', `w${i + 1}`, '--port', String(p), '--data', join(dir, 'data'), '--topology', topology, '--log-level', 'warn', '--durability', durability]),
  );
  const router = pinbase(['router', '--port', String(routerPort), '--topology', topology, '--log-level', 'warn']);
  try {
    await Promise.all([...ports.map((p) => waitReady(`http://127.0.0.1:${p}`)), waitReady(`http://127.0.0.1:${routerPort}`)]);
    const put = `request = function() return wrk.format("PUT", "/api/users/u" .. math.random(0, 999) .. "/bench/obj", {["content-type"]="application/json"}, '{"n":1,"text":"benchmark"}') end`;
    const get = 'request = function() return wrk.format("GET", "/api/users/u" .. math.random(0, 999) .. "/bench/obj") end';
    writeFileSync(join(dir, 'put.lua'), put);
    writeFileSync(join(dir, 'get.lua'), get);
    // The first PUT round creates the users' files; it is not reported.
    for (const [label, script] of [['warm-up', 'put'], ['PUT', 'put'], ['GET', 'get']] as const) {
      const before = cpuSeconds(router.pid!);
      const out = execFileSync('wrk', ['-t2', '-c32', `-d${SECONDS}s`, '-s', join(dir, `${script}.lua`), `http://127.0.0.1:${routerPort}`], { encoding: 'utf8' });
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      const cpu = cpuSeconds(router.pid!) - before;
      if (label !== 'warm-up') {
        console.log(`| ${durability} | ${label} | ${rps.toFixed(0)} | ${((cpu / (rps * SECONDS)) * 1e6).toFixed(1)} |`);
      }
    }
  } finally {
    await stop(router);
    for (const worker of workers) await stop(worker);
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`wrk -t2 -c32 -d${SECONDS}s through one router process, 1000 users, ${new Date().toISOString()}`);
console.log('| worker durability | method | req/s | router CPU µs/req |');
console.log('| --- | --- | ---: | ---: |');
await measure('normal');
await measure('pipelined');
