#!/usr/bin/env bash
# scripts/check.sh - run the whole test suite and end with one line
# "N passed, N failed" counted from the per-case TAP results.
#  1. make check in build/ (automake's parallel harness, TAP driver);
#  2. the threaded tests again in build-tsan/ (./configure --enable-tsan): a
#     ThreadSanitizer report fails them. TLM_SKIP_TSAN=1 skips this part.
# The exit status is non-zero when either make fails.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
tsan_tests="tests/test_session tests/test_console tests/repl.sh"

make -C build -j"$(nproc)" check
status=$?
if [ "${TLM_SKIP_TSAN:-0}" != 1 ]; then
    mkdir -p build-tsan
    if [ ! -f build-tsan/Makefile ] || [ configure -nt build-tsan/Makefile ]; then
        (cd build-tsan && ../configure -q --enable-tsan --disable-werror)
    fi
    make -C build-tsan -s -j"$(nproc)" >/dev/null &&
        make -C build-tsan -j"$(nproc)" check TESTS="$tsan_tests" || status=1
fi

passed=0; failed=0
for trs in $(find build/tests build-tsan/tests -name '*.trs' 2>/dev/null); do
    p=$(grep -c '^:test-result: PASS' "$trs" || true)
    x=$(grep -c '^:test-result: XFAIL' "$trs" || true)
    s=$(grep -c '^:test-result: SKIP' "$trs" || true)
    f=$(grep -cE '^:test-result: (FAIL|ERROR|XPASS)' "$trs" || true)
    passed=$((passed + p + x)); failed=$((failed + f)); skipped=$((${skipped:-0} + s))
done
if [ $status -ne 0 ] && [ $failed -eq 0 ]; then
    failed=1  # the build or the harness failed before any case could
fi
if [ "${skipped:-0}" -gt 0 ]; then
    line="$passed passed, $failed failed, $skipped skipped"
else
    line="$passed passed, $failed failed"
fi
echo "$line" > build/.check-summary
echo "$line"
exit $status
