#!/usr/bin/env bash
# Installs what building, running and testing Sigma Live needs on a Debian
# machine, skipping whatever is already present. Called by `make run` and
# `make test`; safe to run again.
#
#   scripts/deps.sh build   — C toolchain pieces for rdkafka's cmake build, curl and jq
#   scripts/deps.sh run     — build + ffmpeg
#   scripts/deps.sh test    — run + chromium, hls.js, playwright-core + tansu (Kafka-protocol broker)
#                             + s3s-fs (S3-compatible server) + schemathesis + PostgreSQL running
#   scripts/deps.sh bench   — test + nginx with its RTMP module (the latency peer)
set -euo pipefail

mode="${1:-build}"
cache="${SIGMA_CACHE:-$HOME/.cache/sigma}"

apt_packages=(cmake pkg-config libcurl4-openssl-dev libssl-dev zlib1g-dev libsasl2-dev curl jq)
if [[ "$mode" == "test" || "$mode" == "run" ]]; then
  apt_packages+=(ffmpeg)
fi
if [[ "$mode" == "test" || "$mode" == "bench" ]]; then
  # Headless browser tests (the offline docs page, hls.js playback).
  apt_packages+=(ffmpeg chromium)
fi
if [[ "$mode" == "bench" ]]; then
  # The peer the latency benchmark runs side by side.
  apt_packages+=(nginx-light libnginx-mod-rtmp)
fi

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "$mode" == "test" || "$mode" == "bench" ]]; then
  tansu="$cache/tansu/bin/tansu"
  if [[ ! -x "$tansu" ]]; then
    echo "deps: installing tansu 0.6.0 into $cache/tansu (about 10 minutes, once)"
    CARGO_TARGET_DIR="$cache/tansu-build" cargo install tansu@0.6.0 --locked \
      --features dynostore,libsql --root "$cache/tansu" --quiet
  fi
  s3s="$cache/s3s/bin/s3s-fs"
  if [[ ! -x "$s3s" ]]; then
    echo "deps: installing s3s-fs 0.13.0 (an S3-compatible server for the S3 tests) into $cache/s3s (about 5 minutes, once)"
    CARGO_TARGET_DIR="$cache/s3s-build" cargo install s3s-fs@0.13.0 --locked --features binary \
      --root "$cache/s3s" --quiet
  fi
  if ! command -v cargo-nextest >/dev/null; then
    cargo install cargo-nextest --locked --quiet
  fi
  # schemathesis (PyPI), run against the API's OpenAPI document by tests/tests/schemathesis.rs.
  # anyio is pinned: 4.16's lazy importer compiles its own source at import, which trips
  # CPython 3.11.7's "AST constructor recursion depth mismatch" inside schemathesis' workers.
  schemathesis="$cache/schemathesis/bin/schemathesis"
  pins="schemathesis==4.32.5 anyio==4.11.0"
  if [[ ! -x "$schemathesis" || "$(cat "$cache/schemathesis/pins" 2>/dev/null)" != "$pins" ]]; then
    echo "deps: installing $pins into $cache/schemathesis"
    python3 -m venv "$cache/schemathesis"
    # shellcheck disable=SC2086 # one argument per pin
    "$cache/schemathesis/bin/pip" install --quiet $pins
    echo "$pins" > "$cache/schemathesis/pins"
  fi
  # hls.js and playwright-core for the browser tests (Debian's chromium is the browser), and
  # axe-core, which checks the dashboard's pages for accessibility.
  node_dir="$cache/node"
  node_packages=(hls.js@1.7.4 playwright-core@1.65.1 axe-core@4.14.1)
  if [[ "$(cat "$node_dir/packages" 2>/dev/null)" != "${node_packages[*]}" ]]; then
    command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    mkdir -p "$node_dir"
    npm install --prefix "$node_dir" --silent --no-audit --no-fund "${node_packages[@]}"
    echo "${node_packages[*]}" > "$node_dir/packages"
  fi
  # PostgreSQL: the machine's own server when one answers; otherwise Debian's.
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if ! command -v pg_ctlcluster >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
