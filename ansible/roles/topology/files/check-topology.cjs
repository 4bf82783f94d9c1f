#!/usr/bin/env node
// Usage: node check-topology.cjs TOPOLOGY_MODULE FILE_IN_USE CANDIDATE
//
// Ansible's `validate` step for the topology file: the CANDIDATE must pass
// Pinbase's own parser (TOPOLOGY_MODULE is the release's
// dist/services/topology/topology.js), its version must not be older than
// that of FILE_IN_USE (the router and the workers would reject it), and a
// changed worker list must come with a new version. Exits 1 with one line
// on stderr when the candidate must not replace the file in use.
'use strict';

async function main() {
  const { existsSync, readFileSync } = await import('node:fs');
  const { pathToFileURL } = await import('node:url');
  const [modulePath, inUsePath, candidatePath] = process.argv.slice(2);
  const { parseTopology } = await import(pathToFileURL(modulePath).href);
  const candidate = parseTopology(readFileSync(candidatePath, 'utf8'));
  if (existsSync(inUsePath)) {
    let inUse;
    try {
      inUse = parseTopology(readFileSync(inUsePath, 'utf8'));
    } catch {
      inUse = undefined; // An unusable file in use is replaced by any valid one.
    }
    if (inUse !== undefined && candidate.version < inUse.version) {
      throw new Error(`version ${candidate.version} is older than version ${inUse.version} in use`);
    }
    if (inUse !== undefined && candidate.version === inUse.version && JSON.stringify(candidate) !== JSON.stringify(inUse)) {
      throw new Error(`the workers changed but the version is still ${candidate.version}`);
    }
  }
  process.stdout.write(`topology version ${candidate.version}: ${candidate.workers.length} worker(s)\n`);
}

main().catch((error) => {
  process.stderr.write(`topology rejected: ${error.message}\n`);
  process.exit(1);
});
