#!/usr/bin/env bash
# The paper commands on the nano preset with small budgets: finetune mrpc,
# sweep, report --quick; the numbers must be sane, the files well-formed, a
# rerun must reuse finished work, and bad input must give one clear error.
. "${TLM_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
dir=$(tlm_tmpdir paper)

if ! "$TLM" tokenize --text hi >/dev/null 2>&1; then
    echo "1..0 # SKIP the tok4096 tokenizer is missing (run datasets/setup.sh)"
    exit 0
fi

# in_range X LO HI: X is a finite number with LO <= X <= HI.
in_range() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x == x + 0 && x >= lo && x <= hi) }'; }

# csv_col FILE ROWKEY COL: column COL (1-based) of the row whose first field is ROWKEY.
csv_col() { awk -F, -v k="$2" -v c="$3" '$1 == k { print $c; exit }' "$1"; }

# svg_ok FILE: well-formed XML with an <svg> root.
svg_ok() {
    if command -v xmllint >/dev/null 2>&1; then
        xmllint --noout "$1" 2>/dev/null && [ "$(xmllint --xpath 'name(/*)' "$1" 2>/dev/null)" = svg ]
    else
        grep -q '^<svg xmlns="http://www.w3.org/2000/svg"' "$1" && tail -n 1 "$1" | grep -q '^</svg>$'
    fi
}

# ---- a small pretrained model ----
"$TLM" train --preset nano --steps 30 --out "$dir/nano" --quiet >/dev/null 2>&1
ok $? "train a nano model for the other commands"
model=$dir/nano/last.tlmc

# ---- finetune mrpc ----
out=$("$TLM" finetune mrpc --model "$model" --epochs 2 --limit 40 --max-len 48 --batch 8 \
    --out "$dir/ft.csv" 2>"$dir/ft.err")
ok $? "finetune mrpc on nano, 40 pairs, 2 epochs"
printf '%s\n' "$out" | grep -q 'encoded as <s> s1 </s> s2 </s>'
ok $? "finetune: says how pairs are framed with the BPE's separators"
printf '%s\n' "$out" | grep -Eq '^majority baseline \(always [01]'
ok $? "finetune: majority baseline printed beside"
[ "$(grep -c . "$dir/ft.csv")" -eq 3 ] && head -n 1 "$dir/ft.csv" | grep -q '^epoch,train_loss,dev_acc,dev_f1'
ok $? "finetune: CSV has a header and one row per epoch"
acc=$(csv_col "$dir/ft.csv" 2 3) f1=$(csv_col "$dir/ft.csv" 2 4) loss=$(csv_col "$dir/ft.csv" 2 2)
in_range "$acc" 0 1 && in_range "$f1" 0 1 && in_range "$loss" 0 5
ok $? "finetune: accuracy $acc, F1 $f1 in [0, 1], loss $loss finite"
tp=$(csv_col "$dir/ft.csv" 2 7) fp=$(csv_col "$dir/ft.csv" 2 8) fn=$(csv_col "$dir/ft.csv" 2 9) tn=$(csv_col "$dir/ft.csv" 2 10)
[ $((tp + fp + fn + tn)) -eq 40 ] && awk -v a="$acc" -v t=$((tp + tn)) 'BEGIN { exit !((a - t / 40) ^ 2 < 1e-10) }'
ok $? "finetune: the confusion counts cover the 40 dev pairs and give the accuracy"

# ---- sweep ----
out=$("$TLM" sweep --seeds 2 --preset nano --steps 12 --eval-windows 8 --out "$dir/sweep" 2>"$dir/sw.err")
ok $? "sweep: 2 seeds of nano"
csv=$dir/sweep/sweep.csv
[ "$(grep -c . "$csv")" -eq 5 ] && csv_col "$csv" mean 1 >/dev/null && [ -n "$(csv_col "$csv" std 4)" ]
ok $? "sweep: CSV has both seeds, mean and std"
ppl=$(csv_col "$csv" mean 5) sp=$(csv_col "$csv" mean 7) ratio=$(csv_col "$csv" mean 6)
in_range "$ppl" 1 4096 && in_range "$sp" 0 1 && in_range "$ratio" 0.5 2
ok $? "sweep: mean PPL $ppl finite and below the vocabulary, sparsity $sp in [0, 1], val/train $ratio"
s1=$(csv_col "$csv" 1 4) s2=$(csv_col "$csv" 2 4)
[ "$s1" != "$s2" ]
ok $? "sweep: the seeds differ ($s1 vs $s2)"
"$TLM" sweep --seeds 2 --preset nano --steps 12 --eval-windows 8 --out "$dir/sweep" >"$dir/sw2.out" 2>"$dir/sw2.err" &&
    [ "$(grep -c 'reused' "$dir/sw2.err")" -eq 2 ]
ok $? "sweep: a rerun with the same config reuses both seeds"
"$TLM" sweep --seeds 1 --preset nano --steps 13 --eval-windows 8 --out "$dir/sweep" >/dev/null 2>"$dir/sw3.err" &&
    ! grep -q reused "$dir/sw3.err"
ok $? "sweep: a changed config is trained again"

