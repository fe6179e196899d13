#!/usr/bin/env bash
# The tlm command line: every command, good and bad input. Errors must exit
# with status 1 and one stderr line naming the file, key or option; nothing
# may be ended by a signal.
. "${TLM_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
dir=$(tlm_tmpdir cli)
rcs=$dir/exit-codes
errf=$dir/stderr
: >"$rcs"

# t ARGS...: run tlm, remembering its exit status for the signal check.
t() {
    "$TLM" "$@"
    local rc=$?
    echo "$rc $*" >>"$rcs"
    return $rc
}

# run ARGS...: t with stdout in $out, stderr in $err, status in $rc.
run() {
    out=$(t "$@" 2>"$errf")
    rc=$?
    err=$(cat "$errf")
}

# near A B REL: |A - B| <= REL * max(|A|, |B|).
near() {
    awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN {
        d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a; n = b < 0 ? -b : b; if (n > m) m = n;
        exit !(a == a + 0 && b == b + 0 && d <= r * m) }'
}

# field NAME: the value of the "NAME: value" line of $out.
field() { printf '%s\n' "$out" | sed -n "s/^$1: //p" | head -n 1; }

float_re='^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$'

if ! "$TLM" tokenize --text hi >/dev/null 2>&1; then
    echo "1..0 # SKIP the tok4096 tokenizer is missing (run datasets/setup.sh)"
    exit 0
fi

# ---- help, info ----
run help
ok $(( rc != 0 )) "help exits 0"
printf '%s\n' "$out" | grep -q '^  train' && printf '%s\n' "$out" | grep -q '^  score'
ok $? "help lists the commands"

run info --preset paper
ok $(( rc != 0 )) "info --preset paper exits 0"
printf '%s\n' "$out" | grep -qx 'parameters: 131921466'
ok $? "info --preset paper: parameters: 131921466"

run info --preset tiny
tiny_params=$(field parameters)
ok $(( rc != 0 || tiny_params != 6824704 )) "info --preset tiny: parameters: 6824704 (got $tiny_params)"
[ "$(field dim)" = 256 ] && [ "$(field hidden)" = 683 ] && [ "$(field layers)" = 6 ]
ok $? "info --preset tiny shows dim 256, hidden 683, 6 layers"

run info --preset tiny --set dim=128 --set hidden=341
# 2*V*d (embedding and head) + V (head bias) + 2*L*d + d (norms) + L*(4d^2 + 3dh)
want=$(( 2 * 4096 * 128 + 4096 + 2 * 6 * 128 + 128 + 6 * (4 * 128 * 128 + 3 * 128 * 341) ))
[ $rc -eq 0 ] && [ "$(field dim)" = 128 ] && [ "$(field hidden)" = 341 ] && \
    [ "$(field parameters)" = "$want" ] && [ "$want" = 2233216 ]
ok $? "info --set dim=128 --set hidden=341 reflects the change (parameters $want)"

run info --keys
printf '%s\n' "$out" | grep -q '^lr: ' && printf '%s\n' "$out" | grep -q '^warmup: '
ok $(( rc != 0 || $? != 0 )) "info --keys lists the configuration keys"

# ---- tokenize ----
run tokenize --text "Once upon a"
ids=$out
ok $(( rc != 0 )) "tokenize exits 0"
[ "$ids" = "403,407,261" ]
ok $? "tokenize 'Once upon a' -> 403,407,261 (got $ids)"

run tokenize --text "Once upon a" --pieces
[ $rc -eq 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 4 ] && \
    [ "$(printf '%s\n' "$out" | sed -n 2p)" = "$(printf '403\t Once')" ] && \
    [ "$(printf '%s\n' "$out" | sed -n 4p)" = "$(printf '261\t a')" ]
ok $? "tokenize --pieces prints the ids, then one 'id<TAB>piece' line per token"

run tokenize --preset paper --text "Hello world"
[ $rc -eq 0 ] && [ "$out" = "7592,2088" ]
ok $? "tokenize --preset paper 'Hello world' -> 7592,2088 (got $out)"

