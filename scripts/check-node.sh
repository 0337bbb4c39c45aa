#!/usr/bin/env bash
# check-node.sh: fails with a clear message unless `node` on PATH is Node.js 20 or later,
# what the test suites (node --test --test-concurrency), the SDK (fetch, ES modules) and
# the README's tour need. Debian 12's own nodejs package is 18, too old.
# Usage: scripts/check-node.sh   (deps.sh runs it)
set -euo pipefail
want=20
have=$(node -p 'process.versions.node' 2>/dev/null || true)
if [ -z "$have" ]; then
    echo "deps: node is not on PATH: install Node.js $want or later (https://nodejs.org/)" >&2
    exit 1
fi
if [ "${have%%.*}" -lt "$want" ]; then
    echo "deps: Node.js $have is too old: Chorus's tests, SDK and README tour need Node.js" \
         "$want or later (Debian 12's nodejs is 18). Install a newer one (https://nodejs.org/," \
         "or NodeSource's Debian packages) so that \`node\` on PATH is $want+, then run make" \
         "again." >&2
    exit 1
fi
