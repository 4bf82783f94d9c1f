#!/usr/bin/env bash
# Usage: release-id.sh SOURCE_DIR NODE
#
# Prints, as one JSON line, the identity of the built Pinbase tree in
# SOURCE_DIR (run on the Ansible controller):
#   name  pinbase-<version>-<digest of dist/, package.json, package-lock.json and the ABI>
#   deps  digest of package.json, package-lock.json and the ABI: the production
#         node_modules are built once per value and reused by every release
#   abi   <platform>-<arch>-abi<NODE_MODULE_VERSION> of NODE: the native module
#         (better-sqlite3) only loads on hosts with the same value
# Read-only; the same tree always prints the same line.
set -euo pipefail
src=$1
node=$2
cd "$src"
if [ ! -f dist/services/cli/main.js ]; then
  echo "no build output in $src/dist: run 'npm run build' there first" >&2
  exit 2
fi
abi=$("$node" -p 'process.platform + "-" + process.arch + "-abi" + process.versions.modules')
version=$("$node" -p 'require("./package.json").version')
deps=$({ echo "$abi"; sha256sum package.json package-lock.json; } | sha256sum | cut -c1-12)
digest=$({
  echo "$deps"
  find bin dist -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-12)
printf '{"name": "pinbase-%s-%s", "deps": "%s", "abi": "%s"}\n' "$version" "$digest" "$deps" "$abi"
