#!/usr/bin/env bash
# scripts/bootstrap.sh - set up a fresh Debian 12 machine and build tlm.
#   bash scripts/bootstrap.sh run [tlm options...]   install, build, run tlm
#   bash scripts/bootstrap.sh check                  install, build, run the test suite
#   bash scripts/bootstrap.sh build                  install and build only
#   bash scripts/bootstrap.sh fuzz [SECONDS]         install clang + libFuzzer, build the
#                                                    fuzz targets in build-fuzz/, run each
# Installs only the Debian packages that are missing (needs root or sudo),
# verifies and links the data (datasets/setup.sh), configures once in build/
# (the source tree stays unconfigured, so sanitizer builds can sit beside it),
# builds, and links ./tlm to build/tlm.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
mode=${1:-build}
[ $# -gt 0 ] && shift

build_pkgs="build-essential autoconf automake pkg-config libopenblas-dev libjansson-dev
  libcsv-dev libncurses-dev libreadline-dev libutf8proc-dev zlib1g-dev"
test_pkgs="python3 python3-torch python3-numpy tmux"
fuzz_pkgs="clang libclang-rt-14-dev" # libFuzzer (only a Recommends of clang on Debian 12)
mpi_pkgs="libopenmpi-dev openmpi-bin"  # tests/mpi.sh: data-parallel training on 2 ranks

install_missing() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "bootstrap: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pkgs=$build_pkgs
[ "$mode" = check ] && pkgs="$pkgs $test_pkgs $mpi_pkgs"
[ "$mode" = fuzz ] && pkgs="$pkgs $fuzz_pkgs"
# shellcheck disable=SC2086
install_missing $pkgs
bash datasets/setup.sh >&2
mkdir -p m4
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
    autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
fi
mkdir -p build
# with Open MPI installed (check installs it) build/ gets --with-mpi: the same
# program outside mpirun, data-parallel under it, and make check runs tests/mpi.sh
conf_flags=""
pkg-config --exists ompi-c 2>/dev/null && conf_flags="--with-mpi"
if [ ! -f build/Makefile ] || [ configure -nt build/Makefile ] ||
    { [ -n "$conf_flags" ] && ! grep -q -e "--with-mpi" build/config.status; }; then
    (cd build && ../configure -q $conf_flags)
fi
make -C build -s -j"$(nproc)" >&2
ln -sfn build/tlm tlm

case "$mode" in
    build) ;;
    run) exec ./tlm "$@" ;;
    check) exec bash scripts/check.sh ;;
    fuzz)
        mkdir -p build-fuzz
        if [ ! -f build-fuzz/Makefile ] || [ configure -nt build-fuzz/Makefile ]; then
            (cd build-fuzz && ../configure -q --enable-fuzz --disable-werror CC=clang)
        fi
        make -C build-fuzz -s -j"$(nproc)" \
            $(for t in checkpoint safetensors packfile bpe wordpiece config console; do
                  echo "tests/fuzz/fuzz_$t"; done) >&2
        exec bash scripts/fuzz.sh build-fuzz "${1:-600}" ;;
    *) echo "bootstrap: unknown mode '$mode' (run, check, build or fuzz)" >&2; exit 2 ;;
esac
