#!/usr/bin/env bash
# sdk-types.sh: generates the SDK's TypeScript declarations (clients/js/chorus.d.ts and
# clients/js/src/*.d.ts) from the JSDoc of clients/js/chorus.js and src/*.js with
# TypeScript's compiler (clients/js/tsconfig.json), and type-checks the consumer test
# (clients/js/typecheck/consumer.ts) against them. The declarations are checked in.
# Usage: scripts/sdk-types.sh           regenerate them (make sdk-types)
#        scripts/sdk-types.sh --check   fail when the checked-in ones differ from what tsc
#                                       generates now, or the consumer test does not compile
#                                       (make sdk)
# Needs node_modules (npm ci): typescript.
set -euo pipefail
cd "$(dirname "$0")/.."
tsc=node_modules/.bin/tsc
if [ ! -x "$tsc" ]; then
    echo "sdk-types: $tsc is missing: run make deps (npm ci)" >&2
    exit 1
fi
# tsc runs on a copy of the sources without the checked-in .d.ts files: next to a .js,
# a .d.ts would be read instead of the JSDoc.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src="$tmp/src" out="$tmp/out"
mkdir -p "$src/src" "$out"
cp clients/js/chorus.js clients/js/tsconfig.json "$src/"
cp clients/js/src/*.js "$src/src/"
"$tsc" -p "$src/tsconfig.json" --outDir "$out"

# The generated files, relative to clients/js, and the checked-in ones.
gen=$(cd "$out" && find . -name '*.d.ts' | sed 's|^\./||' | sort)
have=$( (cd clients/js && ls chorus.d.ts src/*.d.ts 2>/dev/null || true) | sort)

if [ "${1:-}" = "--check" ]; then
    stale=0
    if [ "$gen" != "$have" ]; then
        echo "sdk-types: the declaration files differ: generated:" $gen "; checked in:" $have >&2
        stale=1
    fi
    for f in $gen; do
        if ! diff -u "clients/js/$f" "$out/$f" >&2; then stale=1; fi
    done
    if [ $stale -ne 0 ]; then
        echo "sdk-types: clients/js's .d.ts files are not what tsc generates from the JSDoc:" \
             "run make sdk-types and commit them" >&2
        exit 1
    fi
    "$tsc" -p clients/js/typecheck/tsconfig.json
    echo "sdk-types: the declarations are up to date and the consumer test compiles"
    exit 0
fi

for f in $have; do
    case " $(echo $gen) " in *" $f "*) ;; *) rm -f "clients/js/$f"; echo "sdk-types: removed $f";; esac
done
for f in $gen; do
    mkdir -p "clients/js/$(dirname "$f")"
    cp "$out/$f" "clients/js/$f"
done
echo "sdk-types: wrote" $gen
