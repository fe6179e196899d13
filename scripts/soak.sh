#!/usr/bin/env bash
# scripts/soak.sh - a long run through the session: `tlm repl` trains a preset
# (default tiny) for TLM_SOAK_SECONDS (default 1800) while this script, a second
# process, fires random commands into its stdin (pause, resume, step, save,
# load, precision, set, gen, inspect, layers, status, history, eval and bad
# input). Checks at the end:
#   - RSS after the warm-up (the larger of 60 s and a tenth of the run) and at
#     the end, each taken paused once every command before has been answered
#     (the copies of the state for saves and generations come and go):
#     end <= 1.10 x start
#     (TLM_SOAK_RSS_SLACK percent, default 10); the highest sample is reported;
#   - exactly one error line per bad input sent, none for the good commands
#     (every 8 commands an unknown command "sync-N" is sent and its error
#     awaited, so commands never pile up faster than the session takes them);
#   - tlm exits with status 1 (the bad inputs), not from a signal;
#   - the final checkpoint loads in a fresh process and trains one more step.
# Figures go to stdout and $dir/rss.tsv (seconds, RSS kB, step). Not in CI:
#   make soak                          (from the build folder), or
#   TLM=build/tlm TLM_SOAK_SECONDS=120 bash scripts/soak.sh
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TLM=${TLM:-$top/build/tlm}
secs=${TLM_SOAK_SECONDS:-1800}
preset=${TLM_SOAK_PRESET:-tiny}
slack=${TLM_SOAK_RSS_SLACK:-10}
dir=${TLM_SOAK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/tlm-soak.XXXXXX")}
mkdir -p "$dir"
warm=$(( secs / 10 > 60 ? secs / 10 : 60 ))
[ "$warm" -ge "$secs" ] && warm=$(( secs / 2 ))
RANDOM=${TLM_SOAK_SEED:-1}

rm -f "$dir/cmds"; mkfifo "$dir/cmds"
"$TLM" repl --preset "$preset" --out "$dir/run" --set steps=100000000 \
    --set save_every=100000000 --set log_every=50 \
    < "$dir/cmds" > "$dir/out.log" 2> "$dir/err.log" &
pid=$!
exec 3> "$dir/cmds"
sent=0; bad=0; saves=0
send() { printf '%s\n' "$1" >&3 && sent=$((sent + 1)) && printf '%s\n' "$1" >> "$dir/sent.log"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0; }
last_step() { grep -oE 'step [0-9]+' "$dir/out.log" | tail -1 | grep -oE '[0-9]+' || echo 0; }
max_step() { grep -oE 'step [0-9]+' "$dir/out.log" | grep -oE '[0-9]+' | sort -n | tail -1; }

# names that exist in every preset (nano has 2 layers)
layers="emb head L0.attn.q L1.attn.k L0.attn.v L1.attn.o L0.mlp.gate L1.mlp.up L0.mlp.down"
patterns="all *.mlp.down *.attn.* L0-1.attn.* L1.* L1.mlp.up L0.attn.q"
precs="ternary int8 fp32"
bads=("frobnicate" "step 1 2" "precision L99.attn.q fp32" "precision all fp16" "inspect L42.mlp.up"
      "gen \"unterminated" "set no_such_key 1" "load $dir/no-such-file.tlmc" "gen =3" "step -4")
pick() { local a=($1); echo "${a[$((RANDOM % ${#a[@]}))]}"; }
# sync: send a marker (an unknown command) and wait until tlm has answered it,
# so the commands never pile up faster than the session takes them
nsync=0
sync() {
    nsync=$((nsync + 1)); bad=$((bad + 1)); send "sync-$nsync"
    local end=$(( $(date +%s) + 600 ))
    until grep -q "unknown command 'sync-$nsync'" "$dir/err.log" || [ "$(date +%s)" -ge "$end" ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.5
    done
}
# quiet_rss: pause, wait until everything before is done, then read RSS
quiet_rss() { send "pause"; sync; sleep 2; qrss=$(rss_kb); }

send "resume"
start=$(date +%s); rss0=0; rssmax=0; next_sample=0
: > "$dir/rss.tsv"
while :; do
    now=$(( $(date +%s) - start ))
    [ "$now" -ge "$secs" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then echo "soak: tlm exited early" >&2; break; fi
    if [ "$now" -ge "$next_sample" ]; then
        r=$(rss_kb); printf '%s\t%s\t%s\n' "$now" "$r" "$(last_step)" >> "$dir/rss.tsv"
        [ "$rss0" -gt 0 ] && [ "$r" -gt "$rssmax" ] && rssmax=$r
        if [ "$now" -ge "$warm" ] && [ "$rss0" -eq 0 ]; then
            quiet_rss; rss0=$qrss; rssmax=$rss0; send "resume"
            printf '%s\t%s\t%s\tquiet start\n' "$now" "$rss0" "$(last_step)" >> "$dir/rss.tsv"
        fi
        next_sample=$(( now + 10 ))
    fi
    case $((RANDOM % 20)) in
        0) send "pause"; sleep 1; send "resume" ;;
        1) send "step 3"; send "resume" ;;
        2|3) saves=$((saves + 1)); send "save $dir/s-$saves.tlmc" ;;
        4) f=$(ls -t "$dir"/s-*.tlmc 2>/dev/null | head -1); [ -n "$f" ] && send "load $f" ;;
        5|6) send "precision $(pick "$patterns") $(pick "$precs")" ;;
        7|8) send "gen \"Once upon a time\" n=$((8 + RANDOM % 40)) temp=0.8 top_k=40 seed=$RANDOM" ;;
        9) send "inspect $(pick "$layers")" ;;
        10) send "layers" ;;
        11) send "status" ;;
        12) send "history 5" ;;
        13) send "set lr $((1 + RANDOM % 9))e-4" ;;
        14) send "eval" ;;
        *) bad=$((bad + 1)); send "${bads[$((RANDOM % ${#bads[@]}))]}" ;;
    esac
    [ $((sent % 8)) -eq 0 ] && sync
    sleep "$((RANDOM % 3)).$((RANDOM % 10))"
