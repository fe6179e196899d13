#!/usr/bin/env bash
# scripts/fuzz.sh - run the libFuzzer targets one after the other.
#   scripts/fuzz.sh BUILD_DIR [SECONDS] [TARGET...]
# BUILD_DIR is configured with --enable-fuzz CC=clang and built
# (make tests/fuzz/fuzz_TARGET). Each target starts from the committed seeds
# (tests/fuzz/corpus/TARGET, read-only) and grows a scratch corpus in
# BUILD_DIR/fuzz-work/TARGET; crash inputs land in BUILD_DIR/fuzz-work/crashes.
# Prints one line per target: executions, seconds, result. Default: 600 s each,
# every target. A crash input belongs in tests/fuzz/corpus/TARGET/ once fixed.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:?usage: scripts/fuzz.sh BUILD_DIR [SECONDS] [TARGET...]}
secs=${2:-600}
shift $(( $# >= 2 ? 2 : 1 ))
targets=${*:-checkpoint safetensors packfile bpe wordpiece config console}
work="$build/fuzz-work"
mkdir -p "$work/crashes"
status=0
for t in $targets; do
    bin="$build/tests/fuzz/fuzz_$t"
    [ -x "$bin" ] || { echo "fuzz.sh: $bin not built" >&2; exit 2; }
    mkdir -p "$work/$t"
    log="$work/$t.log"
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$work/crashes/$t-" "$work/$t" "$top/tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1)
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
    if [ $rc -eq 0 ]; then res="no crash"; else res="FAILED (rc $rc, see $log)"; status=1; fi
    echo "$t: ${execs:-?} executions (${runs:-?}), $cov, corpus $(ls "$work/$t" | wc -l) files: $res"
done
exit $status
