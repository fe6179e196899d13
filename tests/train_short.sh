#!/usr/bin/env bash
# A short training run of the default model (the tiny preset, ternary) on the
# TinyStories text must bring the validation loss well below the unigram
# entropy of the validation tokens (the loss of the best model that ignores
# context). TLM_TRAIN_SHORT_STEPS overrides the step count.
# Measured on the 2-core machine: 120 steps at lr 1e-3 take 70 s (idle) to
# 240 s (busy); validation loss about 4.6-4.8 against a unigram entropy of
# 5.92 for seeds 1337, 1 and 2. lr 2e-3 is faster at first but gets stuck on
# the unigram plateau (around 5.7) in some runs.
. "${TLM_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
dir=$(tlm_tmpdir train_short)
steps=${TLM_TRAIN_SHORT_STEPS:-120}
lr=1e-3
margin=1.0 # nats below the unigram entropy

if ! "$TLM" tokenize --text hi >/dev/null 2>&1; then
    echo "1..0 # SKIP the tok4096 tokenizer is missing (run datasets/setup.sh)"
    exit 0
fi

start=$(date +%s)
"$TLM" train --preset tiny --steps "$steps" --set lr=$lr --set warmup=0.1 --set eval_every=0 \
    --out "$dir" --quiet
rc=$?
secs=$(( $(date +%s) - start ))
[ $rc -eq 0 ] && [ -f "$dir/last.tlmc" ]
ok $? "train --preset tiny --steps $steps --set lr=$lr (${secs}s)"

first=$(sed -n 2p "$dir/metrics.csv" | cut -d, -f4 | tr -d '"')
last=$(tail -n 1 "$dir/metrics.csv" | cut -d, -f4 | tr -d '"')
awk -v a="$first" -v b="$last" 'BEGIN { exit !(a == a + 0 && b == b + 0 && b < a - 1) }'
ok $? "the training loss falls by more than a nat (step 10: $first, last: $last)"

start=$(date +%s)
out=$("$TLM" eval --model "$dir/last.tlmc")
rc=$?
esecs=$(( $(date +%s) - start ))
val=$(printf '%s\n' "$out" | sed -n 's/^val_loss: //p')
ppl=$(printf '%s\n' "$out" | sed -n 's/^perplexity: //p')
unigram=$(printf '%s\n' "$out" | sed -n 's/^unigram_entropy: //p')
awk -v v="$val" -v u="$unigram" 'BEGIN { exit !(v == v + 0 && u == u + 0 && v > 0 && u > 0) }'
ok $(( rc != 0 || $? != 0 )) "eval on the validation text (${esecs}s): val_loss $val, unigram_entropy $unigram"
awk -v v="$val" -v u="$unigram" -v m="$margin" 'BEGIN { exit !(v <= u - m) }'
ok $? "val_loss $val is at least $margin nat below the unigram entropy $unigram (perplexity $ppl)"
echo "# steps $steps, train ${secs}s, eval ${esecs}s, val_loss $val, unigram_entropy $unigram"

tap_done
