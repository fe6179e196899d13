# tests/lib.sh - TAP helpers for the shell tests.
TLM_SRCDIR=${TLM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
TLM_BUILDDIR=${TLM_BUILDDIR:-$TLM_SRCDIR}
TLM=${TLM:-$TLM_BUILDDIR/tlm}
export TLM_CACHE_DIR=${TLM_CACHE_DIR:-$TLM_BUILDDIR/tests/cache}
tap_n=0
tap_failed=0

# tlm_tmpdir NAME: a fresh folder under the build tree for one test.
tlm_tmpdir() {
    local d="$TLM_BUILDDIR/tests/tmp/$1"
    rm -rf "$d" && mkdir -p "$d" && echo "$d"
}

# ok COND_STATUS NAME: report one case from an exit status.
ok() {
    tap_n=$((tap_n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $tap_n - $2"
    else
        tap_failed=$((tap_failed + 1))
        echo "not ok $tap_n - $2"
    fi
}

# expect_fail NAME PATTERN CMD...: CMD must exit 1 with one stderr line matching PATTERN.
expect_fail() {
    local name=$1 pat=$2; shift 2
    local err rc
    err=$("$@" 2>&1 >/dev/null); rc=$?
    local lines
    lines=$(printf '%s\n' "$err" | grep -c .)
    if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && printf '%s' "$err" | grep -qE -e "$pat"; then
        ok 0 "$name"
    else
        ok 1 "$name"
        echo "# exit $rc, stderr: $err"
    fi
}

tap_done() {
    echo "1..$tap_n"
    [ $tap_failed -eq 0 ]
}
