# tests/cli_plot.sh — `charrnn plot`: usage errors, the SVG of a log, a file that is not a log.
# Sourced by test.sh; its cli_run runs the tests, which see its variables: W (work directory), M, Z, B (the files of
# the fixtures small, zh, bytes), small (options of a small model). Each test makes the files it needs with
# `fixture NAME` (built once per W). cr/expect/check/fixture are defined in test.sh.

# bad arguments
cli_plot_usage() {
    cr plot; expect "plot without a log" 2 "charrnn plot: expected one LOG file"
}

# the log of the small model's run
cli_plot_run() {
    fixture small
    cr plot "$W/log.csv"; expect "plot" 0
    check "plot writes an SVG with both curves and a legend" bash -c "grep -q '<svg' '$TMP/out' && grep -v 'class=\"lr\"' '$TMP/out' | grep -c '<polyline' | grep -qx 2 && grep -q validation '$TMP/out' && tail -n1 '$TMP/out' | grep -q '</svg>'"
    local best
    best=$(awk -F, 'NR > 1 && $4 != "" && (b == "" || $4 < b) { b = $4; s = $1 } END { printf "%.4f at step %d", b, s }' "$W/log.csv")
    check "plot marks the best validation point ($best)" bash -c "grep -c 'class=\"best\"' '$TMP/out' | grep -qx 1 && grep -q '<title>best validation: $best</title>' '$TMP/out' && grep -q '>best: $best<' '$TMP/out'"
    # a resumed run (a row without train_loss starts it) and a step going back break the training curve
    printf '%s\n' step,seconds,train_loss,val_loss,lr,chars_per_sec 0,0,,,0.002,0 1,0.1,4.5,,0.002,9 10,1,3.0,2.9,0.002,9 \
        10,1,,,0.002,0 11,1.1,3.9,,0.002,9 20,2,2.5,2.4,0.002,9 5,2.5,3.5,,0.002,9 8,2.6,3.4,2.6,0.002,9 >"$W/runs.csv"
    cr plot "$W/runs.csv"; expect "plot of a log with three runs" 0
    check "the training curve breaks at each new run: 3 training lines + 1 validation line" test "$(grep -c '<polyline' "$TMP/out")" -eq 4
    check "a constant learning rate is not drawn" bash -c "! grep -q 'learning rate' '$TMP/out'"
    printf '%s\n' step,seconds,train_loss,val_loss,lr,chars_per_sec 0,0,,,0.002,0 1,0.1,4.5,,0.002,9 10,1,3.0,2.9,0.001,9 \
        20,2,2.5,2.4,0.0005,9 >"$W/lr.csv"
    cr plot "$W/lr.csv"; expect "plot of a log with a decaying lr" 0
    check "a changing learning rate is drawn on a right axis from 0 to 0.002, with a legend entry" bash -c "grep -q '<polyline class=\"lr\" .* points=\"70.0,40.0 [0-9.]*,240.0 750.0,340.0 \"/>' '$TMP/out' && grep -q '>0.002</text>' '$TMP/out' && grep -q '>learning rate (right axis)<' '$TMP/out'"
    check "the best point is the lowest validation loss (2.4 at step 20)" grep -q '<title>best validation: 2.4000 at step 20</title>' "$TMP/out"
    head -n 4 "$W/runs.csv" >"$W/run1.csv"
    cr plot "$W/run1.csv"; expect "plot of one run with its start row" 0
    check "one run: one training line, one validation line" test "$(grep -c '<polyline' "$TMP/out")" -eq 2
    # empty input says so
    : >"$W/empty.csv"
    cr plot "$W/empty.csv"; expect "plot of an empty file" 1 "charrnn: '$W/empty.csv' is empty"
    cr plot - </dev/null; expect "plot of empty standard input" 1 "charrnn: standard input is empty"
    cr plot - <"$W/log.csv"; expect "plot from standard input" 0
    echo "hello" >"$W/notlog.csv"
    cr plot "$W/notlog.csv"; expect "plot of a non-log" 1 "charrnn: '$W/notlog.csv' is not a charrnn training log (its first line is not 'step,seconds,train_loss,val_loss,lr,chars_per_sec')"
}
