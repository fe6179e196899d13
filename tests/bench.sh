#!/usr/bin/env bash
# tlm bench train: the per-phase breakdown (time share and GFLOP/s), the
# forward kernel, the recompute share, and the same step result whichever
# kernel or recompute setting is used (a short nano run, not a timing test).
. "${TLM_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

if ! "$TLM" tokenize --text hi >/dev/null 2>&1; then
    echo "1..0 # SKIP the tok4096 tokenizer is missing (run datasets/setup.sh)"
    exit 0
fi

out=$("$TLM" bench train --preset nano --steps 3 2>&1)
ok $? "bench train --preset nano --steps 3"
for ph in "matmul fwd" "matmul bwd" "attention" "norms+elementwise" "optimizer" "quantizers"; do
    printf '%s\n' "$out" | grep -qE "^  ${ph//+/\\+} +[0-9.]+% +[0-9.]+ ms"
    ok $? "phase '$ph' with its time share"
done
printf '%s\n' "$out" | grep -qE "^  matmul fwd .* [0-9.]+ GFLOP/s$"
ok $? "matmul fwd with its GFLOP/s"
printf '%s\n' "$out" | grep -qE "^train: 2 steps, [0-9.]+ ms/step, [0-9]+ tok/s"
ok $? "tok/s of the timed steps"
printf '%s\n' "$out" | grep -qE "^quantized forward: (avx512vnni|float) products"
ok $? "the forward kernel is named: $(printf '%s\n' "$out" | grep '^quantized')"
printf '%s\n' "$out" | grep -qE "^peak RSS: [0-9]+ MB"
ok $? "peak RSS"

out=$("$TLM" bench --preset nano --steps 3 --set recompute=1 2>&1)
printf '%s\n' "$out" | grep -qE "^  \(recompute: [0-9.]+% of the time"
ok $? "recompute=1 reports the recomputation's share"

# the integer and the float forward train to the same losses (to rounding)
dir=$(tlm_tmpdir bench)
loss_of() {
    TLM_TRAIN_KERNEL=$1 "$TLM" train --preset nano --steps 12 --out "$dir/$1$2" --quiet \
        --set recompute="$2" >/dev/null 2>&1 || return 1
    tail -n 1 "$dir/$1$2/metrics.csv" | cut -d, -f4 | tr -d '"'
}
if "$TLM" bench --preset nano --steps 1 2>&1 | grep -q "avx512vnni"; then
    a=$(loss_of avx512vnni 0); b=$(loss_of float 0)
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-3 * b) }'
    ok $? "12 nano steps: integer forward loss $a vs float forward $b (within 1e-3)"
else
    ok 0 "# SKIP no AVX-512 VNNI: the float forward is the only one here"
fi
a=$(loss_of scalar 1); b=$(loss_of scalar 0)
[ -n "$a" ] && [ "$a" = "$b" ]
ok $? "12 nano steps: recompute=1 loss $a equals recompute=0 loss $b exactly"

expect_fail "an unknown TLM_TRAIN_KERNEL is refused by name" "TLM_TRAIN_KERNEL=sse9" \
    env TLM_TRAIN_KERNEL=sse9 "$TLM" bench --preset nano --steps 1
expect_fail "recompute outside 0..1 is refused by name" "recompute" \
    "$TLM" bench --preset nano --steps 1 --set recompute=2
echo "1..$tap_n"
[ "$tap_failed" -eq 0 ]
