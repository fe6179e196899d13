#!/usr/bin/env bash
# tests/tui.sh - the workbench end to end: `tlm ui` on the nano preset inside
# tmux (send-keys, capture-pane). The chart and the bars appear, pause shows
# in the status line, gen streams into the output pane, precision changes a
# bar's marker and colour, Tab completes, the views switch, resizing down to
# 80x24 (and below, and back) keeps a valid screen, quitting restores the
# terminal, and the save question saves. Every wait polls the pane with a
# timeout instead of sleeping.
. "$(dirname "$0")/lib.sh"
if ! command -v tmux > /dev/null 2>&1; then
    echo "1..0 # SKIP tmux is not installed"
    exit 0
fi
d=$(tlm_tmpdir tui)
T="tmux -L tlmtest-$$ -f /dev/null"
trap '$T kill-server 2> /dev/null' EXIT

# start NAME W H ENV ARGS: run tlm ui in a new tmux session; when it ends the
# pane records its exit status and the terminal modes, then waits.
start() {
    local name=$1 w=$2 h=$3 env=$4; shift 4
    $T new-session -d -s "$name" -x "$w" -y "$h" \
        "cd '$d' && env $env TLM_HISTORY='$d/history' '$TLM' ui $* 2> '$d/$name.err';
         echo \"EXIT \$?\" > '$d/$name.exit'; stty -a > '$d/$name.stty'; sleep 600"
}

# screen NAME [-e]: the pane's text (with -e, its colours too).
screen() {
    $T capture-pane -p $2 -t "$1" 2> /dev/null
}

# wait_for NAME REGEX [SECONDS]: poll the pane until a line matches.
wait_for() {
    local end=$((SECONDS + ${3:-10}))
    while :; do
        screen "$1" > "$d/screen.txt"
        grep -qE -- "$2" "$d/screen.txt" && return 0
        [ $SECONDS -ge "$end" ] && return 1
        sleep 0.1
    done
}

# check NAME REGEX DESCRIPTION [SECONDS]: one TAP case from wait_for.
check() {
    if wait_for "$1" "$2" "$4"; then
        ok 0 "$3"
    else
        ok 1 "$3"
        echo "# no line matches /$2/ in the pane:"
        sed 's/^/#   |/' "$d/screen.txt"
    fi
}

# exited NAME [SECONDS]: wait until the pane recorded tlm's exit status;
# true when it is 0.
exited() {
    local end=$((SECONDS + ${2:-10}))
    until [ -s "$d/$1.exit" ] && [ -s "$d/$1.stty" ]; do
        [ $SECONDS -ge "$end" ] && return 1
        sleep 0.1
    done
    grep -q '^EXIT 0' "$d/$1.exit"
}

# type NAME TEXT: type a command line and Enter.
type_line() {
    $T send-keys -t "$1" -l "$2"
    $T send-keys -t "$1" Enter
}

# valid NAME ROWS: the workbench's frame is whole (status, panes, key bar,
# prompt) and the pane has ROWS rows.
valid() {
    screen "$1" > "$d/screen.txt"
    head -1 "$d/screen.txt" | grep -qE 'step [0-9]+/' &&
        grep -q 'output' "$d/screen.txt" &&
        sed -n "$(($2 - 1))p" "$d/screen.txt" | grep -q 'F10Quit' &&
        sed -n "$2p" "$d/screen.txt" | grep -q '^tlm>'
}

# wait_valid NAME ROWS [SECONDS]: poll until valid.
wait_valid() {
    local end=$((SECONDS + ${3:-5}))
    until valid "$1" "$2"; do
        [ $SECONDS -ge "$end" ] && return 1
        sleep 0.1
    done
}

# ---- A: UTF-8, 100x30, no save question ----
start A 100 30 "LANG=C.UTF-8 LC_ALL=C.UTF-8" \
    --preset nano --steps 5000 --threads 1 --out "'$d/runA'" --no-save-prompt
check A ' RUNNING .*step [1-9][0-9]*/5000' "status line: RUNNING, step / total" 60
if wait_for A '┤' 10 && LC_ALL=C grep -q $'\xe2[\xa0-\xa3]' "$d/screen.txt"; then
    ok 0 "loss chart drawn with braille dots"
else
    ok 1 "loss chart drawn with braille dots"; sed 's/^/#   |/' "$d/screen.txt"
fi
check A '┤' "chart has a y axis with labels"
check A 'loss .*val [0-9]' "chart title shows train and validation loss" 20
check A 'layer +zeros .*prec +flip' "sparsity bars: header"
check A 'L0 +█.*[0-9.]+% tern' "sparsity bars: block L0, ternary"

type_line A "pause"
check A ' PAUSED .*step' "pause: the status line says PAUSED"
check A '^paused at step [0-9]+' "pause: its answer in the output pane"
check A 'F2Resume' "paused: F2 offers Resume"

type_line A 'gen "Once upon a time" n=40 seed=3'
check A '^Once upon a time' "gen: the prompt starts the streamed text in the output pane"
check A '^\[40 tokens in' "gen: all 40 tokens streamed, then its summary line"

type_line A "precision L0.* fp32"
check A 'L0 +[█▉▊▋▌▍▎▏ ]*[0-9.]+% fp32' "precision L0.* fp32: the L0 bar says fp32"
screen A -e > "$d/colour.txt"
l0=$(grep -a ' L0 ' "$d/colour.txt" | head -1)
l1=$(grep -a ' L1 ' "$d/colour.txt" | head -1)
case "$l0$l1" in
    *$'\033[35mfp32'*$'\033[36m'*tern*)
        ok 0 "precision colours: L0 in the fp32 colour (magenta), L1 ternary (cyan)" ;;
    *) ok 1 "precision colours: L0 in the fp32 colour (magenta), L1 ternary (cyan)"
       printf '# %s\n# %s\n' "$l0" "$l1" | cat -v ;;
