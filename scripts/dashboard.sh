#!/usr/bin/env bash
# Builds the dashboard's page (dashboard/web) into dashboard/web/dist, which the sigma binary
# serves: embedded in a release build, read from disk by a debug one. Called by `make run` and
# `make test` before cargo; installs Node.js and npm if missing, installs the locked packages
# only when the lock file changed, and builds only when a source changed (a rebuilt dist would
# make cargo rebuild every crate above the dashboard's).
set -euo pipefail
cd "$(dirname "$0")/../dashboard/web"

if ! command -v npm >/dev/null; then
  echo "dashboard: installing nodejs and npm"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
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

sources=$(find src index.html package-lock.json tsconfig.json vite.config.ts -type f -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [[ "$(cat dist/.sources 2>/dev/null)" != "$sources" ]]; then
  echo "dashboard: building dashboard/web/dist"
  npm run --silent build
  echo "$sources" > dist/.sources
fi
