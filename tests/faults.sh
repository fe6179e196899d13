#!/usr/bin/env bash
# tests/faults.sh - `tlm train` under faults (nano preset). A full file system
# and a failing fsync at the final save (tests/fail_write.so, LD_PRELOAD), a
# kill -9 in the middle of a save, just before and just after the rename, and
# SIGTERM / SIGINT while training: the last good checkpoint is always intact
# and loadable, --resume continues, and `tlm ui` killed with SIGTERM gives the
# terminal back. (Saves from the session: test_session; Ctrl-C, F10 and
# hangup in the workbench: tui.sh.)
. "$(dirname "$0")/lib.sh"
d=$(tlm_tmpdir faults)
shim="$TLM_BUILDDIR/tests/fail_write.so"
# an ASan build: the shim is preloaded ahead of the sanitizer runtime
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
train="$TLM train --preset nano --threads 1 --quiet"

# step_of CKPT: the step a checkpoint holds (empty when it does not load)
step_of() {
    rm -rf "$d/probe"
    $TLM repl --resume "$1" --threads 1 --out "$d/probe" --script <(echo status) 2> /dev/null |
        sed -n 's/^paused | step \([0-9]*\)\/.*/\1/p'
}
sum() { sha256sum < "$1" | cut -c1-64; }
no_temps() { ! ls "$1" | grep -q '\.tmp\.'; }

# 1. a good run: checkpoints every 2 steps and at the end
$train --steps 4 --set save_every=2 --out "$d/a" > "$d/a.out" 2>&1
st=$?
[ $st -eq 0 ] && [ -f "$d/a/step-00000002.tlmc" ] && [ "$(step_of "$d/a/last.tlmc")" = 4 ]
ok $? "a good run saves step-2, step-4 and last.tlmc (step 4)"
good=$(sum "$d/a/last.tlmc")

# faulty NAME ENV...: resume a/last.tlmc to step 6 with the shim and ENV set;
# stdout+stderr in d/NAME.err, the exit status in $st.
faulty() {
    local name=$1; shift
    env LD_PRELOAD="$shim" "$@" $train --resume "$d/a/last.tlmc" --steps 6 --set save_every=1000 \
        --out "$d/a" > "$d/$name.err" 2>&1
    st=$?
}

# 2. the file system fills up in the middle of the final save
faulty full TLM_FAULT_WRITE_AFTER=100000
[ $st -eq 1 ] && grep -q "last.tlmc.*No space left on device" "$d/full.err" &&
    [ "$(grep -c . "$d/full.err")" -eq 1 ]
ok $? "full file system: exit 1, one error line naming last.tlmc and ENOSPC"
[ "$(sum "$d/a/last.tlmc")" = "$good" ] && no_temps "$d/a" && [ "$(step_of "$d/a/last.tlmc")" = 4 ]
ok $? "full file system: the previous last.tlmc is untouched and loads (step 4), no temp file left"

# 3. fsync fails
faulty fsync TLM_FAULT_FSYNC=1
[ $st -eq 1 ] && grep -q "last.tlmc.*Input/output error" "$d/fsync.err" &&
    [ "$(sum "$d/a/last.tlmc")" = "$good" ] && no_temps "$d/a"
ok $? "fsync fails: exit 1 naming the file; the previous checkpoint untouched, no temp file"

