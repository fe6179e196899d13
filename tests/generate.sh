#!/usr/bin/env bash
# tlm export --format packed, tlm generate and tlm bench infer from the command
# line: same seed same text, a checkpoint and its packed file agree, every
# kernel version agrees, stop strings, stdin prompts, and clear one-line
# errors for bad prompts, options and model files.
. "${TLM_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
dir=$(tlm_tmpdir generate)

if ! "$TLM" tokenize --text hi >/dev/null 2>&1; then
    echo "1..0 # SKIP the tok4096 tokenizer is missing (run datasets/setup.sh)"
    exit 0
fi

"$TLM" train --preset nano --steps 30 --out "$dir/run" --quiet >/dev/null 2>&1
ok $? "train a nano model for 30 steps"
ck=$dir/run/last.tlmc

out=$("$TLM" export --model "$ck" --format packed --out "$dir/m.tlmp")
ok $? "export --format packed"
printf '%s\n' "$out" | grep -q "^wrote $dir/m.tlmp: .*(14 ternary"
ok $? "export reports the size and the 14 ternary linears: $out"
"$TLM" export --model "$ck" --format packed --emb int8 --head fp16 --out "$dir/q.tlmp" >/dev/null
ok $? "export with an int8 embedding and an fp16 head"
s1=$(stat -c %s "$dir/m.tlmp"); s2=$(stat -c %s "$dir/q.tlmp")
[ "$s2" -lt "$s1" ]
ok $? "int8/fp16 embedding and head make the file smaller ($s2 < $s1 bytes)"

gen() { "$TLM" generate --quiet "$@" 2>/dev/null; }
a=$(gen --model "$dir/m.tlmp" --prompt "Once upon a time" --tokens 24 --seed 7)
ok $? "generate from the packed model"
b=$(gen --model "$dir/m.tlmp" --prompt "Once upon a time" --tokens 24 --seed 7)
[ -n "$a" ] && [ "$a" = "$b" ]
ok $? "the same seed gives the same text: $a"
case $a in "Once upon a time"*) r=0 ;; *) r=1 ;; esac
ok $r "the output starts with the prompt"
c=$(gen --model "$ck" --prompt "Once upon a time" --tokens 24 --seed 7)
[ "$a" = "$c" ]
ok $? "the checkpoint, packed on load, gives the same text"
d=$(gen --model "$dir/m.tlmp" --prompt "Once upon a time" --tokens 24 --seed 8)
[ "$a" != "$d" ]
ok $? "another seed gives another text"
e=$(TLM_KERNEL=scalar gen --model "$dir/m.tlmp" --prompt "Once upon a time" --tokens 24 --seed 7)
[ "$a" = "$e" ]
ok $? "TLM_KERNEL=scalar gives the same text"
for k in avx2 avx512vnni; do
    if f=$(gen --model "$dir/m.tlmp" --prompt "Once upon a time" --tokens 24 --seed 7 --kernel $k); then
        [ "$a" = "$f" ]
        ok $? "--kernel $k gives the same text"
    else
        ok 0 "--kernel $k # SKIP not supported by this CPU"
    fi
done
g1=$(gen --model "$dir/m.tlmp" --prompt "The dog" --tokens 16 --temp 0 --seed 1)
g2=$(gen --model "$dir/m.tlmp" --prompt "The dog" --tokens 16 --temp 0 --seed 2)
[ -n "$g1" ] && [ "$g1" = "$g2" ]
ok $? "temperature 0 is greedy: the seed does not matter"
p=$(gen --model "$dir/m.tlmp" --prompt "Once upon a time" --tokens 24 --seed 7 --fp32)
ok $? "--fp32 runs the packed weights unquantized: $p"
gen --model "$dir/m.tlmp" --prompt "Hi" --tokens 8 --top-k 5 --top-p 0.5 --rep-penalty 1.3 --temp 1.2 >/dev/null
ok $? "top-k, top-p, repetition penalty and temperature options"

