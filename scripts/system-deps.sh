#!/usr/bin/env bash
# System packages the tests need that pip cannot bring: Debian's Chromium for the browser tests
# and Debian's redis-server for the Redis state store, the shared rate budget and the token lease,
# and node/npm for the browser SDK tests' packages.
# Idempotent: does nothing when both are already there.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# node and npm install the browser SDKs the drop-in tests load (make js: npm ci in tests/js)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing system packages: run 'sudo apt-get install -y ${missing[*]}' (the tests need them)" >&2
  exit 1
fi
echo "installing Debian's ${missing[*]} for the tests..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
