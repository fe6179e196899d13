#!/usr/bin/env bash
# tests/mpi.sh - data-parallel training over MPI on one machine (nano preset,
# 2 ranks, 1 thread each): 2 ranks x batch 2 give the losses of 1 rank x
# batch 4; a checkpoint saved by 2 ranks resumes on 1 rank (and on 2 ranks
# bit-exactly); `pause` typed on rank 0 stops both; a script of commands on 2
# ranks ends where it ends on 1; SIGTERM stops both at one step; mismatched configuration
# and data are refused at start naming the key; a killed or hung rank stops
# the run within a bound. Skipped (TAP skip) in a build without --with-mpi.
. "$(dirname "$0")/lib.sh"
if [ -z "${TLM_MPIRUN:-}" ]; then
    echo "1..0 # SKIP built without MPI (./configure --with-mpi)"
    exit 0
fi
d=$(tlm_tmpdir mpi)
# one machine, maybe as root in a container: loopback and shared memory only
export OMPI_MCA_plm_rsh_agent=${OMPI_MCA_plm_rsh_agent:-false}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPI="$TLM_MPIRUN --oversubscribe --allow-run-as-root"
T="--preset nano --threads 1 --quiet"
CKCMP="$TLM_BUILDDIR/tests/mpi_ckcmp"

# wait (up to 120 s) until the run in folder $1 has logged a step
wait_started() {
    for _ in $(seq 240); do
        local n
        n=$(grep -c . "$1/metrics.csv" 2>/dev/null || true)
        [ "${n:-0}" -ge 2 ] && return 0
        sleep 0.5
    done
    return 1
}

# pid of rank R among mpirun's children
rank_pid() {
    local p
    for p in $(pgrep -P "$1"); do
        tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && echo "$p"
    done
}

# 1. 2 ranks x batch 2 == 1 rank x batch 4, 20 steps, losses to 1e-5 relative
timeout 300 $MPI -np 2 "$TLM" train $T --batch 2 --steps 20 --set log_every=1 --set save_every=10 \
    --out "$d/two" > "$d/two.log" 2>&1
r2=$?
timeout 300 "$TLM" train $T --batch 4 --steps 20 --set log_every=1 --out "$d/one" > "$d/one.log" 2>&1
r1=$?
worst=$(paste -d, <(cut -d, -f1,2,4 "$d/two/metrics.csv" | tr -d '"') <(cut -d, -f1,2,4 "$d/one/metrics.csv" | tr -d '"') |
    awk -F, 'NR > 1 { n++; if ($1 != $4 || $2 != $5) bad = 1
                      r = ($3 - $6) / ($6 < 0 ? -$6 : $6); if (r < 0) r = -r; if (r > w) w = r }
             END { if (n != 20 || bad) print "rows"; else printf "%.3g\n", w }')
if [ $r2 -eq 0 ] && [ $r1 -eq 0 ] && [ "$worst" != rows ] && awk "BEGIN { exit !($worst <= 1e-5) }"; then
    ok 0 "2 ranks x batch 2 = 1 rank x batch 4: 20 losses agree to $worst relative, same token counts"
else
    ok 1 "2 ranks x batch 2 = 1 rank x batch 4 (20 losses to 1e-5)"
    echo "# exits $r2 $r1, worst $worst"; tail -5 "$d/two.log" | sed 's/^/# /'
fi

# 2. the 2-rank checkpoint of step 10 resumed on 1 rank (batch 4) and on 2 ranks
timeout 300 "$TLM" train $T --resume "$d/two/step-00000010.tlmc" --batch 4 --out "$d/res1" \
    > "$d/res1.log" 2>&1
cmp1=$("$CKCMP" "$d/two/last.tlmc" "$d/res1/last.tlmc" 1e-6)
ok $? "saved on 2 ranks, resumed on 1: step-20 weights agree with the 2-rank run to 1e-6 ($cmp1)"
timeout 300 $MPI -np 2 "$TLM" train $T --resume "$d/two/step-00000010.tlmc" --out "$d/res2" \
    > "$d/res2.log" 2>&1
cmp2=$("$CKCMP" "$d/two/last.tlmc" "$d/res2/last.tlmc" 0)
ok $? "saved on 2 ranks, resumed on 2: bit-identical weights and moments ($cmp2)"

# 3. the session on rank 0: pause typed there stops both ranks at one step
{ echo "set steps 100000"; echo "set log_every 1"; echo resume; wait_started "$d/repl"; sleep 1
  echo pause; sleep 2; echo status; echo save; sleep 1; echo quit; } |
    timeout 180 $MPI -np 2 "$TLM" repl --preset nano --threads 1 --out "$d/repl" \
    > "$d/repl.out" 2> "$d/repl.err"