# a stop string taken from the greedy text
full=$(gen --model "$dir/m.tlmp" --prompt "The dog" --tokens 30 --temp 0)
gentext=${full#The dog}
stop=${gentext:8:3}
if [ ${#stop} -eq 3 ]; then
    s=$(gen --model "$dir/m.tlmp" --prompt "The dog" --tokens 30 --temp 0 --stop "$stop")
    case $s in *"$stop"*) r=0 ;; *) r=1 ;; esac
    [ $r -eq 0 ] && [ ${#s} -lt ${#full} ]
    ok $? "--stop '$stop' ends the text at the stop string"
else
    ok 0 "--stop # SKIP the greedy text is too short"
fi

lines=$(printf 'Once upon a time\nThe cat\n' | gen --model "$dir/m.tlmp" --tokens 5 --seed 3 | wc -l)
[ "$lines" -eq 2 ]
ok $? "without --prompt and no terminal, each stdin line is a prompt ($lines outputs)"

st=$("$TLM" generate --model "$dir/m.tlmp" --prompt "Once" --tokens 4 2>&1 >/dev/null)
printf '%s' "$st" | grep -q "prompt tokens, 4 generated; prefill .* decode .* kernels"
ok $? "stats on stderr: $st"

# errors: exit 1 with one line naming the problem
expect_fail "empty prompt" "prompt is empty" "$TLM" generate --model "$dir/m.tlmp" --prompt ""
expect_fail "invalid UTF-8" "not valid UTF-8" "$TLM" generate --model "$dir/m.tlmp" --prompt $'caf\xc3'
long=$(for i in $(seq 40); do printf 'the cat sat. '; done)
expect_fail "prompt longer than the context" "context is 64 tokens" \
    "$TLM" generate --model "$dir/m.tlmp" --prompt "$long"
echo "not a model" >"$dir/text.txt"
expect_fail "a text file as model" "text.txt: not a packed model" \
    "$TLM" generate --model "$dir/text.txt" --prompt hi
expect_fail "a missing model" "missing.tlmp" "$TLM" generate --model "$dir/missing.tlmp" --prompt hi
head -c 100000 "$dir/m.tlmp" >"$dir/cut.tlmp"
expect_fail "a truncated packed model" "truncated" "$TLM" generate --model "$dir/cut.tlmp" --prompt hi
cp "$dir/m.tlmp" "$dir/flip.tlmp"
printf '\x01' | dd of="$dir/flip.tlmp" bs=1 seek=300000 conv=notrunc 2>/dev/null
expect_fail "a packed model with a changed byte" "checksum|padding|code 3" \
    "$TLM" generate --model "$dir/flip.tlmp" --prompt hi
expect_fail "no model" "give --model" "$TLM" generate --prompt hi
expect_fail "bad --temp" "temp" "$TLM" generate --model "$dir/m.tlmp" --prompt hi --temp abc
expect_fail "bad --top-p" "top-p" "$TLM" generate --model "$dir/m.tlmp" --prompt hi --top-p 2
expect_fail "bad --tokens" "tokens" "$TLM" generate --model "$dir/m.tlmp" --prompt hi --tokens 0
expect_fail "bad --seed" "seed" "$TLM" generate --model "$dir/m.tlmp" --prompt hi --seed -4
expect_fail "unknown --kernel" "unknown" "$TLM" generate --model "$dir/m.tlmp" --prompt hi --kernel fast
TLM_KERNEL=bogus expect_fail "bad TLM_KERNEL" "TLM_KERNEL" "$TLM" generate --model "$dir/m.tlmp" --prompt hi
expect_fail "bad tokenizer for the model" "tokenizer" \
    "$TLM" generate --model "$dir/m.tlmp" --prompt hi --tokenizer bert-base-uncased
expect_fail "export: unknown format" "known: safetensors, packed" \
    "$TLM" export --model "$ck" --format gguf --out "$dir/x"
expect_fail "export: bad --emb" "emb" \
    "$TLM" export --model "$ck" --format packed --emb int4 --out "$dir/x"
expect_fail "export: --head needs packed" "packed" \
    "$TLM" export --model "$ck" --head int8 --out "$dir/x"

out=$(TLM_BENCH_QUICK=1 "$TLM" bench infer --preset nano --tokens 4 2>&1)
ok $? "bench infer runs"
printf '%s\n' "$out" | grep -q "ternary .*avx\|ternary .*scalar" &&
    printf '%s\n' "$out" | grep -q "decode .* tok/s" &&
    printf '%s\n' "$out" | grep -q "fp32 (baseline)"
ok $? "bench infer prints kernel GFLOP/s and decode tok/s of the ternary and fp32 paths"

tap_done
