#!/usr/bin/env bash
# scripts/bench_compare.sh - tlm against PyTorch (Debian's python3-torch) on the
# same machine, side by side: training tok/s for tiny (B 16) and paper (B 4),
# and peak RSS of paper at B 32 (tlm with and without recompute=1), and tlm's
# scaling from 1 to 2 threads on paper B 4. PyTorch gets OPENBLAS_CORETYPE set
# to the right core (the "tuned" figures); tlm corrects its core itself.
# usage: scripts/bench_compare.sh [STEPS]   (run from a built tree)
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tlm=${TLM:-./tlm}
steps=${1:-10}
core=$(grep -q avx512f /proc/cpuinfo && echo SkylakeX || echo Haswell)
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "bench_compare: python3-torch is not installed (apt-get install python3-torch)" >&2
    exit 1
fi
run_torch() { OPENBLAS_CORETYPE=$core OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 "$top/scripts/bench_torch.py" "$@"; }
echo "== tiny, batch 16 x 128"
run_torch tiny 16 "$steps"
"$tlm" bench --preset tiny --batch 16 --steps $((steps + 1))
echo "== paper, batch 4 x 128"
run_torch paper 4 "$steps"
"$tlm" bench --preset paper --batch 4 --steps $((steps + 1))
echo "== paper, batch 32 x 128 (memory)"
run_torch paper 32 2
"$tlm" bench --preset paper --batch 32 --steps 3
"$tlm" bench --preset paper --batch 32 --steps 3 --set recompute=1
echo "== tlm paper, batch 4 x 128, 1 thread (scaling)"
"$tlm" bench --preset paper --batch 4 --steps $((steps + 1)) --threads 1
