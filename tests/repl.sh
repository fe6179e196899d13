#!/usr/bin/env bash
# tests/repl.sh - `tlm repl` driven by scripts (nano preset): a resumed run in
# a fresh process continues byte-for-byte, step N is exact, errors give exit
# status 1 and the script carries on, metrics and checkpoints land in --out.
. "$(dirname "$0")/lib.sh"
d=$(tlm_tmpdir repl)
R="$TLM repl --preset nano --threads 1"

# 1. 20 steps straight vs 10 + save + a fresh process resuming + 10
printf 'step 20\nhistory 10\n' > "$d/a.tlm"
printf 'step 10\nsave %s/half.tlmc\n' "$d" > "$d/b.tlm"
printf 'step 10\nhistory 10\n' > "$d/c.tlm"
$R --out "$d/a" --script "$d/a.tlm" > "$d/a.out" 2>&1
ra=$?
$R --out "$d/b" --script "$d/b.tlm" > "$d/b.out" 2>&1
rb=$?
$TLM repl --threads 1 --resume "$d/half.tlmc" --script "$d/c.tlm" > "$d/c.out" 2>&1
rc=$?
grep '^step ' "$d/a.out" > "$d/a.hist"
grep '^step ' "$d/c.out" > "$d/c.hist"
n=$(grep -c . "$d/a.hist")
if [ $ra -eq 0 ] && [ $rb -eq 0 ] && [ $rc -eq 0 ] && [ "$n" -eq 10 ] && cmp -s "$d/a.hist" "$d/c.hist"; then
    ok 0 "fresh process resuming a checkpoint: steps 11-20 byte-identical to a straight run"
else
    ok 1 "fresh process resuming a checkpoint: steps 11-20 byte-identical to a straight run"
    echo "# exits $ra $rb $rc, rows $n"; diff "$d/a.hist" "$d/c.hist" | sed 's/^/# /' | head -6
fi
grep -q '^stepped 20: step 20, loss' "$d/a.out"
ok $? "step 20 from paused runs exactly 20 steps"
grep -q "saved $d/half.tlmc (step 10" "$d/b.out"
ok $? "save PATH answers when the file is written"

# 2. errors: exit 1, one message naming the line, the script goes on
printf 'step 2\nfrobnicate\nstep 1 2\nstatus\n' > "$d/e.tlm"
$R --out "$d/e" --script "$d/e.tlm" > "$d/e.out" 2> "$d/e.err"
st=$?
[ $st -eq 1 ] && grep -q "e.tlm:2: unknown command 'frobnicate'" "$d/e.err" &&
    grep -q "e.tlm:3: step: too many arguments" "$d/e.err" && [ "$(grep -c . "$d/e.err")" -eq 2 ] &&
    grep -q '^paused | step 2/200' "$d/e.out"
ok $? "failed commands: exit status 1, an error line each, later lines still run"
printf 'status\nstep 1\nquit\nstep 5\n' > "$d/g.tlm"
$R --out "$d/g" --script "$d/g.tlm" > "$d/g.out" 2>&1
st=$?
[ $st -eq 0 ] && grep -q '^stopped at step 1' "$d/g.out" && ! grep -q 'step 6' "$d/g.out"
ok $? "a clean script exits 0; quit ends it"

# 3. stdin, comments, blank lines, help
printf '# a comment\n\nhelp\nhelp step\n' | $R --out "$d/h" > "$d/h.out" 2>&1
st=$?
[ $st -eq 0 ] && grep -q 'precision PATTERN ternary|int8|fp32' "$d/h.out" &&
    grep -q '^usage: step \[N\]' "$d/h.out"
ok $? "commands from stdin; help lists the table"

# 4. precision recorded in the metrics; the last K checkpoints kept
printf 'step 1\nprecision *.mlp.down int8\nstep 1\nsave\nstep 1\nsave\nstep 1\nsave\n' > "$d/p.tlm"
$R --out "$d/p" --set keep_ckpts=2 --set log_every=1 --script "$d/p.tlm" > "$d/p.out" 2>&1
st=$?
ck=$(ls "$d/p" | grep -c '^step-.*\.tlmc$')
[ $st -eq 0 ] && [ "$ck" -eq 2 ] && [ -f "$d/p/step-00000004.tlmc" ] &&
    head -1 "$d/p/metrics.csv" | grep -q '"precision.L1.mlp.down"' &&
    sed -n 2p "$d/p/metrics.csv" | grep -vq '"int8"' && sed -n 3p "$d/p/metrics.csv" | grep -q '"int8"'
ok $? "metrics.csv records the precision per step; save keeps the last keep_ckpts ($ck)"

# 5. --resume writes next to the checkpoint by default
printf 'step 1\nsave\n' > "$d/r.tlm"
$TLM repl --threads 1 --resume "$d/half.tlmc" --script "$d/r.tlm" > "$d/r.out" 2>&1
[ $? -eq 0 ] && [ -f "$d/step-00000011.tlmc" ]
ok $? "--resume: numbered checkpoints go to the checkpoint's folder"

# 6. bad invocations
expect_fail "--resume with --preset is refused" "not both" $TLM repl --preset nano --resume "$d/half.tlmc"
expect_fail "a missing script is an error" "nope.tlm" $R --script "$d/nope.tlm"
printf 'load %s/b.tlm\nstatus\n' "$d" > "$d/l.tlm"
$R --out "$d/l" --script "$d/l.tlm" > "$d/l.out" 2> "$d/l.err"
st=$?
[ $st -eq 1 ] && grep -q 'l.tlm:1: .*b.tlm' "$d/l.err" && grep -q '^paused | step 0/200' "$d/l.out"
ok $? "load of a file that is no checkpoint: an error, the session unchanged"

rm -rf "$d"
tap_done
