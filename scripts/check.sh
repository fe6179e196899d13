#!/usr/bin/env bash
# scripts/check.sh - run the whole test suite (make check, TAP, in parallel) and
# end with one line "N passed, N failed" counted from the per-case results;
# the exit status is make's.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
make -j"$(nproc)" check
status=$?
passed=0; failed=0
if [ -f test-suite.log ]; then
    for trs in $(find tests -name '*.trs' 2>/dev/null); do
        p=$(grep -c '^:test-result: PASS' "$trs" || true)
        x=$(grep -c '^:test-result: XFAIL' "$trs" || true)
        f=$(grep -cE '^:test-result: (FAIL|ERROR|XPASS)' "$trs" || true)
        passed=$((passed + p + x)); failed=$((failed + f))
    done
fi
if [ $status -ne 0 ] && [ $failed -eq 0 ]; then
    failed=1  # the build or the harness failed before any case could
fi
echo "$passed passed, $failed failed"
exit $status
