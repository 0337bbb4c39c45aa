#!/usr/bin/env bash
# fuzz-run.sh SECONDS JOBS: runs every libFuzzer target in build-fuzz/ for SECONDS each,
# JOBS at a time (a target is one process on one core), each on its checked-in corpus
# (fuzz/corpus/<name>) plus a work corpus in build-fuzz/. Prints each target's last
# stats; on a crash prints the end of that target's log, names it and exits 1 (the
# crashing input is in build-fuzz/, per -artifact_prefix).
set -euo pipefail
seconds=$1
jobs=$2
cd "$(dirname "$0")/.."

run_one() {
    local t=$1 seconds=$2
    local name short log
    name=$(basename "$t")
    short=${name#fuzz_}
    mkdir -p "build-fuzz/corpus-$short"
    log=build-fuzz/$name.log
    if ! "$t" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=build-fuzz/ \
        "build-fuzz/corpus-$short" "fuzz/corpus/$short" >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz: $name FAILED"
        return 1
    fi
    echo "fuzz: $name for ${seconds}s: $(grep -E '^stat::number_of_executed_units' "$log" | tail -n 1)"
}
export -f run_one

targets=()
for t in build-fuzz/fuzz_*; do
    case $t in *.log) continue ;; esac
    [ -x "$t" ] && targets+=("$t")
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets in build-fuzz/" >&2; exit 1; }
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, $jobs at a time"
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$1" "$2"' _ {} "$seconds"