tok4096=$TLM_SRCDIR/datasets/data/tokenizers/llama2c_tinystories/tok4096.bin
if [ -r "$tok4096" ]; then
    run tokenize --tokenizer "$tok4096" --text "Once upon a"
    [ $rc -eq 0 ] && [ "$out" = "403,407,261" ]
    ok $? "tokenize --tokenizer FILE uses that file"
fi

# ---- train ----
d0=$dir/run0
run train --preset nano --steps 0 --out "$d0"
ok $(( rc != 0 )) "train --steps 0 exits 0"
[ "$(cd "$d0" && ls | tr '\n' ' ')" = "last.tlmc metrics.csv " ]
ok $? "train --steps 0 writes only last.tlmc and metrics.csv"
[ "$(wc -l <"$d0/metrics.csv")" -eq 1 ]
ok $? "train --steps 0: metrics.csv holds only the header"

header='step,tokens,lr,train_loss,val_loss,grad_norm,tok_s'
for l in 0 1; do
    for lin in attn.q attn.k attn.v attn.o mlp.gate mlp.up mlp.down; do
        header="$header,sparsity.L$l.$lin"
    done
done
[ "$(head -n 1 "$d0/metrics.csv" | tr -d '"')" = "$header" ]
ok $? "metrics.csv header: $header"

d1=$dir/run1
run train --preset nano --steps 30 --set eval_every=10 --out "$d1"
ok $(( rc != 0 )) "train --preset nano --steps 30 exits 0"
[ -z "$err" ]
ok $? "a good training run prints nothing on stderr"
printf '%s\n' "$out" | grep -q "saved $d1/last.tlmc at step 30"
ok $? "train reports the saved checkpoint at step 30"
[ "$(cd "$d1" && ls | tr '\n' ' ')" = "last.tlmc metrics.csv " ]
ok $? "train writes last.tlmc and metrics.csv into --out"
[ "$(head -n 1 "$d1/metrics.csv" | tr -d '"')" = "$header" ]
ok $? "metrics.csv of the run has the header"
awk -F, -v ncol=$(( 7 + 14 )) '
    NR == 1 { next }
    { gsub(/"/, "") }
    NF != ncol { bad = 1 }
    { step[NR - 1] = $1; if ($4 !~ /^[0-9.]+$/ || $5 !~ /^[0-9.]+$/ || $4 > 20) bad = 1 }
    END { exit bad || NR != 4 || step[1] != 10 || step[2] != 20 || step[3] != 30 }' \
    "$d1/metrics.csv"
ok $? "metrics.csv rows: steps 10, 20, 30 with train and val loss, every column filled"

d1b=$dir/run1b
run train --preset nano --steps 30 --set eval_every=10 --out "$d1b"
cmp -s <(cut -d, -f1-6 "$d1/metrics.csv") <(cut -d, -f1-6 "$d1b/metrics.csv")
ok $(( rc != 0 || $? != 0 )) "training is deterministic: the same run gives the same losses"

d2=$dir/run2
run --steps 0 --preset nano --out "$d2"
[ $rc -eq 0 ] && [ -f "$d2/last.tlmc" ]
ok $? "train is the default command ('tlm --steps 0 ...')"

cp -r "$d1" "$dir/run1r"
dr=$dir/run1r
run train --resume "$dr/last.tlmc" --steps 50 --out "$dr"
ok $(( rc != 0 )) "train --resume exits 0"
printf '%s\n' "$out" | grep -q 'steps 30 -> 50' && \
    printf '%s\n' "$out" | grep -q "saved $dr/last.tlmc at step 50"
ok $? "--resume continues from the checkpoint's step 30 to --steps 50"
[ "$(tail -n +2 "$dr/metrics.csv" | cut -d, -f1 | tr -d '"' | tr '\n' ' ')" = "10 20 30 40 50 " ]
ok $? "--resume appends rows 40 and 50 to metrics.csv"
run train --resume "$dr/last.tlmc" --preset nano --steps 50 --out "$dr"
[ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q "saved $dr/last.tlmc at step 50"
ok $? "--resume at the last step saves again and exits 0"

ck=$d1/last.tlmc

# ---- sparsity ----
run sparsity --model "$d0/last.tlmc" --out "$dir/sparsity.csv"
ok $(( rc != 0 )) "sparsity exits 0"
[ "$(wc -l <"$dir/sparsity.csv")" -eq 16 ] && head -1 "$dir/sparsity.csv" | grep -q '^linear,precision,rows,cols,g,minus,zero,plus,sparsity$'
ok $? "sparsity CSV: header, emb and the 14 linears of nano"
# an untrained N(0, s) weight is zero when |w| < g/2 = s sqrt(2/pi)/2: 2 Phi(0.399) - 1 = 0.310
awk -F, 'NR > 1 { if ($9 < 0.28 || $9 > 0.34 || $6 + $7 + $8 != $3 * $4) bad = 1 } END { exit bad }' "$dir/sparsity.csv"
ok $? "sparsity of the initial weights is the Gaussian's 31% and the codes add up"
printf '%s\n' "$out" | grep -q '^middle L1-L1: .* zeros; boundary layers: '
ok $? "sparsity prints the middle-versus-boundary comparison"
expect_fail "sparsity: missing model" 'nonexistent' t sparsity --model /nonexistent.tlmc

# ---- memory ----
run memory --preset tiny
ok $(( rc != 0 )) "memory exits 0"
inf=$(printf '%s\n' "$out" | awk '/^  inference model/ { print $3, $5 }')
awk -v a="${inf% *}" -v b="${inf#* }" 'BEGIN { exit !(a > 0 && b / a > 2.5) }'
ok $? "memory: the packed tiny model is over 2.5x smaller than fp32 ($inf MB)"
rss=$(printf '%s\n' "$out" | awk '/^  (training, one step|inference, 16)/ { print $(NF-3), $(NF-1) }' | tr '\n' ' ')
set -- $rss
awk -v t="$1" -v f="$2" -v i="$3" -v j="$4" 'BEGIN { exit !(t > 100 && f > 100 && i > 0 && i < j) }'
ok $? "memory: measured peak RSS of training and of decoding, packed below fp32 ($rss)"
expect_fail "memory: unknown preset" 'huge' t memory --preset huge

# ---- eval ----
run eval --model "$ck"
vl=$(field val_loss); ppl=$(field perplexity); ue=$(field unigram_entropy)
ok $(( rc != 0 )) "eval exits 0"
[[ $vl =~ $float_re ]] && [[ $ppl =~ $float_re ]] && [[ $ue =~ $float_re ]]
ok $? "eval prints val_loss ($vl), perplexity ($ppl), unigram_entropy ($ue)"
near "$(awk -v v="$vl" 'BEGIN { printf "%.9g", exp(v) }')" "$ppl" 1e-5
ok $? "perplexity = exp(val_loss)"
awk -v u="$ue" 'BEGIN { exit !(u > 4 && u < 8.32) }'
ok $? "unigram entropy of the validation tokens is in (4, ln 4096)"
sm=$(printf '%s\n' "$out" | sed -n 's/^notebook_smoothed_loss: \([0-9.]*\) .*/\1/p')
awk -v s="$sm" -v v="$vl" 'BEGIN { exit !(s > v && s >= 0.9 * v + 0.1 * log(4096) - 1e-6) }'
ok $? "the notebook's label-smoothed loss ($sm) is above val_loss and >= 0.9 val_loss + 0.1 ln V (Jensen)"

head -c 20000 "$TLM_SRCDIR/datasets/data/tinystories/TinyStories-valid.head.hf-export.txt" \
    >"$dir/valid-small.txt"
run eval --model "$ck" --data "$dir/valid-small.txt"
vl_small=$(field val_loss)
[ $rc -eq 0 ] && [[ $vl_small =~ $float_re ]]
ok $? "eval --data PATH scores that text ($vl_small)"

# ---- score ----
run score --model "$ck" --tokens 1,403,407,261
s_tokens=$out
[ $rc -eq 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [[ $out =~ $float_re ]]
ok $? "score --tokens prints one number ($out)"
[ "$(printf '%s' "$s_tokens" | sed 's/.*\.//' | wc -c)" -ge 12 ]
ok $? "score prints full float precision"
run score --model "$ck" --text "Once upon a"
[ $rc -eq 0 ] && [ "$out" = "$s_tokens" ]
ok $? "score --text 'Once upon a' (BOS + $ids) equals score --tokens 1,$ids"

# ---- export ----
st=$dir/model.safetensors
run export --model "$ck" --format safetensors --out "$st"
[ $rc -eq 0 ] && [ -s "$st" ]
ok $? "export --format safetensors writes the file"
run score --model "$st" --tokens 1,403,407,261
[ $rc -eq 0 ] && [ "$out" = "$s_tokens" ]
ok $? "score of the safetensors export is byte-identical ($out)"
run eval --model "$st" --data "$dir/valid-small.txt"
[ $rc -eq 0 ] && [ "$(field val_loss)" = "$vl_small" ]
ok $? "eval of the safetensors export equals the checkpoint's"
run export --model "$st" --out "$dir/again.safetensors"
[ $rc -eq 0 ] && cmp -s "$st" "$dir/again.safetensors"
ok $? "export of a safetensors file (default format) reproduces it"

# ---- bad input: exit 1, one stderr line naming the culprit ----
: >"$dir/empty.txt"
printf 'Once upon a time\0\001\002 binary\n' >"$dir/binary.txt"
mkdir -p "$dir/adir"
printf 'Once upon a time.\n' >"$dir/short.txt"
printf '# a config\ndim = 64\nfrobnicate = 3\n' >"$dir/unknown.cfg"
head -c 4096 "$ck" >"$dir/truncated.tlmc"
head -c 4096 "$st" >"$dir/truncated.safetensors"
awk 'BEGIN { srand(7); for (i = 0; i < 3000; i++) printf "%c", int(rand() * 255) + 1 }' \
    >"$dir/garbage.bin"

expect_fail "missing tokenizer file" 'missing-tok\.bin' \
    t tokenize --tokenizer "$dir/missing-tok.bin" --text hi
expect_fail "train: missing tokenizer (--set tokenizer=)" 'missing-tok\.bin' \
    t train --preset nano --steps 1 --set tokenizer="$dir/missing-tok.bin" --out "$dir/o"
expect_fail "empty tokenizer file" 'empty\.txt' \
    t tokenize --tokenizer "$dir/empty.txt" --text hi
expect_fail "garbage tokenizer file" 'garbage\.bin' \
    t tokenize --tokenizer "$dir/garbage.bin" --text hi
expect_fail "tokenizer that is a directory" 'adir' \
    t tokenize --tokenizer "$dir/adir" --text hi
expect_fail "missing data file" '/nonexistent' \
    t train --preset nano --steps 1 --data /nonexistent --out "$dir/o"
expect_fail "empty data file" 'empty\.txt' \
    t train --preset nano --steps 1 --data "$dir/empty.txt" --out "$dir/o"
expect_fail "binary data file (NUL bytes)" 'binary\.txt.*(NUL|binary)' \
    t train --preset nano --steps 1 --data "$dir/binary.txt" --out "$dir/o"
expect_fail "unreadable data (a directory)" 'adir.*directory' \
    t train --preset nano --steps 1 --data "$dir/adir" --out "$dir/o"
expect_fail "data too short for one window" 'short\.txt' \
    t train --preset nano --steps 1 --data "$dir/short.txt" --out "$dir/o"
expect_fail "eval: missing data file" '/nonexistent' t eval --model "$ck" --data /nonexistent
expect_fail "eval: empty data file" 'empty\.txt' t eval --model "$ck" --data "$dir/empty.txt"
expect_fail "eval: binary data file" 'binary\.txt' t eval --model "$ck" --data "$dir/binary.txt"
expect_fail "eval: data too short" 'short\.txt' t eval --model "$ck" --data "$dir/short.txt"
expect_fail "config with an unknown key names file:line and key" 'unknown\.cfg:3.*frobnicate' \
    t train --config "$dir/unknown.cfg" --steps 1 --out "$dir/o"
expect_fail "info: config with an unknown key" 'unknown\.cfg:3.*frobnicate' \
    t info --config "$dir/unknown.cfg"
expect_fail "missing config file" 'nope\.cfg' t info --config "$dir/nope.cfg"
expect_fail "config that is a directory" 'adir' t info --config "$dir/adir"
expect_fail "--set layers=0" "layers" t info --set layers=0
expect_fail "--set dim=250 (not a multiple of the heads)" "dim.*250" t info --set dim=250
expect_fail "--set heads=3 (dim not a multiple)" "dim|heads" t info --set heads=3
expect_fail "--set vocab=0" "vocab" t info --set vocab=0
expect_fail "--set vocab=99999999 (out of range)" "vocab" t info --set vocab=99999999
expect_fail "train --set vocab=16000000 (absurd for the tokenizer)" "vocab.*16000000" \
    t train --preset nano --steps 1 --set vocab=16000000 --out "$dir/o"
expect_fail "sizes whose products overflow" "absurd|overflow" \
    t info --set dim=65536 --set heads=1 --set hidden=1048576 --set layers=64
expect_fail "batch x ctx x vocab absurd" "absurd|overflow" \
    t info --set batch=65536 --set ctx=65536 --set max_ctx=65536
expect_fail "--set lr=nan" "lr" t info --set lr=nan
expect_fail "--set lr=inf" "lr" t info --set lr=inf
expect_fail "--set with an unknown key" "frobnicate" t info --set frobnicate=1
expect_fail "--set without '='" "dim" t info --set dim
expect_fail "--steps -1" "steps" t train --preset nano --steps -1 --out "$dir/o"
expect_fail "--steps abc" "steps" t train --preset nano --steps abc --out "$dir/o"
expect_fail "--batch 0" "batch" t train --preset nano --batch 0 --out "$dir/o"
expect_fail "unknown option" "--frobnicate" t info --frobnicate
expect_fail "option of another command" "--tokens" t info --tokens 1,2
expect_fail "option without its value" "--set" t info --set
expect_fail "flag given a value" "--fp32" t info --fp32=yes
expect_fail "stray argument" "stray" t train --preset nano stray
expect_fail "unknown command" "frobnicate" t frobnicate
expect_fail "--preset huge" "huge" t info --preset huge
expect_fail "--preset and --config together" "preset.*config" \
    t info --preset nano --config "$dir/unknown.cfg"
expect_fail "--out is an existing file" 'empty\.txt' \
    t train --preset nano --steps 0 --out "$dir/empty.txt"
expect_fail "--out ''" "--out" t train --preset nano --steps 0 --out ""
expect_fail "--resume of a missing checkpoint" 'nope\.tlmc' \
    t train --resume "$dir/nope.tlmc" --out "$dir/o"
expect_fail "--resume of a garbage file" 'garbage\.bin' \
    t train --resume "$dir/garbage.bin" --out "$dir/o"
expect_fail "--resume of a truncated checkpoint" 'truncated\.tlmc' \
    t train --resume "$dir/truncated.tlmc" --out "$dir/o"
expect_fail "--resume with another preset" "tiny" \
    t train --resume "$ck" --preset tiny --out "$dir/o"
expect_fail "--resume with another architecture" "architecture|dim" \
    t train --resume "$ck" --set dim=128 --out "$dir/o"

for cmd in eval score export; do
    case $cmd in
    eval) extra=() ;;
    score) extra=(--tokens 1,2) ;;
    export) extra=(--out "$dir/x.safetensors") ;;
    esac
    expect_fail "$cmd: missing model file" 'nope\.tlmc' t $cmd --model "$dir/nope.tlmc" "${extra[@]}"
    expect_fail "$cmd: truncated checkpoint" 'truncated\.tlmc' \
        t $cmd --model "$dir/truncated.tlmc" "${extra[@]}"
    expect_fail "$cmd: truncated safetensors" 'truncated\.safetensors' \
        t $cmd --model "$dir/truncated.safetensors" "${extra[@]}"
    expect_fail "$cmd: garbage model file" 'garbage\.bin' \
        t $cmd --model "$dir/garbage.bin" "${extra[@]}"
    expect_fail "$cmd: empty model file" 'empty\.txt' t $cmd --model "$dir/empty.txt" "${extra[@]}"
    expect_fail "$cmd: model that is a directory" 'adir' t $cmd --model "$dir/adir" "${extra[@]}"
done
expect_fail "eval without --model" "--model" t eval
expect_fail "score without --tokens or --text" "--tokens" t score --model "$ck"
expect_fail "score with both --tokens and --text" "--tokens" \
    t score --model "$ck" --tokens 1,2 --text hi
expect_fail "score with an out-of-range token id" "4096" t score --model "$ck" --tokens 1,4096
expect_fail "score with a negative token id" "-1" t score --model "$ck" --tokens 1,-1
expect_fail "score with a huge token id" "99999999999999999999" \
    t score --model "$ck" --tokens 1,99999999999999999999
expect_fail "score with a malformed id list" "tokens" t score --model "$ck" --tokens 1,x
expect_fail "score with one token" "2 to" t score --model "$ck" --tokens 1
expect_fail "score with too many tokens" "2 to 65" \
    t score --model "$ck" --tokens "$(seq -s, 1 70)"
expect_fail "export with an unknown --format" "onnx" \
    t export --model "$ck" --format onnx --out "$dir/x.onnx"
expect_fail "export without --out" "--out" t export --model "$ck"
expect_fail "export into a missing folder" 'nodir/x\.safetensors' \
    t export --model "$ck" --out "$dir/nodir/x.safetensors"
expect_fail "tokenize without --text" "--text" t tokenize

# A learning rate and weight decay this large blow the weights up within a few
# steps; the trainer must stop with an error naming the non-finite loss.
dn=$dir/nan
expect_fail "a NaN loss stops training with an error" "NaN|infinite|not finite" \
    t train --preset nano --steps 40 --set lr=10 --set weight_decay=10 --set warmup=0 --out "$dn"
[ ! -e "$dn/last.tlmc" ]
ok $? "no checkpoint is saved from a diverged run"

# SIGTERM during training: the run stops after the step, saves last.tlmc and
# exits 1 with one message (it is not ended by the signal).
di=$dir/interrupted
"$TLM" train --preset nano --steps 1000000 --set log_every=1 --set eval_every=0 --out "$di" \
    >/dev/null 2>"$dir/int.err" &
pid=$!
for _ in $(seq 300); do
    [ -f "$di/metrics.csv" ] && [ "$(wc -l <"$di/metrics.csv")" -ge 3 ] && break
    sleep 0.1
done
kill -TERM $pid
wait $pid
rc=$?
echo "$rc train (SIGTERM)" >>"$rcs"
[ $rc -eq 1 ] && [ -f "$di/last.tlmc" ] && [ "$(grep -c . "$dir/int.err")" -eq 1 ] && \
    grep -q 'interrupted at step' "$dir/int.err"
ok $? "SIGTERM stops training with exit 1, one message and a saved checkpoint (exit $rc)"

# ---- nothing was ended by a signal ----
sig=$(awk '$1 >= 128' "$rcs")
[ -z "$sig" ] && [ "$(wc -l <"$rcs")" -gt 50 ]
ok $? "no command was ended by a signal ($(wc -l <"$rcs") runs)"
[ -n "$sig" ] && printf '# %s\n' "$sig"

tap_done
