#!/usr/bin/env bash
# Usage: stage-release.sh SOURCE_DIR STAGING_DIR RELEASE_NAME DEPS_KEY NODE
#
# Builds STAGING_DIR/RELEASE_NAME.tar.gz on the Ansible controller: bin/, dist/,
# package.json, package-lock.json and the production node_modules, plus a
# RELEASE marker extracted last. The production node_modules are installed
# once per DEPS_KEY into STAGING_DIR/deps-DEPS_KEY (npm ci --omit=dev
# --ignore-scripts, then better-sqlite3 compiled from source: about 90 s) and
# reused by every later release with the same lockfile and Node.js ABI.
# Every result is built in a temporary path and renamed into place, so an
# interrupted or concurrent run never leaves a half-built cache entry. The
# cache keeps the 5 newest tarballs and the 2 newest node_modules builds.
set -euo pipefail
src=$1
staging=$2
name=$3
deps_key=$4
node=$5
mkdir -p "$staging"
work=$(mktemp -d "$staging/.work-XXXXXX")
trap 'rm -rf "$work"' EXIT

deps="$staging/deps-$deps_key"
if [ ! -d "$deps/node_modules" ]; then
  mkdir "$work/deps"
  cp "$src/package.json" "$src/package-lock.json" "$work/deps/"
  (
    cd "$work/deps"
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
    npm rebuild better-sqlite3 --loglevel=error
    # Build leftovers the runtime never loads (about 25 MB).
    sqlite=node_modules/better-sqlite3
    rm -rf "$sqlite/deps" "$sqlite/src" "$sqlite/build/deps" "$sqlite/build/Release/obj" \
      "$sqlite/build/Release/obj.target" "$sqlite/build/Release/.deps" \
      "$sqlite/build/Release/sqlite3.a" "$sqlite/build/Release/test_extension.node"
    "$node" -e 'new (require("better-sqlite3"))(":memory:").prepare("select 1").get()'
  )
  mv -T "$work/deps" "$deps" 2>/dev/null || [ -d "$deps/node_modules" ]
fi

printf '%s\n' "$name" > "$work/RELEASE"
tar --create --gzip --file "$work/release.tar.gz" \
  --owner=0 --group=0 --numeric-owner \
  -C "$src" bin dist package.json package-lock.json \
  -C "$deps" node_modules \
  -C "$work" RELEASE
mv "$work/release.tar.gz" "$staging/$name.tar.gz"

# Keep the cache small: the newest tarballs and dependency builds only.
# shellcheck disable=SC2012 # names are ours: no spaces or newlines
ls -1td "$staging"/pinbase-*.tar.gz | tail -n +6 | xargs -r rm -f
# shellcheck disable=SC2012
ls -1td "$staging"/deps-* | tail -n +3 | xargs -r rm -rf