# 4. kill -9 in the middle of the save, just before and just after the rename
faulty kill9 TLM_FAULT_KILL_AFTER=1000000
[ $st -eq 137 ] && [ "$(sum "$d/a/last.tlmc")" = "$good" ] && [ "$(step_of "$d/a/last.tlmc")" = 4 ]
ok $? "kill -9 after 1 MB of the save: the previous last.tlmc is intact and loads"
rm -f "$d"/a/*.tmp.*  # what a killed save leaves behind: a temp file, never the checkpoint
faulty kill9r TLM_FAULT_KILL_AT=rename
[ $st -eq 137 ] && [ "$(sum "$d/a/last.tlmc")" = "$good" ] && [ "$(step_of "$d/a/last.tlmc")" = 4 ]
ok $? "kill -9 before the rename (temp file complete): the previous last.tlmc is intact"
rm -f "$d"/a/*.tmp.*
faulty kill9a TLM_FAULT_KILL_AT=renamed
[ $st -eq 137 ] && no_temps "$d/a" && [ "$(step_of "$d/a/last.tlmc")" = 6 ]
ok $? "kill -9 after the rename, before the folder fsync: the new last.tlmc (step 6) loads"

# 5. a killed run resumes
$train --resume "$d/a/last.tlmc" --steps 7 --out "$d/a" > "$d/resume.out" 2>&1
st=$?
[ $st -eq 0 ] && [ "$(step_of "$d/a/last.tlmc")" = 7 ]
ok $? "after the kills, --resume from last.tlmc trains on to step 7"

# 6. SIGTERM and SIGINT while training: last.tlmc saved at the step reached
for sig in TERM INT; do
    o="$d/sig$sig"
    $train --steps 100000 --set save_every=100000 --set log_every=1 --out "$o" \
        > "$o.out" 2> "$o.err" &
    pid=$!
    end=$((SECONDS + 120))
    until [ "$(cat "$o/metrics.csv" 2> /dev/null | grep -c .)" -ge 4 ] || [ $SECONDS -ge $end ]; do
        sleep 0.2
    done
    kill -$sig $pid
    wait $pid
    st=$?
    n=$(sed -n 's/.*interrupted at step \([0-9]*\);.*/\1/p' "$o.err")
    [ $st -eq 1 ] && [ -n "$n" ] && [ "$n" -ge 3 ] && grep -q "state saved in $o/last.tlmc" "$o.err" &&
        [ "$(step_of "$o/last.tlmc")" = "$n" ] && no_temps "$o"
    ok $? "SIG$sig while training: exit 1, last.tlmc saved at the step reached (${n:-none}) and loads"
    $train --resume "$o/last.tlmc" --steps $((${n:-0} + 3)) --set save_every=100000 --out "$o" \
        > "$o.resume" 2>&1
    st=$?
    [ $st -eq 0 ] && [ -n "$n" ] && [ "$(step_of "$o/last.tlmc")" = $((n + 3)) ]
    ok $? "SIG$sig: --resume continues to step $((${n:-0} + 3))"
done

# 7. tlm ui killed with SIGTERM: the terminal comes back
if command -v tmux > /dev/null 2>&1; then
    T="tmux -L tlmfault-$$ -f /dev/null"
    trap '$T kill-server 2> /dev/null' EXIT
    $T new-session -d -s U -x 100 -y 30 \
        "cd '$d' && sh -c 'echo \$\$ > \"$d/ui.pid\"; exec \"$TLM\" ui --preset nano --threads 1 \
         --steps 5000 --out \"$d/ui\" --no-save-prompt' 2> '$d/ui.err';
         echo \"EXIT \$?\" > '$d/ui.exit'; stty -a > '$d/ui.stty'; sleep 600"
    end=$((SECONDS + 60))
    until $T capture-pane -p -t U 2> /dev/null | grep -q ' RUNNING ' || [ $SECONDS -ge $end ]; do
        sleep 0.2
    done
    kill -TERM "$(cat "$d/ui.pid")"
    end=$((SECONDS + 30))
    until [ -s "$d/ui.stty" ] || [ $SECONDS -ge $end ]; do sleep 0.2; done
    grep -q ' icanon' "$d/ui.stty" && grep -q ' echo ' "$d/ui.stty" &&
        ! $T capture-pane -p -t U | grep -q 'F10Quit'
    ok $? "tlm ui and SIGTERM: it exits ($(cat "$d/ui.exit" 2> /dev/null)), the terminal is back in canonical mode with echo, the workbench screen is gone"
    $T kill-server 2> /dev/null
else
    echo "ok $((tap_n + 1)) - # SKIP tmux is not installed"; tap_n=$((tap_n + 1))
fi
tap_done
