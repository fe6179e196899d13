#!/usr/bin/env bash
# The C engine against an independent PyTorch model (tests/torch_ref.py).
. "${TLM_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
py=/usr/bin/python3
if ! $py -c 'import torch, numpy' 2>/dev/null; then
    echo "1..0 # SKIP python3-torch is not installed (bash scripts/bootstrap.sh check installs it)"
    exit 0
fi
dir=$(tlm_tmpdir torch_ref)
"$TLM_BUILDDIR/tests/ref_dump" "$dir" || { echo "not ok 1 - ref_dump failed"; echo "1..1"; exit 1; }
exec $py "$TLM_SRCDIR/tests/torch_ref.py" "$dir"
