#!/usr/bin/env node
'use strict';
// The `pinbase` command. Workers fsync their WAL files on libuv's thread
// pool, and concurrent fsyncs let the file system commit its journal once for
// many of them, so a pool larger than libuv's default of 4 threads multiplies
// durable write throughput (docs/BENCHMARKS.md). libuv reads the size once,
// when the pool is first used, and Node uses it while loading an ES module
// entry point; so the entry point is this CommonJS file, which sets the size
// before any ES module loads. An explicit UV_THREADPOOL_SIZE is kept.
process.env.UV_THREADPOOL_SIZE ??= '32';
import('../dist/services/cli/main.js').catch((error) => {
  process.stderr.write(`pinbase: cannot load dist/ (run \`npm run build\`): ${error.message}\n`);
  process.exit(1);
});