st=$?
k=$(sed -n 's/^paused at step \([0-9]*\)$/\1/p' "$d/repl.out")
if [ $st -eq 0 ] && [ -n "$k" ] && [ "$k" -gt 0 ] && grep -q "^paused | step $k/100000" "$d/repl.out" &&
    grep -q "rank 1: stopped at step $k with rank 0" "$d/repl.err" &&
    [ -f "$d/repl/step-$(printf %08d "$k").tlmc" ]; then
    ok 0 "pause typed on rank 0 stops both ranks at step $k; rank 0 saves; weights agree at quit"
else
    ok 1 "pause typed on rank 0 stops both ranks"
    echo "# exit $st, paused at '$k'"; sed 's/^/# /' "$d/repl.out" "$d/repl.err" | head -12
fi

# commands from a script reach the follower at step boundaries: precision,
# set (lr, batch, seed), step, save, load; 2 ranks x batch B end with the
# weights of 1 rank x batch 2B, and the ranks agree at quit
for n in 1 2; do
    b=$((4 / n)); b2=$((6 / n))
    printf '%s\n' "set batch $b" "step 3" "save $d/s$n.tlmc" "precision L0.* fp32" "set lr 0.001" \
        "set batch $b2" "step 3" "set seed 7" "step 2" "load $d/s$n.tlmc" "set batch $b" "step 2" \
        "eval" "save $d/end$n.tlmc" > "$d/cmds$n.tlm"
done
timeout 180 $MPI -np 2 "$TLM" repl --preset nano --threads 1 --out "$d/sc2" --script "$d/cmds2.tlm" \
    > "$d/sc2.out" 2> "$d/sc2.err"
s2=$?
timeout 180 "$TLM" repl --preset nano --threads 1 --out "$d/sc1" --script "$d/cmds1.tlm" \
    > "$d/sc1.out" 2> "$d/sc1.err"
s1=$?
cmp3=$("$CKCMP" "$d/end1.tlmc" "$d/end2.tlmc" 1e-6)
c=$?
if [ $s2 -eq 0 ] && [ $s1 -eq 0 ] && [ $c -eq 0 ] &&
    grep -q "rank 1: stopped at step 5 with rank 0" "$d/sc2.err"; then
    ok 0 "script of set/precision/step/save/load on 2 ranks = on 1 rank with twice the batch ($cmp3)"
else
    ok 1 "script of set/precision/step/save/load on 2 ranks = on 1 rank with twice the batch"
    echo "# exits $s2 $s1, $cmp3"; sed 's/^/# /' "$d/sc2.err" | head -5
fi

