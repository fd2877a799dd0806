#!/usr/bin/env bash
# Builds the dashboard's page (dashboard/web) into dashboard/web/dist, which the sigma binary
# serves: embedded in a release build, read from disk by a debug one. Called by `make run`,
# `make test` and `make bench` before cargo. It builds only when a source changed (a rebuilt
# dist would make a release build rebuild every crate above the dashboard's), and installs the
# locked packages only when the lock changed. Needs Node.js 20.19 or later (Vite's minimum).
set -euo pipefail
cd "$(dirname "$0")/../dashboard/web"

sources=$(find src index.html embed.html package.json package-lock.json tsconfig.json vite.config.ts \
  -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [[ "$(cat dist/.sources 2>/dev/null)" == "$sources" ]]; then
  exit 0
fi

node_version=$(node --version 2>/dev/null || echo none)
if ! [[ "$node_version" =~ ^v(2[1-9]|[3-9][0-9]|20\.(19|[2-9][0-9]))\. ]]; then
  echo "dashboard: building the page needs Node.js 20.19 or later with npm (found: $node_version);" \
    "install it from https://nodejs.org or your distribution, then run make again" >&2
  exit 1
fi

installed=node_modules/.installed-lock
if ! cmp -s package-lock.json "$installed"; then
  # `npm install`, not `npm ci`: the lock pins every version, but it cannot list vite's
  # Windows-only optional package (the registry this machine reaches does not have it), and
  # `npm ci` refuses a lock that lacks one; `npm install` keeps to the lock and leaves it as is.
  echo "dashboard: installing the locked packages"
  npm install --no-audit --no-fund --silent
  cp package-lock.json "$installed"
fi
echo "dashboard: building dashboard/web/dist"
npm run --silent build
echo "$sources" > dist/.sources