esac
check A 'L1 +[█▉▊▋▌▍▎▏ ]*[0-9.]+% tern' "L1 stays ternary"

$T send-keys -t A -l "insp"
$T send-keys -t A Tab
check A '^tlm> inspect' "Tab completes a command name"
$T send-keys -t A -l "L0.attn."
check A '^tlm> inspect L0\.attn\.$' "... and adds the blank after it"
$T send-keys -t A Tab
check A 'L0\.attn\.k +L0\.attn\.o +L0\.attn\.q +L0\.attn\.v' "Tab lists the layer names"
$T send-keys -t A C-u

$T send-keys -t A F5
check A 'loss  train' "F5: the chart view (full width)"
$T send-keys -t A F5
check A ' L0\.mlp\.down +[█▉▊▋▌▍▎▏ ]' "F5: the layers view lists every linear"
$T send-keys -t A F5
check A '^L0\.attn\.q +64x64 +fp32' "F5: the inspector shows L0.attn.q"
check A '^latent weights: ' "inspector: the inspect answer (latent weights)" 10
$T send-keys -t A F5
check A 'layer +zeros' "F5: back to the main view"

type_line A "resume"
check A ' RUNNING ' "resume: RUNNING again"

$T resize-window -t A -x 80 -y 24
if wait_valid A 24; then
    ok 0 "resized to 80x24: a whole frame"
else
    ok 1 "resized to 80x24: a whole frame"; sed 's/^/#   |/' "$d/screen.txt"
fi
$T resize-window -t A -x 70 -y 20
check A 'too small: tlm needs 80x24' "70x20: a clear message instead of the panes"
$T resize-window -t A -x 100 -y 30
if wait_valid A 30 && grep -q '┤' "$d/screen.txt" && grep -q 'layer  *zeros' "$d/screen.txt"; then
    ok 0 "back to 100x30: chart, bars and prompt again"
else
    ok 1 "back to 100x30: chart, bars and prompt again"; sed 's/^/#   |/' "$d/screen.txt"
fi

type_line A "quit"
check A '^tlm ui: stopped at step [0-9]+' "quit: it ends (no question with --no-save-prompt)"
exited A
ok $? "quit: exit status 0"
! screen A | grep -q 'F10Quit'
ok $? "quit: the workbench's screen is gone (alternate screen left)"
grep -q ' icanon' "$d/A.stty" && grep -q ' echo ' "$d/A.stty"
ok $? "quit: the terminal is back in canonical mode with echo"
grep -q '^pause$' "$d/history" && grep -q '^gen "Once upon a time"' "$d/history"
ok $? "the history file keeps the command lines"
[ ! -s "$d/A.err" ]
ok $? "nothing written to stderr"

# ---- B: xterm-256color, C locale (ASCII), the save question ----
start B 80 24 "LANG=C LC_ALL=C TERM=xterm-256color" \
    --preset nano --steps 5000 --threads 1 --out "'$d/runB'"
check B ' RUNNING ' "xterm-256color, C locale: the workbench starts" 60
check B '^ +\+-{5,}\+' "C locale: ASCII chart axes"
check B 'L0 +#+\.*' "C locale: ASCII bars"
$T send-keys -t B C-c
check B 'Save a checkpoint before quitting\?' "Ctrl-C while training asks whether to save"
$T send-keys -t B Escape
check B '^tlm>' "Esc: no quitting, the prompt is back"
type_line B "quit"
check B 'Save a checkpoint before quitting\?' "quit asks too"
$T send-keys -t B y
check B '^tlm ui: saved .*step-[0-9]+\.tlmc' "y: saved, then quit" 20
exited B && ls "$d"/runB/step-*.tlmc > /dev/null 2>&1
ok $? "the checkpoint is on disk and the exit status is 0"

# hangup NAME: close NAME's terminal (kill the tmux session); prints tlm's
# pid and returns 0 when tlm is gone within 20 s.
hangup() {
    local pid end
    pid=$(pgrep -P "$($T display -p -t "$1" '#{pane_pid}')" -x tlm)
    echo "$pid"
    $T kill-session -t "$1"
    end=$((SECONDS + 20))
    while [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null && [ $SECONDS -lt "$end" ]; do
        sleep 0.1
    done
    [ -n "$pid" ] && ! kill -0 "$pid" 2> /dev/null
}

# ---- C, D: the terminal goes away while training ----
start C 80 24 "LANG=C.UTF-8 LC_ALL=C.UTF-8" --preset nano --steps 5000 --threads 1 --out "'$d/runC'"
check C ' RUNNING .*step [1-9]' "C: training" 60
if pid=$(hangup C) && ls "$d"/runC/step-*.tlmc > /dev/null 2>&1; then
    ok 0 "a closed terminal (hangup): the run is saved and tlm exits"
else
    ok 1 "a closed terminal (hangup): the run is saved and tlm exits"
    kill -9 $pid 2> /dev/null
fi
start D 80 24 "LANG=C.UTF-8 LC_ALL=C.UTF-8" --preset nano --steps 5000 --threads 1 --out "'$d/runD/x'"
check D ' RUNNING .*step [1-9]' "D: training" 60
rm -rf "$d/runD"
if pid=$(hangup D); then
    ok 0 "a hangup when the save fails (folder gone): tlm still exits"
else
    ok 1 "a hangup when the save fails (folder gone): tlm still exits"
    kill -9 $pid 2> /dev/null
fi

tap_done