# ---- report --quick ----
rep=$dir/report
"$TLM" report --quick --out "$rep" >"$dir/rep.out" 2>"$dir/rep.err"
ok $? "report --quick"
grep -q '^report: \[1/' "$dir/rep.err" && ! grep -q $'\r' "$dir/rep.err"
ok $? "report: plain progress lines when stderr is not a terminal"
for f in report.md runs.csv summary.csv sparsity.csv memory.csv mrpc.csv latency.csv; do
    [ -s "$rep/$f" ] || echo "# missing $f"
done
[ -s "$rep/report.md" ] && [ -s "$rep/runs.csv" ] && [ -s "$rep/summary.csv" ] && [ -s "$rep/sparsity.csv" ] &&
    [ -s "$rep/memory.csv" ] && [ -s "$rep/mrpc.csv" ] && [ -s "$rep/latency.csv" ]
ok $? "report: report.md and the CSVs written"
all=0
for f in loss sparsity memory mrpc; do svg_ok "$rep/$f.svg" || { all=1; echo "# bad $f.svg"; }; done
ok $all "report: the SVGs are well-formed with an <svg> root"
for s in '## Perplexity' '## Sparsity per layer' '## Memory' '## MRPC' '## Decode latency' 'loss.svg'; do
    grep -q "$s" "$rep/report.md" || echo "# report.md lacks $s"
done
grep -q '## Perplexity' "$rep/report.md" && grep -q '## MRPC' "$rep/report.md" && grep -q '## Decode latency' "$rep/report.md"
ok $? "report: report.md has every section"
awk -F, 'NR > 1 && $1 != "paper" { if (!($8 > 1 && $8 < 4096 && $10 >= 0 && $10 <= 1)) bad = 1 } END { exit bad }' "$rep/runs.csv"
ok $? "report: every run's PPL below the vocabulary, sparsity in [0, 1]"
maj=$(csv_col "$rep/mrpc.csv" majority 5)
in_range "$maj" 0 1
ok $? "report: MRPC majority F1 $maj computed"
"$TLM" report --quick --out "$rep" >/dev/null 2>"$dir/rep2.err" && [ "$(grep -c reused "$dir/rep2.err")" -ge 4 ]
ok $? "report: a rerun reuses the finished runs"

# ---- bad input: one line on stderr, exit 1 ----
expect_fail "finetune without a task" "finetune: the task is missing" "$TLM" finetune
expect_fail "finetune unknown task" "unknown \('sst2'\)" "$TLM" finetune sst2 --model "$model"
expect_fail "finetune without --model" "--model FILE is required" "$TLM" finetune mrpc
expect_fail "finetune --epochs 0" "--epochs: '0' is not an integer in 1..1000" "$TLM" finetune mrpc --model "$model" --epochs 0
expect_fail "finetune --lr abc" "--lr: 'abc' is not a number" "$TLM" finetune mrpc --model "$model" --lr abc
expect_fail "finetune --pool first" "--pool: 'first' is not last or mean" "$TLM" finetune mrpc --model "$model" --pool first
expect_fail "finetune --max-len above max_ctx" "--max-len 100 is above the model's max_ctx 64" "$TLM" finetune mrpc --model "$model" --max-len 100
expect_fail "finetune --epochs without value" "option '--epochs' needs a value" "$TLM" finetune mrpc --model "$model" --epochs
expect_fail "finetune missing model file" "$dir/none.tlmc" "$TLM" finetune mrpc --model "$dir/none.tlmc"
expect_fail "finetune --data without the files" "--data $dir: need train.tsv and dev.tsv" "$TLM" finetune mrpc --model "$model" --data "$dir"
mkdir -p "$dir/badmrpc"
printf '\xef\xbb\xbfQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tok\tok\nx\t1\t2\ta\tb\n' >"$dir/badmrpc/train.tsv"
cp "$dir/badmrpc/train.tsv" "$dir/badmrpc/dev.tsv"
expect_fail "finetune bad label in the data" "badmrpc/train.tsv: line 3: label 'x' is not 0 or 1" "$TLM" finetune mrpc --model "$model" --data "$dir/badmrpc"
expect_fail "sweep without --seeds" "sweep: --seeds N is required" "$TLM" sweep --preset nano
expect_fail "sweep --seeds 0" "--seeds: '0' is not an integer in 1..256" "$TLM" sweep --seeds 0 --preset nano
expect_fail "sweep --eval-windows -1" "--eval-windows: '-1'" "$TLM" sweep --seeds 1 --eval-windows -1 --preset nano
expect_fail "sweep bad --set" "--set: .*nosuchkey" "$TLM" sweep --seeds 1 --preset nano --set nosuchkey=1
expect_fail "sweep unknown option" "sweep: unknown option '--epochs'" "$TLM" sweep --seeds 1 --epochs 2
expect_fail "report without --out" "report: --out DIR is required" "$TLM" report --quick
expect_fail "report --quick with a value" "option '--quick' takes no value" "$TLM" report --quick=1 --out "$dir/r2"
expect_fail "report unknown option" "report: unknown option '--preset'" "$TLM" report --out "$dir/r2" --preset tiny
expect_fail "report --seeds 9" "--seeds: '9' is not an integer in 1..8" "$TLM" report --out "$dir/r2" --seeds 9
expect_fail "report --paper-steps -1" "--paper-steps: '-1'" "$TLM" report --out "$dir/r2" --paper-steps -1
tap_done