done
quiet_rss; rss1=$qrss
step1=$(last_step)
send "save $dir/final.tlmc"
send "quit"
exec 3>&-
wait "$pid"; st=$?
errs=$(grep -c . "$dir/err.log")
printf '%s\t%s\t%s\tquiet end\n' "$secs" "$rss1" "$step1" >> "$dir/rss.tsv"

"$TLM" repl --resume "$dir/final.tlmc" --out "$dir/resumed" --script <(printf 'step 1\nstatus\n') \
    > "$dir/resumed.log" 2>&1
rst=$?

fail=0
check() { if [ "$1" -eq 0 ]; then echo "soak: ok: $2"; else echo "soak: FAILED: $2"; fail=1; fi; }
echo "soak: $preset for ${secs}s, $sent commands ($bad bad, $saves saves), last step $step1 (highest $(max_step); loads go back), folder $dir"
echo "soak: RSS (paused) after the ${warm}s warm-up ${rss0} kB, at the end ${rss1} kB; highest sample after the warm-up ${rssmax} kB"
[ "$rss0" -gt 0 ] && [ "$rss1" -gt 0 ] && [ "$rss1" -le $(( rss0 * (100 + slack) / 100 )) ]
check $? "RSS flat: end ${rss1} kB <= start ${rss0} kB + ${slack}%"
[ "$st" -eq 1 ] || { [ "$st" -eq 0 ] && [ "$bad" -eq 0 ]; }
check $? "tlm repl exited with status $st (1 when bad input was sent, never a signal)"
[ "$errs" -eq "$bad" ]
check $? "$errs error lines for $bad bad inputs"
[ "$rst" -eq 0 ] && grep -q '^stepped 1' "$dir/resumed.log"
check $? "final checkpoint $dir/final.tlmc loads in a fresh process and trains on"
[ "$step1" -gt 0 ]
check $? "training advanced (last step $step1)"
exit $fail
