#!/usr/bin/env bash
# deps.sh: installs what Chorus needs and is missing: Debian packages (apt-get, with sudo
# when not root) and npm packages (npm ci when package-lock.json changed). Installs
# nothing when everything is there, so a second `make run` starts at once.
# Usage: scripts/deps.sh [--fuzz]   (--fuzz adds clang for the libFuzzer targets)
set -euo pipefail
cd "$(dirname "$0")/.."

# libpq-dev and postgresql: the PostgreSQL store backend and the throwaway cluster its
# tests start (scripts/pg-test.sh; Debian also starts a main cluster of its own on install).
# libcurl4-openssl-dev: the HTTP client that calls app backends (webhooks, RPC, join hook).
# prometheus: the real Prometheus the metrics test starts to scrape /metrics.
# libnss3-tools: certutil, which makes the NSS database through which the browser TLS test's
# Chromium trusts the test CA.
# libhiredis-dev and redis-server: the cluster bus (--cluster redis://...) and the
# throwaway redis-server its tests start (tests/e2e/lib/redis.mjs).
packages=(build-essential cmake pkg-config libuv1-dev libhttp-parser-dev libjansson-dev
          libssl-dev libsqlite3-dev libpq-dev libsodium-dev libjwt-dev liburing-dev sqlite3
          chromium curl postgresql libcurl4-openssl-dev prometheus libnss3-tools
          libhiredis-dev redis-server)
# haproxy: scripts/cluster.sh (make cluster) runs it in front of the nodes.
packages+=(haproxy)
# iproute2 (ss): the cluster chaos test finds a node's own Redis connection by its port.
packages+=(iproute2)
# janus: the WebRTC SFU (VideoRoom) that calls past the mesh size go through; the SFU tests
# start a throwaway one (tests/e2e/lib/janus.mjs).
packages+=(janus)
# coturn: the real TURN server the browser call test starts to relay a call through
# (tests/browser/rtc.test.mjs, docs/webrtc.md).
packages+=(coturn)
if [ "${1:-}" = "--fuzz" ]; then
    packages+=(clang libclang-rt-dev)
fi
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}"
fi

# Debian's nodejs may be older than what the suites need: say so now, not in a test.
scripts/check-node.sh

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.chorus-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "deps: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
fi
