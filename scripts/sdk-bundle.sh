#!/usr/bin/env bash
# sdk-bundle.sh: bundles the SDK (clients/js/chorus.js and the src/ modules it imports)
# into one ES module with esbuild, the file the web app loads as lib/chorus.js. Not
# minified (the browser console and stack traces stay readable); `ws`, which only Node
# < 22 imports, stays outside. The browser tests (tests/browser/lib/env.mjs) bundle with
# this script too, so they test what `make web` ships.
# Usage: scripts/sdk-bundle.sh OUT   (make web: web/lib/chorus.js)
# Needs node_modules (npm ci): esbuild.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/sdk-bundle.sh OUT}"
esbuild=node_modules/.bin/esbuild
if [ ! -x "$esbuild" ]; then
    echo "sdk-bundle: $esbuild is missing: run make deps (npm ci)" >&2
    exit 1
fi
exec "$esbuild" clients/js/chorus.js --bundle --format=esm --platform=neutral \
    --external:ws --log-level=warning --outfile="$out"