# SIGTERM to mpirun reaches both ranks; the stop travels with the next
# allreduce: both stop after the same step and rank 0 saves last.tlmc there
$MPI -np 2 "$TLM" train $T --steps 1000000 --set log_every=1 --out "$d/term" > "$d/term.out" 2>&1 &
mp=$!
wait_started "$d/term"
sleep 1
kill -TERM $mp
wait $mp
st=$?
k=$(sed -n 's/^tlm: interrupted at step \([0-9]*\); state saved.*/\1/p' "$d/term.out")
[ $st -ne 0 ] && [ -n "$k" ] && [ "$(tail -1 "$d/term/metrics.csv" | cut -d, -f1 | tr -d '"')" = "$k" ] &&
    "$CKCMP" "$d/term/last.tlmc" "$d/term/last.tlmc" 0 | grep -q "^step $k $k,"
ok $? "SIGTERM to mpirun: both ranks stop after step ${k:-?}, rank 0 saves last.tlmc there"

# 4. mismatches refused at start, on rank 0, naming the key or the data
timeout 120 $MPI -np 1 "$TLM" train $T --steps 5 --out "$d/mm" : -np 1 "$TLM" train $T --steps 5 \
    --set lr=0.002 --out "$d/mm" > "$d/mm.out" 2>&1
st=$?
[ $st -ne 0 ] && grep -q "^tlm: config key 'lr' is 0.002 on rank 1 but 0.0003 on rank 0" "$d/mm.out" &&
    [ ! -f "$d/mm/last.tlmc" ]
ok $? "a different --set lr on rank 1 is refused at start, naming the key"
mkdir -p "$d/w1" "$d/w2"
train_text=$(ls "$TLM_SRCDIR"/datasets/data/tinystories/TinyStories-train.head2MiB.txt)
head -c 20000 "$train_text" > "$d/w1/corpus.txt"
tail -c 20000 "$train_text" > "$d/w2/corpus.txt"
timeout 120 $MPI -np 1 --wdir "$d/w1" "$TLM" train $T --steps 5 --data corpus.txt --out "$d/md" : \
    -np 1 --wdir "$d/w2" "$TLM" train $T --steps 5 --data corpus.txt --out "$d/md" > "$d/md.out" 2>&1
st=$?
[ $st -ne 0 ] && grep -q "^tlm: the training data differs on rank 1 from rank 0's" "$d/md.out"
ok $? "same data path, different text on rank 1: refused at start"

timeout 120 $MPI -np 1 "$TLM" train $T --steps 5 --out "$d/mf" : -np 1 "$TLM" train $T --steps 5 \
    --data "$d/missing.txt" --out "$d/mf" > "$d/mf.out" 2>&1
st=$?
[ $st -ne 0 ] && grep -q "^tlm: rank 1 could not start: training data: data file '$d/missing.txt' not found" \
    "$d/mf.out"
ok $? "a rank that cannot open its data: rank 0 names it and every rank stops"

# 5. faults: a killed rank ends the run (mpirun names it); a hung rank makes
# rank 0 stop after TLM_MPI_TIMEOUT with a message
TLM_MPI_TIMEOUT=5 $MPI -np 2 "$TLM" train $T --steps 1000000 --set log_every=1 --set save_every=5 \
    --out "$d/kill" > "$d/kill.out" 2>&1 &
mp=$!
wait_started "$d/kill"
p1=$(rank_pid $mp 1)
t0=$(date +%s)
[ -n "$p1" ] && kill -9 "$p1"
for _ in $(seq 60); do kill -0 $mp 2>/dev/null || break; sleep 0.5; done
dt=$(( $(date +%s) - t0 ))
kill -0 $mp 2>/dev/null && { kill -9 $mp; dt=99; }
wait $mp
st=$?
[ -n "$p1" ] && [ $st -ne 0 ] && [ $dt -le 20 ] && grep -q "rank 1 .*exited on signal 9" "$d/kill.out"
ok $? "rank 1 killed: the run ends in ${dt} s (bound 20 s) with a message naming rank 1"

TLM_MPI_TIMEOUT=5 $MPI -np 2 "$TLM" train $T --steps 1000000 --set log_every=1 --set save_every=5 \
    --out "$d/hang" > "$d/hang.out" 2>&1 &
mp=$!
wait_started "$d/hang"
for _ in $(seq 240); do ls "$d/hang"/step-*.tlmc > /dev/null 2>&1 && break; sleep 0.5; done
p1=$(rank_pid $mp 1)
t0=$(date +%s)
[ -n "$p1" ] && kill -STOP "$p1"
for _ in $(seq 60); do kill -0 $mp 2>/dev/null || break; sleep 0.5; done
dt=$(( $(date +%s) - t0 ))
kill -0 $mp 2>/dev/null && { kill -9 $mp; dt=99; }
wait $mp
st=$?
[ -n "$p1" ] && kill -9 "$p1" 2>/dev/null  # a stopped process keeps pending signals
last=$(ls "$d/hang"/step-*.tlmc 2>/dev/null | tail -1)
[ -n "$p1" ] && [ $st -ne 0 ] && [ $dt -le 20 ] &&
    grep -q "tlm: rank 0: the gradient allreduce: no answer from the other ranks for 5 s" "$d/hang.out" &&
    [ -n "$last" ] && "$CKCMP" "$last" "$last" 0 > /dev/null
ok $? "rank 1 hung (SIGSTOP): rank 0 stops in ${dt} s (TLM_MPI_TIMEOUT 5, bound 20 s) with a message; the last checkpoint loads"

# rank 0 hung while its session is paused: the follower, waiting for the
# next step boundary, stops after TLM_MPI_TIMEOUT with a message
mkfifo "$d/in"
TLM_MPI_TIMEOUT=5 $MPI -np 2 "$TLM" repl --preset nano --threads 1 --out "$d/h0" < "$d/in" \
    > "$d/h0.out" 2>&1 &
mp=$!
exec 3> "$d/in"  # rank 0's stdin stays open: the session waits, paused
echo "status" >&3
for _ in $(seq 240); do grep -q "^paused | step 0" "$d/h0.out" && break; sleep 0.5; done
p0=$(rank_pid $mp 0)
t0=$(date +%s)
[ -n "$p0" ] && kill -STOP "$p0"
for _ in $(seq 60); do kill -0 $mp 2>/dev/null || break; sleep 0.5; done
dt=$(( $(date +%s) - t0 ))
kill -0 $mp 2>/dev/null && { kill -9 $mp; dt=99; }
exec 3>&-
wait $mp
st=$?
[ -n "$p0" ] && kill -9 "$p0" 2>/dev/null
[ -n "$p0" ] && [ $st -ne 0 ] && [ $dt -le 20 ] &&
    grep -q "^tlm: rank 1: waiting for rank 0: no answer from the other ranks for 5 s" "$d/h0.out"
ok $? "rank 0 hung while paused: rank 1 stops in ${dt} s (TLM_MPI_TIMEOUT 5, bound 20 s) with a message"

tap_done
